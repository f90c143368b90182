"""Fault injection for the Realtime emulator: what the service (or the network) gets wrong.

`Faults` lives on the emulator (``emu.faults``); each field applies to what happens next.
Per-response faults are a queue: ``emu.faults.responses = [None, ResponseFault.failed(...)]``
makes the second response (counting every response.create and every VAD turn from now on)
fail; each entry is used once, ``None`` is a normal response. One-shot = a list of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Faults", "ResponseFault"]

SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


@dataclass(frozen=True, slots=True)
class ResponseFault:
    """What goes wrong with one response (its scripted turn is used up either way).

    - ``status="failed"``: after ``after_ms`` of reply audio (0 = none, no output item at all),
      ``response.done`` has ``status: failed`` and ``status_details: {type: failed, error:
      {type, code, message}}``; no tool calls are made.
    - ``status="incomplete"``: after ``after_ms`` of audio the item ends ``incomplete`` with the
      transcript of the words sent, ``status_details: {type: incomplete, reason}``
      (``max_output_tokens`` | ``content_filter``).
    - ``two_audio_items``: the reply is spoken as two assistant audio items (output_index 0 and
      1), split at ``split_ms``, each with its own added/part/deltas/done events.
    - ``unannounced_item``: the audio item gets no ``response.output_item.added``,
      ``conversation.item.added`` nor ``content_part.added``; its deltas and done events come
      anyway (the item exists server-side: truncate works on it).
    - ``odd_delta``: one extra ``response.output_audio.delta`` of 3 bytes (not whole int16
      samples) right after the first delta; it is not part of the item's audio.
    """

    status: str | None = None  # None | "failed" | "incomplete"
    after_ms: int = 0
    error_type: str = "server_error"
    code: str = "server_error"
    message: str = SERVER_ERROR_MESSAGE
    reason: str = ""
    two_audio_items: bool = False
    split_ms: int = 0  # 0 = half the reply
    unannounced_item: bool = False
    odd_delta: bool = False

    @classmethod
    def failed(
        cls,
        code: str = "server_error",
        *,
        after_ms: int = 0,
        error_type: str | None = None,
        message: str | None = None,
    ) -> ResponseFault:
        """E.g. ``failed("rate_limit_exceeded", after_ms=300)``; type defaults by code."""
        types = {"server_error": "server_error", "rate_limit_exceeded": "rate_limit_error"}
        messages = {
            "server_error": SERVER_ERROR_MESSAGE,
            "rate_limit_exceeded": "Rate limit reached for tokens. Please try again in 2s.",
        }
        return cls(
            "failed",
            after_ms,
            error_type or types.get(code, "invalid_request_error"),
            code,
            message or messages.get(code, f"Emulated failure {code}."),
        )

    @classmethod
    def model_not_found(cls, model: str = "gpt-realtime") -> ResponseFault:
        """The failed response.done seen when a model is gone (realtime-protocol.md §6)."""
        msg = f"The model `{model}` does not exist or you do not have access to it."
        return cls("failed", 0, "invalid_request_error", "model_not_found", msg)

    @classmethod
    def incomplete(cls, reason: str = "max_output_tokens", *, after_ms: int = 300) -> ResponseFault:
        return cls("incomplete", after_ms, reason=reason)


@dataclass(slots=True)
class Faults:
    """Fault injection; each field applies to what happens next."""

    delay_ms: int = 0  # before every server event
    drop_after_deltas: int | None = None  # abort the TCP connection after N deltas (once)
    malformed_next: int = 0  # N frames of broken JSON before the next event
    unknown_next: int = 0  # N events of an unknown type before the next event
    oversized_next: int = 0  # N 2 MiB events of an unknown type before the next event
    nested_next: int = 0  # N frames of `nested_depth` nested JSON lists before the next event
    nested_depth: int = 100_000
    fatal_code: str | None = None  # next connection: an error with this code, then close
    handshake_status: int | None = None  # answer upgrades with this HTTP status
    handshake_status_count: int = 0  # ...this many times (0 = until cleared)
    session_delay_ms: int = 0  # a slow connect: wait this long before session.created (once)
    responses: list[ResponseFault | None] = field(default_factory=list)  # one per response

    def next_response(self) -> ResponseFault | None:
        return self.responses.pop(0) if self.responses else None
