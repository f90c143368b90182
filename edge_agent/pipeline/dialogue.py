"""The dialogue component: Realtime client events in, state events and reply audio out.

Owns the client's event stream and maps it: server VAD ``speech_started``/``speech_stopped`` →
SpeechStarted/SpeechStopped, the first audio delta of a response → ReplyStarted (after writing
it to the speaker: reply audio plays as it arrives), a finished response with nothing pending
and its audio played out → ReplyDone; function calls run concurrently through the
`ToolRegistry` and their outputs go back (the client sends the one ``response.create``);
a lost connection during a turn → Failure("network"); a fatal refusal → `on_fatal` (exit 78).
It carries out TruncateReply/CancelResponse with the milliseconds of the current item that were
really played (the speaker's counter, not the bytes received), and drops late audio of a
response it cancelled. After a failure (or a drop while idle) the client is closed: nothing
reconnects in the background, the next wake connects again.
Must not: decide transitions (`states.py`) or Realtime rules (`realtime.conversation`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Final

from edge_agent.errors import EdgeAgentError
from edge_agent.pipeline.speaker import Speaker
from edge_agent.pipeline.turnlog import ToolCall, TurnLog
from edge_agent.realtime import protocol as p
from edge_agent.realtime.client import Connected, ConnectionLost, Fatal, RealtimeClient
from edge_agent.states import (
    Action,
    CancelResponse,
    Event,
    Failure,
    ReplyDone,
    ReplyStarted,
    SpeechStarted,
    SpeechStopped,
    State,
    StopPlayback,
    TruncateReply,
)
from edge_agent.tools.registry import ToolRegistry

__all__ = ["Dialogue"]

log = logging.getLogger(__name__)

_IN_TURN: Final = frozenset({State.LISTENING, State.THINKING, State.SPEAKING})
_SAMPLES_PER_MS: Final = 24


class Dialogue:
    """Runs the conversation side of a turn as an App component."""

    name = "dialogue"

    def __init__(
        self,
        client: RealtimeClient,
        speaker: Speaker,
        turns: TurnLog,
        *,
        registry: ToolRegistry | None = None,
        on_fatal: Callable[[EdgeAgentError], None] = lambda exc: None,
    ) -> None:
        self.client = client
        self.speaker = speaker
        self.registry = registry
        self.turns = turns
        self._on_fatal = on_fatal
        self._post: Callable[[Event], None] = lambda e: None
        self._state = State.IDLE
        self._pump: asyncio.Task[None] | None = None
        self._tools: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._dropped: set[str] = set()  # response ids whose audio must not play
        self._started: set[str] = set()  # response ids that posted ReplyStarted
        self._item_id = ""
        self._item_start = 0  # speaker write position of the current item's first sample
        self._gen = 0  # bumped by barge-in/stop: a pending "played out" check is stale

    async def start(self, post: Callable[[Event], None]) -> None:
        self._post = post
        self._pump = asyncio.create_task(self._read_events(), name="dialogue-events")

    def handle(self, state: State, actions: Sequence[Action]) -> None:
        self._state = state
        kinds = {type(a) for a in actions}
        if TruncateReply in kinds or CancelResponse in kinds:
            self._interrupt()
        elif StopPlayback in kinds:
            self._gen += 1
        if state is State.ERROR:
            self._spawn(self.client.aclose())  # stop reconnecting; the next wake connects

    def is_healthy(self) -> bool:
        return self._pump is not None and not self._pump.done()

    async def aclose(self) -> None:
        tasks = [t for t in (self._pump, *self._tools, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.aclose()

    # -- client events --------------------------------------------------------------------------
    async def _read_events(self) -> None:
        async for event in self.client:
            try:
                self._on_event(event)
            except Exception:
                log.exception("handling %s failed", type(event).__name__)

    def _on_event(self, ev: object) -> None:
        now = asyncio.get_running_loop().time()
        record = self.turns.current
        match ev:
            case p.AudioDelta():
                self._on_audio(ev, now)
            case p.SpeechStarted():
                if self.registry is not None:
                    self.registry.new_user_turn()
                self._post(SpeechStarted())
            case p.SpeechStopped():
                if record is not None:
                    record.mark_speech_stopped(now)
                self._post(SpeechStopped())
            case p.FunctionCallDone():
                task = asyncio.create_task(self._call_tool(ev), name=f"tool-{ev.name}")
                self._tools.add(task)
            case p.ResponseDone(response_id=rid):
                if rid in self._dropped:
                    self._dropped.discard(rid)
                    return
                self._check_done()
            case Connected():
                log.debug("realtime connected (session %s)", ev.session_id)
            case ConnectionLost():
                self._on_connection_lost(ev)
            case Fatal():
                self._on_fatal(ev.error)

    def _on_audio(self, ev: p.AudioDelta, now: float) -> None:
        if ev.response_id in self._dropped or self._state not in _IN_TURN:
            return
        at = self.speaker.write_reply(ev.pcm)
        if ev.item_id != self._item_id:
            self._item_id, self._item_start = ev.item_id, at
        record = self.turns.current
        if record is not None:
            record.mark_reply_audio(len(ev.pcm) // 2, now)
        if ev.response_id not in self._started:
            if len(self._started) > 32:
                self._started.clear()
            self._started.add(ev.response_id)
            self._post(ReplyStarted())

    def _on_connection_lost(self, ev: ConnectionLost) -> None:
        log.warning("realtime connection lost: %s", ev.reason, extra={"ERROR_CODE": "network"})
        self._drop_active()
        if self._state in _IN_TURN:
            self._post(Failure("network"))
        else:
            self._spawn(self.client.aclose())  # a warm session dropped while idle: reconnect lazily

    # -- tools ----------------------------------------------------------------------------------
    async def _call_tool(self, ev: p.FunctionCallDone) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        record = self.turns.current
        try:
            if self.registry is None:
                output = json.dumps({"ok": False, "error": "unknown_tool", "tool": ev.name})
            else:
                turn_id = record.turn_id if record else None
                output = await self.registry.call(ev.name, ev.arguments_json, turn_id=turn_id)
        finally:
            self._tools.discard(asyncio.current_task())  # type: ignore[arg-type]
        if record is not None:
            ms = round((loop.time() - started) * 1000)
            record.tools.append(ToolCall(ev.name, _is_ok(output), ms))
        self.client.send_function_output(ev.call_id, output)
        self._check_done()

    # -- end of reply and interruptions ---------------------------------------------------------
    def _check_done(self) -> None:
        """Nothing active or pending: once the audio has played out, the reply is done."""
        if self._tools or not self.client.conversation.is_idle:
            return
        self._spawn(self._finish(self._gen))

    async def _finish(self, gen: int) -> None:
        await self.speaker.playback.drain()
        if gen == self._gen and self._tools == set() and self.client.conversation.is_idle:
            self._post(ReplyDone())

    def _interrupt(self) -> None:
        """Barge-in, cancel, timeout: truncate at what was played, cancel, drop late audio."""
        self._gen += 1
        played_ms = None
        if self._item_id:
            played_ms = self.speaker.played_since(self._item_start) // _SAMPLES_PER_MS
            self._item_id = ""
        self._drop_active()
        for task in self._tools:
            task.cancel()
        self._tools.clear()
        self.client.barge_in(played_ms)
        if played_ms is not None:
            log.info("reply interrupted after %d ms played", played_ms)

    def _drop_active(self) -> None:
        rid = self.client.conversation.active_response_id
        if rid:
            self._dropped.add(rid)
        self._started.clear()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _is_ok(output: str) -> bool:
    try:
        result = json.loads(output)
    except ValueError:
        return False
    return isinstance(result, dict) and result.get("ok", "error" not in result) is not False
