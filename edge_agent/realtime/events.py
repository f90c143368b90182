"""Realtime API (GA) server events, sans-I/O: frames in, small frozen dataclasses out.

Parsed: ``session.created/.updated``,
``input_audio_buffer.speech_started/.speech_stopped/.committed/.cleared/.timeout_triggered``,
``conversation.item.input_audio_transcription.completed``, ``conversation.item.truncated``,
``response.created``, ``response.output_item.added``, ``response.output_audio.delta/.done``,
``response.output_audio_transcript.delta/.done``, ``response.function_call_arguments.done``,
``response.done``, ``rate_limits.updated``, ``error``. Everything else is ignored (debug log);
malformed JSON or missing fields are logged and dropped: `parse_server_event` never raises.
Audio deltas are decoded from base64 here, once.
"""

from __future__ import annotations

import binascii
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FATAL_CODES",
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
    error_type: str = ""  # status_details.error of a failed response
    error_message: str = ""


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


def _str(d: Mapping[str, object], key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise _Malformed(key)
    return v


def _opt_str(d: Mapping[str, object], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ""


def _int(d: Mapping[str, object], key: str) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise _Malformed(key)
    return v


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
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

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
    reason = error_type = error_message = ""
    if isinstance(details, dict):
        reason = _opt_str(details, "reason")
        err = details.get("error")
        if isinstance(err, dict):
            reason = _opt_str(err, "code") or _opt_str(err, "type") or reason
            error_type = _opt_str(err, "type")[:_MAX_LOG_CHARS]
            error_message = _KEY_RE.sub("***", _opt_str(err, "message"))[:_MAX_LOG_CHARS]
    output = resp.get("output")
    calls = tuple(
        o["call_id"]
        for o in (output if isinstance(output, list) else ())
        if isinstance(o, dict)
        and o.get("type") == "function_call"
        and isinstance(o.get("call_id"), str)
    )
    return ResponseDone(
        _str(resp, "id"),
        _opt_str(resp, "status") or "completed",
        reason,
        _usage(resp.get("usage")),
        calls,
        error_type,
        error_message,
    )


def _function_call(d: Mapping[str, object]) -> FunctionCallDone:
    args_json = _str(d, "arguments")
    try:
        args = json.loads(args_json) if args_json else {}
    except ValueError:
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
        _KEY_RE.sub("***", _opt_str(err, "message"))[:_MAX_LOG_CHARS],
        _opt_str(err, "type"),
        _opt_str(err, "event_id"),
    )


def _rate_limits(d: Mapping[str, object]) -> RateLimits:
    raw = d.get("rate_limits")
    out = []
    for r in raw if isinstance(raw, list) else ():
        if isinstance(r, dict):
            rem, lim = r.get("remaining"), r.get("limit")
            out.append(
                (
                    _opt_str(r, "name"),
                    int(rem) if isinstance(rem, int | float) else 0,
                    int(lim) if isinstance(lim, int | float) else 0,
                )
            )
    return RateLimits(tuple(out))


def _audio_delta(d: Mapping[str, object]) -> AudioDelta:
    try:
        pcm = binascii.a2b_base64(_str(d, "delta"), strict_mode=True)
    except binascii.Error as exc:
        raise _Malformed("delta") from exc
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
        _str(d, "item_id"), _str(d, "transcript")
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
        _str(d, "response_id"), _str(d, "item_id"), _str(d, "delta")
    ),
    "response.output_audio_transcript.done": lambda d: TranscriptDone(
        _str(d, "response_id"), _str(d, "item_id"), _str(d, "transcript")
    ),
    "response.function_call_arguments.done": _function_call,
    "response.done": _response_done,
    "rate_limits.updated": _rate_limits,
    "error": _error,
}


def parse_server_event(raw: str | bytes) -> ServerEvent | None:
    """One server frame → a typed event, or None (ignored, unknown or malformed; logged)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        log.warning("dropped a malformed server frame (%d bytes)", len(raw))
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        log.warning("dropped a server frame without a type")
        return None
    parser = _PARSERS.get(kind)
    if parser is None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("< %s (ignored)", kind[:_MAX_LOG_CHARS])
        return None
    try:
        return parser(data)
    except (_Malformed, TypeError, AttributeError, ValueError) as exc:
        log.warning("dropped a malformed %s event (field %s)", kind, exc)
        return None
