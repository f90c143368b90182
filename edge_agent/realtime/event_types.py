"""Realtime API (GA) server events as small frozen dataclasses (what `events.parse_server_event`
returns), and which error codes are fatal. No parsing here: see `events.py`."""

from __future__ import annotations

from collections.abc import Mapping
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
]

#: error codes a retry cannot fix (realtime-protocol.md §6)
FATAL_CODES: Final = frozenset(
    {"invalid_api_key", "model_not_found", "insufficient_quota", "beta_api_shape_disabled"}
)


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
