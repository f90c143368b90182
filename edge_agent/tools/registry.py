"""The tool registry: what the model may call, checked and timed, answered with short JSON.

The registry owns the contract with the conversation: `specs()` is the Realtime
``session.update`` ``tools`` list, and `call()` turns one ``function_call`` (name + arguments
JSON) into one ``function_call_output`` string. `call()` never raises: bad JSON, unknown tools,
arguments failing the schema, timeouts, `ToolError`s and bugs all become
``{"ok":false,"error":CODE,"detail":...}``. It does no I/O of its own apart from awaiting the
handlers; time comes from the injected clock. Every call is logged once with TOOL, DEVICE,
LATENCY_MS, ERROR_CODE and OUTCOME; arguments and results are not logged (they may hold memories),
and known secrets are scrubbed from results as a last line of defence. Results are encoded with
``allow_nan=False``: no result ever carries NaN or Infinity (a handler that returns one gets
``bad_result``).

Consent hooks for the conversation (the turn core calls them; the model cannot):
`new_user_turn()` when the user starts speaking, `wants_user_transcript()` to know whether the
next user turn must be transcribed (a confirmation waits for its answer), and
`user_transcript(text)` with the transcript of that turn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import fastjsonschema

from edge_agent.errors import ToolError

__all__ = ["MAX_RESULT_CHARS", "Tool", "ToolFailure", "ToolRegistry", "error_result"]

log = logging.getLogger(__name__)

MAX_RESULT_CHARS: Final = 6000
"""A result longer than this is replaced by an error: the model pays for every token."""

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Tool:
    """One function the model can call.

    `handler` gets the validated arguments and returns a JSON-able dict (``ok`` is added when
    missing); it reports failures by raising `ToolError(code, detail)`.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    handler: Handler
    timeout_s: float = 4.0
    validate: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled once: validation is a plain function call per tool call.
        object.__setattr__(self, "validate", fastjsonschema.compile(dict(self.parameters)))

    def spec(self) -> dict[str, Any]:
        """The Realtime ``session.update`` entry for this tool."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": dict(self.parameters),
        }


class ToolFailure(ToolError):
    """A `ToolError` carrying extra result fields (``device``, ``candidates``, ``confirmation_id``)."""

    def __init__(self, code: str, detail: str = "", **extra: Any) -> None:
        super().__init__(code, detail)
        self.extra = extra


def error_result(code: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    """The structured failure every tool returns: ``{"ok": false, "error": code, ...}``."""
    out: dict[str, Any] = {"ok": False, "error": code}
    if detail:
        out["detail"] = detail
    out.update(extra)
    return out


class ToolRegistry:
    """The set of tools offered to one daemon, with the hooks the conversation calls."""

    def __init__(
        self,
        tools: Iterable[Tool] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        secrets: Iterable[str] = (),
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self._clock = clock
        self._secrets = tuple(s for s in secrets if len(s) >= 4)
        self._turn_listeners: list[Callable[[], None]] = []
        self._transcript_listeners: list[Callable[[str], None]] = []
        self._transcript_wanted: list[Callable[[], bool]] = []
        self._instructions: list[Callable[[], str]] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._starters: list[Callable[[], Awaitable[None]]] = []
        self._change_listeners: list[Callable[[], None]] = []
        for tool in tools:
            self.add(tool)

    # -- building ------------------------------------------------------------------------------
    def add(self, tool: Tool) -> None:
        """Offer `tool`; names are unique."""
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def remove(self, name: str) -> None:
        """Stop offering tool `name` (a tool source's list changed); unknown names are ignored."""
        self._tools.pop(name, None)

    def on_start(self, starter: Callable[[], Awaitable[None]]) -> None:
        """Connect a tool source (an MCP server) in `start`; it must return within seconds."""
        self._starters.append(starter)

    async def start(self) -> None:
        """Connect the tool sources: call once after building, before the first session.

        Side by side: each waits a few seconds for its first answer, so two sources that are
        down at boot (Home Assistant starts after the speaker) must not add up before READY."""
        await asyncio.gather(*(starter() for starter in self._starters))

    def on_tools_changed(self, listener: Callable[[], None]) -> None:
        """Call `listener` when a source's tools change (a new session must get `specs()`)."""
        self._change_listeners.append(listener)

    def tools_changed(self) -> None:
        """A source added or removed tools after start (MCP ``tools/list_changed``)."""
        for listener in self._change_listeners:
            listener()

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Values that must never appear in a result (device passwords, tokens)."""
        self._secrets += tuple(s for s in secrets if len(s) >= 4)

    def on_new_user_turn(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever the user starts speaking a new turn."""
        self._turn_listeners.append(listener)

    def on_user_transcript(
        self, listener: Callable[[str], None], wanted: Callable[[], bool]
    ) -> None:
        """Call `listener` with each user turn's transcript; `wanted` says when one is needed."""
        self._transcript_listeners.append(listener)
        self._transcript_wanted.append(wanted)

    def add_instructions(self, provider: Callable[[], str]) -> None:
        """Text for new sessions' instructions (e.g. remembered facts), read per session."""
        self._instructions.append(provider)

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Release a resource the tools hold (drivers, the memory store) in `aclose`."""
        self._closers.append(closer)

    async def aclose(self) -> None:
        for closer in reversed(self._closers):
            await closer()

    # -- what the conversation uses -------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        """The ``tools`` list of ``session.update``."""
        return [tool.spec() for tool in self._tools.values()]

    def instructions(self) -> str:
        """Extra instructions for a new session ("" when there is nothing to add)."""
        return "\n\n".join(text for text in (p() for p in self._instructions) if text)

    def new_user_turn(self) -> None:
        """The daemon saw a new user speech turn (not something the model can claim)."""
        for listener in self._turn_listeners:
            listener()

    def wants_user_transcript(self) -> bool:
        """Whether the next user turn must be transcribed (a confirmation waits for a yes).

        The conversation turns input transcription on for the next user turn while this is
        True, and off again once it is False (transcription is billed per minute of audio).
        """
        return any(wanted() for wanted in self._transcript_wanted)

    def user_transcript(self, text: str) -> None:
        """The transcript of the first user turn after a confirmation request (daemon only)."""
        for listener in self._transcript_listeners:
            listener(text)

    async def call(self, name: str, arguments_json: str, *, turn_id: str | None = None) -> str:
        """Run tool `name` with `arguments_json`; always returns a short JSON string."""
        start = self._clock()
        args: dict[str, Any] = {}
        tool = self._tools.get(name)
        try:
            if tool is None:
                raise ToolError("unknown_tool", f"no tool named {name[:40]!r}")
            args = _parse_args(arguments_json)
            args = tool.validate(args)
            async with asyncio.timeout(tool.timeout_s):
                result = dict(await tool.handler(args))
            result.setdefault("ok", True)
        except ToolError as exc:
            result = error_result(exc.code, exc.detail, **getattr(exc, "extra", {}))
        except TimeoutError:
            timeout_s = tool.timeout_s if tool else 0.0
            result = error_result("timeout", f"no answer in {timeout_s:g} s; outcome unknown")
        except fastjsonschema.JsonSchemaException as exc:
            result = error_result("bad_arguments", _short(str(exc), 160))
        except Exception as exc:  # a bug in a handler must not end the conversation
            log.exception("tool %s crashed", name, extra={"TOOL": name})
            result = error_result("internal_error", exc.__class__.__name__)
        text = self._encode(result)
        self._log(name, args, result, self._clock() - start, turn_id)
        return text

    # -- internals -----------------------------------------------------------------------------
    def _encode(self, result: dict[str, Any]) -> str:
        try:
            text = json.dumps(
                result, separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False
            )
        except ValueError:  # NaN or Infinity: never hand the model a non-JSON number
            text = json.dumps(error_result("bad_result", "a value was not a finite number"))
        if len(text) > MAX_RESULT_CHARS:
            text = json.dumps(error_result("result_too_large", "narrow the request"))
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def _log(
        self,
        name: str,
        args: dict[str, Any],
        result: dict[str, Any],
        elapsed_s: float,
        turn_id: str | None,
    ) -> None:
        ok = bool(result.get("ok"))
        device = result.get("device") or args.get("device") or args.get("area") or ""
        fields: dict[str, Any] = {
            "TOOL": name,
            "DEVICE": _short(str(device), 60),
            "LATENCY_MS": round(elapsed_s * 1000),
            "OUTCOME": "ok" if ok else "error",
        }
        if turn_id:
            fields["TURN_ID"] = turn_id
        if not ok:
            fields["ERROR_CODE"] = str(result.get("error"))
        log.info(
            "tool %s %s in %d ms%s",
            name,
            fields["OUTCOME"],
            fields["LATENCY_MS"],
            f" ({fields['ERROR_CODE']})" if not ok else "",
            extra=fields,
        )


def _parse_args(arguments_json: str) -> dict[str, Any]:
    try:
        args = json.loads(arguments_json or "{}")
    except (ValueError, TypeError):
        raise ToolError("bad_arguments", "arguments are not valid JSON") from None
    if not isinstance(args, dict):
        raise ToolError("bad_arguments", "arguments must be a JSON object")
    return args


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
