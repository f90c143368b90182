"""What the service's answers mean for a session: fatal, retry, or a logged warning. Pure.

The connection shell (`client.py`) asks here instead of deciding itself: whether an HTTP status
at the handshake is a refusal no retry fixes, whether a server `error` or a failed
`response.done` must stop everything (bad key, unknown model, quota), which error codes are
benign noise, and how an exception or a close is described in logs and events. Descriptions
never include headers or frames: they may hold the key or a client secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from edge_agent.errors import FatalRealtimeError, RealtimeError
from edge_agent.realtime import protocol as p
from edge_agent.realtime.models import model_not_found_message

__all__ = [
    "BENIGN_ERRORS",
    "describe",
    "describe_close",
    "fatal_error",
    "fatal_response",
    "handshake_refusal",
    "log_usage",
    "session_outcome",
]

log = logging.getLogger("edge_agent.realtime.client")

_FATAL_HTTP: Final = frozenset({401, 403})
BENIGN_ERRORS: Final = frozenset({"response_cancel_not_active", "input_audio_buffer_commit_empty"})


def handshake_refusal(status: int, *, uses_relay: bool) -> RealtimeError:
    """The error for an HTTP status that refused the WebSocket upgrade: fatal for 401/403."""
    if status in _FATAL_HTTP:
        what = "client secret" if uses_relay else "api key"
        return FatalRealtimeError(
            f"realtime service refused the {what} (http {status}); check the key "
            "(or realtime.token_url) and its permissions"
        )
    return RealtimeError(
        f"realtime handshake failed: http {status}; if it persists, check realtime.url "
        "and realtime.model"
    )


def fatal_error(ev: p.ServerError, *, model: str, configured: str) -> FatalRealtimeError | None:
    """The fatal error a server `error` event means (None: the session goes on)."""
    if ev.code == "model_not_found":
        return FatalRealtimeError(model_not_found_message(model, ev.message))
    if ev.is_fatal:
        detail = ev.message.lower().rstrip(".") or "no detail"
        return FatalRealtimeError(
            f"realtime service error {ev.code!r}: {detail}; check the api key, "
            f"realtime.model ({configured!r}) and the account quota"
        )
    return None


def fatal_response(ev: p.ResponseDone, *, model: str, configured: str) -> FatalRealtimeError | None:
    """The fatal error a failed `response.done` means (None: the turn core handles it)."""
    if ev.status != "failed":
        return None
    if ev.reason == "model_not_found":
        return FatalRealtimeError(model_not_found_message(model, ev.error_message))
    if p.is_fatal_code(ev.reason):
        return FatalRealtimeError(
            f"realtime response failed with {ev.reason!r}: "
            f"{ev.error_message.lower().rstrip('.') or 'no detail'}; check "
            f"realtime.model ({configured!r}), the api key and the account quota"
        )
    return None


def session_outcome(
    ev: p.ServerEvent, *, model: str, configured: str, culprit: Callable[[str], str]
) -> str:
    """What one server event means for the session: "" while it goes on, or why it is over.

    Raises the `FatalRealtimeError` a refusal means (bad key, unknown model, quota). A session
    that expired is over; any other error that is not benign noise is logged with the type of
    our event that caused it (`culprit(event_id)`, "" when unknown); a response's usage is
    logged. The client hands the event on to the turn core (`translate.to_turn_event`)
    unless the session is over."""
    if isinstance(ev, p.ServerError):
        fatal = fatal_error(ev, model=model, configured=configured)
        if fatal is not None:
            raise fatal
        if ev.code == "session_expired":
            log.info("session expired")
            return "session expired"
        if ev.code not in BENIGN_ERRORS:
            ours = culprit(ev.event_id)
            log.warning(
                "realtime error %s%s: %s",
                ev.code,
                f" (our {ours} event)" if ours else "",
                ev.message,
                extra={"ERROR_CODE": ev.code},
            )
    elif isinstance(ev, p.ResponseDone):
        fatal = fatal_response(ev, model=model, configured=configured)
        if fatal is not None:
            raise fatal
        log_usage(ev)
    return ""


def describe(exc: BaseException | None) -> str:
    """A short cause for logs and events; never includes headers (they hold the key)."""
    # here, not at the top: an idle daemon has not imported websockets (client.py)
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    if isinstance(exc, ConnectionClosed):
        rcvd = exc.rcvd
        return f"close code {rcvd.code}" if rcvd is not None else "connection dropped"
    if isinstance(exc, InvalidStatus):
        return f"http {exc.response.status_code}"
    if isinstance(exc, RealtimeError):
        return str(exc)
    return type(exc).__name__ + (f": {exc}" if isinstance(exc, OSError) else "")


def describe_close(code: int | None, reason: str | None) -> str:
    """A clean close (1000/1001 end `async for` silently): say which, with the reason."""
    reason = (reason or "")[:80]
    if code == 1001 and reason:
        return f"session closed by the service: {reason}"
    return f"close code {code}" if code is not None else "connection closed"


def log_usage(ev: p.ResponseDone) -> None:
    """One INFO line per response with its token counts (the cost is the turn log's)."""
    u = ev.usage
    log.info(
        "response %s: %d in / %d out tokens (%d audio out)",
        ev.status,
        u.input_tokens,
        u.output_tokens,
        u.output_audio_tokens,
        extra={
            "STATUS": ev.status,
            "INPUT_TOKENS": u.input_tokens,
            "OUTPUT_TOKENS": u.output_tokens,
        },
    )
