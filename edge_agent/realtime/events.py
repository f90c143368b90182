"""Realtime API (GA) server events, sans-I/O: frames in, small frozen dataclasses out.

Parsed: ``session.created/.updated``,
``input_audio_buffer.speech_started/.speech_stopped/.committed/.cleared/.timeout_triggered``,
``conversation.item.input_audio_transcription.completed``, ``conversation.item.truncated``,
``response.created``, ``response.output_item.added``, ``response.output_audio.delta/.done``,
``response.output_audio_transcript.delta/.done``, ``response.function_call_arguments.done``,
``response.done``, ``rate_limits.updated``, ``error``. Everything else is ignored (debug log);
Everything from the socket is hostile: malformed JSON, nesting deep enough to overflow the
stack, NaN/Infinity, wrong types anywhere, ids or texts beyond their caps, garbled or
odd-length base64 audio (int16 samples cannot be split) are logged (one truncated line, never
the payload) and dropped: `parse_server_event` never raises and never returns a half-built
event. Audio deltas are decoded from base64 here, once.
"""

from __future__ import annotations

import binascii
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from edge_agent.tools.sanitize import finite_number

__all__ = [
    "FATAL_CODES",
    "MAX_ARGUMENTS_CHARS",
    "MAX_ID_CHARS",
    "MAX_TEXT_CHARS",
    "AudioDelta",
    "AudioDone",
    "FunctionCallDone",
    "InputCleared",
    "InputCommitted",
    "InputTimeout",
    "ItemTruncated",
    "OutputItemAdded",
    "RateLimits",
    "ResponseCreated",
    "ResponseDone",
    "ServerError",
    "ServerEvent",
    "SessionCreated",
    "SessionUpdated",
    "SpeechStarted",
    "SpeechStopped",
    "TranscriptDelta",
    "TranscriptDone",
    "Usage",
    "UserTranscript",
    "is_fatal_code",
    "parse_server_event",
]

log = logging.getLogger(__name__)

#: error codes a retry cannot fix (realtime-protocol.md §6)
FATAL_CODES: Final = frozenset(
    {"invalid_api_key", "model_not_found", "insufficient_quota", "beta_api_shape_disabled"}
)
_MAX_LOG_CHARS: Final = 200
#: caps on what one event may carry; longer values make the frame malformed
MAX_ID_CHARS: Final = 256  # item/response/call/session ids
MAX_TEXT_CHARS: Final = 64 * 1024  # transcript deltas and whole transcripts
MAX_ARGUMENTS_CHARS: Final = 256 * 1024  # one tool call's JSON arguments
MAX_MS: Final = 2**40  # offsets in ms; a sane session is under 2**23
#: keys and client secrets a server message may echo ("Incorrect API key provided: sk-...")
_KEY_RE: Final = re.compile(r"\b(?:sk|ek)[-_][A-Za-z0-9_*\-]{4,}")


def is_fatal_code(code: str | None) -> bool:
    """True for error codes that make reconnecting pointless (bad key, model, quota)."""
    return code in FATAL_CODES


@dataclass(frozen=True, slots=True)
class SessionCreated:
    session_id: str
    model: str


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    session_id: str


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputCommitted:
    item_id: str


@dataclass(frozen=True, slots=True)
class InputCleared:
    pass


@dataclass(frozen=True, slots=True)
class InputTimeout:
    item_id: str


@dataclass(frozen=True, slots=True)
class UserTranscript:
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str


@dataclass(frozen=True, slots=True)
class OutputItemAdded:
    response_id: str
    item_id: str
    item_type: str  # "message" | "function_call" | ...


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """Reply audio: raw 24 kHz int16 mono PCM, already decoded from base64."""

    response_id: str
    item_id: str
    pcm: bytes


@dataclass(frozen=True, slots=True)
class AudioDone:
    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class TranscriptDone:
    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCallDone:
    """The model asks for a tool; `arguments` is None when its JSON did not parse."""

    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments_json: str
    arguments: Mapping[str, object] | None


@dataclass(frozen=True, slots=True)
class Usage:
    """``response.done`` usage: what the service bills for one response (all token counts).

    ``cached_tokens`` is part of ``input_tokens`` (billed at the cached rate);
    ``cached_text_tokens + cached_audio_tokens == cached_tokens`` when the service details it.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    cached_tokens: int = 0
    cached_text_tokens: int = 0
    cached_audio_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ResponseDone:
    response_id: str
    status: str  # completed | cancelled | incomplete | failed
    reason: str  # status_details.reason or error code, "" when none
    usage: Usage
    call_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class RateLimits:
    limits: tuple[tuple[str, int, int], ...]  # (name, remaining, limit)


@dataclass(frozen=True, slots=True)
class ServerError:
    code: str
    message: str
    error_type: str
    event_id: str  # our event_id that caused it, "" when none

    @property
    def is_fatal(self) -> bool:
        return is_fatal_code(self.code)


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | SpeechStarted
    | SpeechStopped
    | InputCommitted
    | InputCleared
    | InputTimeout
    | UserTranscript
    | ResponseCreated
    | OutputItemAdded
    | AudioDelta
    | AudioDone
    | TranscriptDelta
    | TranscriptDone
    | FunctionCallDone
    | ResponseDone
    | ItemTruncated
    | RateLimits
    | ServerError
)


class _Malformed(Exception):
    """A field is missing or has the wrong type (internal to the parser)."""


def _str(d: Mapping[str, object], key: str, cap: int = MAX_ID_CHARS) -> str:
    v = d.get(key)
    if not isinstance(v, str) or len(v) > cap:
        raise _Malformed(key)
    return v


def _opt_str(d: Mapping[str, object], key: str, cap: int = MAX_ID_CHARS) -> str:
    """The string at `key`, "" when absent or not a string; too long is malformed."""
    v = d.get(key)
    if not isinstance(v, str):
        return ""
    if len(v) > cap:
        raise _Malformed(key)
    return v


def _int(d: Mapping[str, object], key: str) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_MS:
        raise _Malformed(key)
    return v


def _count(d: Mapping[str, object], key: str) -> int:
    """A non-negative count that may arrive as a float; absent is 0, NaN/huge is malformed."""
    v = finite_number(d.get(key))
    if v is None:
        if key in d:
            raise _Malformed(key)
        return 0
    if not 0 <= v <= MAX_MS:
        raise _Malformed(key)
    return int(v)


def _dict(d: Mapping[str, object], key: str) -> Mapping[str, object]:
    v = d.get(key)
    if not isinstance(v, dict):
        raise _Malformed(key)
    return v


def _usage(raw: object) -> Usage:
    if not isinstance(raw, dict):
        return Usage()

    def n(d: object, key: str) -> int:
        v = d.get(key) if isinstance(d, dict) else None
        ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_MS
        return v if ok else 0  # type: ignore[return-value]

    inp, out = raw.get("input_token_details"), raw.get("output_token_details")
    cached = inp.get("cached_tokens_details") if isinstance(inp, dict) else None
    return Usage(
        input_tokens=n(raw, "input_tokens"),
        output_tokens=n(raw, "output_tokens"),
        total_tokens=n(raw, "total_tokens"),
        input_text_tokens=n(inp, "text_tokens"),
        input_audio_tokens=n(inp, "audio_tokens"),
        cached_tokens=n(inp, "cached_tokens"),
        cached_text_tokens=n(cached, "text_tokens"),
        cached_audio_tokens=n(cached, "audio_tokens"),
        output_text_tokens=n(out, "text_tokens"),
        output_audio_tokens=n(out, "audio_tokens"),
    )


def _response_done(d: Mapping[str, object]) -> ResponseDone:
    resp = _dict(d, "response")
    details = resp.get("status_details")
    reason = ""
    if isinstance(details, dict):
        reason = _opt_str(details, "reason")
        err = details.get("error")
        if isinstance(err, dict):
            reason = _opt_str(err, "code") or _opt_str(err, "type") or reason
    output = resp.get("output")
    calls = tuple(
        _str(o, "call_id")  # a call we cannot name makes the frame malformed, not shorter
        for o in (output if isinstance(output, list) else ())
        if isinstance(o, dict) and o.get("type") == "function_call"
    )
    return ResponseDone(
        _str(resp, "id"),
        _opt_str(resp, "status") or "completed",
        reason,
        _usage(resp.get("usage")),
        calls,
    )


def _function_call(d: Mapping[str, object]) -> FunctionCallDone:
    args_json = _str(d, "arguments", MAX_ARGUMENTS_CHARS)
    try:
        args = json.loads(args_json, parse_constant=_reject_constant) if args_json else {}
    except (ValueError, RecursionError):
        args = None
    return FunctionCallDone(
        _str(d, "response_id"),
        _str(d, "item_id"),
        _str(d, "call_id"),
        _opt_str(d, "name"),
        args_json,
        args if isinstance(args, dict) else None,
    )


def _error(d: Mapping[str, object]) -> ServerError:
    err = _dict(d, "error")
    return ServerError(
        _opt_str(err, "code") or _opt_str(err, "type") or "unknown",
        _KEY_RE.sub("***", _opt_str(err, "message", MAX_TEXT_CHARS))[:_MAX_LOG_CHARS],
        _opt_str(err, "type"),
        _opt_str(err, "event_id"),
    )


def _rate_limits(d: Mapping[str, object]) -> RateLimits:
    raw = d.get("rate_limits")
    out = []
    for r in raw if isinstance(raw, list) else ():
        if isinstance(r, dict):
            out.append((_opt_str(r, "name"), _count(r, "remaining"), _count(r, "limit")))
    return RateLimits(tuple(out))


def _audio_delta(d: Mapping[str, object]) -> AudioDelta:
    delta = d.get("delta")
    if not isinstance(delta, str):
        raise _Malformed("delta")
    try:
        pcm = binascii.a2b_base64(delta, strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text
        raise _Malformed("delta (not base64)") from exc
    if len(pcm) % 2:
        raise _Malformed("delta (odd length: not whole int16 samples)")
    return AudioDelta(_str(d, "response_id"), _str(d, "item_id"), pcm)


_PARSERS: Final[dict[str, Callable[[Mapping[str, object]], ServerEvent]]] = {
    "session.created": lambda d: SessionCreated(
        _opt_str(_dict(d, "session"), "id"), _opt_str(_dict(d, "session"), "model")
    ),
    "session.updated": lambda d: SessionUpdated(_opt_str(_dict(d, "session"), "id")),
    "input_audio_buffer.speech_started": lambda d: SpeechStarted(
        _str(d, "item_id"), _int(d, "audio_start_ms")
    ),
    "input_audio_buffer.speech_stopped": lambda d: SpeechStopped(
        _str(d, "item_id"), _int(d, "audio_end_ms")
    ),
    "input_audio_buffer.committed": lambda d: InputCommitted(_str(d, "item_id")),
    "input_audio_buffer.cleared": lambda d: InputCleared(),
    "input_audio_buffer.timeout_triggered": lambda d: InputTimeout(_str(d, "item_id")),
    "conversation.item.input_audio_transcription.completed": lambda d: UserTranscript(
        _str(d, "item_id"), _str(d, "transcript", MAX_TEXT_CHARS)
    ),
    "conversation.item.truncated": lambda d: ItemTruncated(
        _str(d, "item_id"), _int(d, "audio_end_ms")
    ),
    "response.created": lambda d: ResponseCreated(_str(_dict(d, "response"), "id")),
    "response.output_item.added": lambda d: OutputItemAdded(
        _str(d, "response_id"), _str(_dict(d, "item"), "id"), _str(_dict(d, "item"), "type")
    ),
    "response.output_audio.delta": _audio_delta,
    "response.output_audio.done": lambda d: AudioDone(_str(d, "response_id"), _str(d, "item_id")),
    "response.output_audio_transcript.delta": lambda d: TranscriptDelta(
        _str(d, "response_id"), _str(d, "item_id"), _str(d, "delta", MAX_TEXT_CHARS)
    ),
    "response.output_audio_transcript.done": lambda d: TranscriptDone(
        _str(d, "response_id"), _str(d, "item_id"), _str(d, "transcript", MAX_TEXT_CHARS)
    ),
    "response.function_call_arguments.done": _function_call,
    "response.done": _response_done,
    "rate_limits.updated": _rate_limits,
    "error": _error,
}


def _reject_constant(name: str) -> object:
    """json.loads hook: NaN and ±Infinity are not JSON; a frame carrying them is malformed."""
    raise ValueError(f"non-JSON constant {name}")


def _short(text: str) -> str:
    """`text` safe for one log line: capped, control characters escaped."""
    return repr(text[:_MAX_LOG_CHARS])[1:-1] + ("..." if len(text) > _MAX_LOG_CHARS else "")


def parse_server_event(raw: str | bytes) -> ServerEvent | None:
    """One server frame → a typed event, or None (ignored, unknown or malformed; logged).

    Never raises: a frame that breaks any rule is one WARNING (type and reason, capped at
    200 characters, never the payload) and None.
    """
    try:
        return _parse(raw)
    except Exception as exc:  # the last line of defence: a parser bug must not kill the reader
        log.warning("dropped a server frame the parser could not read (%s)", type(exc).__name__)
        return None


def _parse(raw: str | bytes) -> ServerEvent | None:
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, TypeError, RecursionError) as exc:
        log.warning("dropped a malformed server frame (%d bytes, %s)", len(raw), type(exc).__name__)
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        log.warning("dropped a server frame without a type")
        return None
    parser = _PARSERS.get(kind)
    if parser is None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("< %s (ignored)", _short(kind))
        return None
    try:
        return parser(data)
    except (_Malformed, TypeError, AttributeError, ValueError, KeyError) as exc:
        log.warning("dropped a malformed %s event (field %s)", _short(kind), _short(str(exc)))
        return None
