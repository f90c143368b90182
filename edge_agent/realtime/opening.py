"""Opening one Realtime session: the WebSocket upgrade, then the session set-up handshake.

`open_socket` upgrades with the credentials' headers (a 401/403 is a refusal no retry fixes:
`outcomes.handshake_refusal`); `handshake` waits for ``session.created``, sends our
``session.update`` (instructions, tools) and returns the session id once ``session.updated``
confirms it. The client (`client.py`) retries both with backoff; neither retries itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from edge_agent.errors import RealtimeError
from edge_agent.net.tls import websocket_tls
from edge_agent.realtime import protocol as p
from edge_agent.realtime.auth import RedactingLogger
from edge_agent.realtime.outcomes import fatal_error, handshake_refusal

__all__ = ["WS_MAX_SIZE", "handshake", "open_socket"]

_WIRE_LOG: Final = RedactingLogger(logging.getLogger("websockets.client"))
WS_MAX_SIZE: Final = 16 * 2**20  # long audio deltas and response.done exceed the 1 MiB default


async def open_socket(
    url: str,
    headers: Mapping[str, str],
    *,
    open_timeout_s: float,
    ping_interval_s: float | None,
    uses_relay: bool,
) -> ClientConnection:
    """The upgraded WebSocket. Raises `FatalRealtimeError` on 401/403, `RealtimeError` on
    another refusing status, and the socket's own errors (OSError, timeouts) as they are."""
    tls = await websocket_tls(url)
    try:
        return await connect(
            url,
            additional_headers=dict(headers),
            max_size=WS_MAX_SIZE,
            open_timeout=open_timeout_s,
            ping_interval=ping_interval_s,
            ping_timeout=ping_interval_s,
            compression=None,  # audio is base64 noise: deflate costs CPU for nothing
            logger=_WIRE_LOG,
            **tls,  # the daemon's one CA store
        )
    except InvalidStatus as exc:
        raise handshake_refusal(exc.response.status_code, uses_relay=uses_relay) from None


async def handshake(
    ws: ClientConnection,
    session: Callable[[], Awaitable[p.Json]],
    *,
    timeout_s: float,
    model: str,
    configured: str,
) -> str:
    """session.created → session.update (`await session()`) → session.updated: the session id.

    `model` is this session's model and `configured` ``realtime.model`` (for the messages of
    a fatal error, e.g. an unknown model). Raises `RealtimeError` (fatal or not) on an error
    event, TimeoutError after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        session_id = ""
        while True:
            ev = p.parse_server_event(await ws.recv())
            if isinstance(ev, p.ServerError):
                fatal = fatal_error(ev, model=model, configured=configured)
                if fatal is not None:
                    raise fatal
                raise RealtimeError(
                    f"session setup failed: {ev.code} ({ev.message or 'no detail'}); "
                    "check the [realtime] session settings"
                )
            if isinstance(ev, p.SessionCreated):
                session_id = ev.session_id
                update = p.session_update(await session(), event_id="evt_session")
                await ws.send(json.dumps(update))
            elif isinstance(ev, p.SessionUpdated) and session_id:
                return session_id
