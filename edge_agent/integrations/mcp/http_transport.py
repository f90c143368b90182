"""MCP's Streamable HTTP transport over the daemon's httpx client: a thin shell.

Each message is one POST to the server's endpoint. The answer is ``202 Accepted`` (for our
notifications), one JSON body, or an SSE stream carrying the response and maybe notifications
(``tools/list_changed``) first. Every JSON value received is handed to `on_value`; the session
core decides what it is. The ``Mcp-Session-Id`` the server gives at ``initialize`` is sent back
on every request, with ``Mcp-Protocol-Version``; a 404 on a session means it expired
(`SessionExpired`: the client initializes again).

Hostile-server rules: bodies are read as a stream and cut at `max_bytes` (a 50 MB answer costs
us at most the cap, never the whole), compressed answers are refused (a gzip bomb inflates past
any cap inside one chunk), redirects are not followed, and the caller's ``asyncio.timeout``
bounds everything, a drip-feeding server included. Headers (the bearer token) are never logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx

from edge_agent.integrations.mcp.framing import (
    MAX_MESSAGE_BYTES,
    FrameTooLarge,
    SseFramer,
    decode_json,
)
from edge_agent.integrations.mcp.protocol import McpError

__all__ = ["HttpTransport", "SessionExpired"]

log = logging.getLogger(__name__)

SESSION_HEADER: Final = "mcp-session-id"
VERSION_HEADER: Final = "mcp-protocol-version"
HTTP_TIMEOUT: Final = httpx.Timeout(60.0, connect=2.0)
"""httpx's own limits; the real deadline is the client's asyncio.timeout around each request."""
LISTEN_TIMEOUT: Final = httpx.Timeout(300.0, connect=2.0)
"""A quiet GET stream is normal; after this long without a byte it is opened again."""


class SessionExpired(McpError):
    """The server no longer knows our session (404 on a request carrying Mcp-Session-Id)."""


class HttpTransport:
    """POSTs JSON-RPC messages to one Streamable HTTP endpoint."""

    answers_inline: Final = True  # a request's answer arrives within its POST

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
        name: str = "mcp",
    ) -> None:
        self.http = http
        self.url = url
        self.name = name
        self.max_bytes = max_bytes
        self._headers = dict(headers or {})
        self.session_id = ""
        self.protocol_version = ""
        self.on_value: Callable[[Any], None] = lambda value: None
        self.on_closed: Callable[[str], None] = lambda why: None

    async def open(self) -> None:
        """A new session starts without an id (the server hands one out at initialize)."""
        self.session_id = ""
        self.protocol_version = ""

    def headers(self) -> dict[str, str]:
        out = {
            **self._headers,
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Accept-Encoding": "identity",
        }
        if self.session_id:
            out["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            out["Mcp-Protocol-Version"] = self.protocol_version
        return out

    async def post(self, message: Mapping[str, Any]) -> None:
        """Send `message`; every JSON value in the answer goes to `on_value` before returning."""
        body = json.dumps(message, separators=(",", ":")).encode()
        is_init = message.get("method") == "initialize"
        had_session = bool(self.session_id)
        try:
            async with self.http.stream(
                "POST", self.url, content=body, headers=self.headers(), timeout=HTTP_TIMEOUT,
                follow_redirects=False,
            ) as resp:  # fmt: skip
                self._check_status(resp, had_session)
                if is_init and resp.headers.get(SESSION_HEADER):
                    self.session_id = _clean_session_id(resp.headers[SESSION_HEADER])
                if resp.status_code == 202 or "id" not in message:
                    return
                await self._read_body(resp)
        except httpx.TimeoutException:
            raise McpError("timeout", "the MCP server did not answer in time") from None
        except httpx.ConnectError:
            raise McpError(
                "unreachable", "cannot connect to the MCP server; check it runs and the url"
            ) from None
        except httpx.TransportError:
            raise McpError("unreachable", "the connection closed before an answer") from None
        except httpx.InvalidURL:
            raise McpError("unreachable", "the configured url is not valid") from None

    def _check_status(self, resp: httpx.Response, had_session: bool) -> None:
        status = resp.status_code
        if status in (200, 202):
            encoding = resp.headers.get("content-encoding", "identity").lower()
            if encoding not in ("identity", ""):
                raise McpError("bad_response", "the server sent a compressed answer")
            return
        if status == 404 and had_session:
            raise SessionExpired("session_expired", "the server ended our MCP session")
        if status in (401, 403):
            raise McpError("unauthorized", f"the server refused the credentials (http {status})")
        if status == 404:
            raise McpError("not_found", "no MCP endpoint at this url (http 404)")
        if 300 <= status < 400:
            raise McpError("bad_response", f"the server redirects (http {status}); fix the url")
        raise McpError("http_error", f"the MCP server answered http {status}")

    async def _read_body(self, resp: httpx.Response) -> None:
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if ctype == "text/event-stream":
                framer = SseFramer(self.max_bytes)
                async for chunk in resp.aiter_raw():
                    for data in framer.feed(chunk):
                        if self._deliver(data):
                            return  # our answer came: the rest of the stream is not ours
                return
            if ctype != "application/json":
                raise McpError("bad_response", "the server answered neither JSON nor SSE")
            size, parts = 0, []
            async for chunk in resp.aiter_raw():
                size += len(chunk)
                if size > self.max_bytes:
                    raise FrameTooLarge(f"an answer over {self.max_bytes} bytes")
                parts.append(chunk)
            self._deliver(b"".join(parts))
        except FrameTooLarge:
            raise McpError(
                "result_too_large", f"the server sent more than {self.max_bytes} bytes"
            ) from None

    def _deliver(self, data: bytes) -> bool:
        """Hand the values in `data` on; True when one of them was a response."""
        try:
            value = decode_json(data)
        except ValueError:
            log.debug("not JSON from the server; dropped", extra={"DEVICE": self.name})
            return False
        values = value if isinstance(value, list) else [value]
        answered = False
        for item in values[:100]:
            self.on_value(item)
            answered |= isinstance(item, dict) and "method" not in item
        return answered

    async def listen(self) -> bool:
        """Read the session's GET stream (server-initiated messages) until it ends.

        Stateful servers send ``tools/list_changed`` there. Returns False when there is no
        session or the server offers no stream (405), True when a stream ran and ended.
        """
        if not self.session_id:
            return False
        headers = self.headers()
        headers["Accept"] = "text/event-stream"
        del headers["Content-Type"]
        try:
            async with self.http.stream(
                "GET", self.url, headers=headers, timeout=LISTEN_TIMEOUT, follow_redirects=False
            ) as resp:
                ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                if resp.status_code != 200 or ctype != "text/event-stream":
                    return False
                framer = SseFramer(self.max_bytes)
                async for chunk in resp.aiter_raw():
                    for data in framer.feed(chunk):
                        self._deliver(data)
        except (httpx.HTTPError, FrameTooLarge):
            pass
        return True

    async def aclose(self) -> None:
        """End the session politely (DELETE); errors are irrelevant then."""
        if not self.session_id:
            return
        with contextlib.suppress(httpx.HTTPError):
            await self.http.delete(self.url, headers=self.headers(), timeout=1.0)
        self.session_id = ""


def _clean_session_id(value: str) -> str:
    """Session ids are visible ASCII (spec); anything else is cut to what is safe to send back."""
    return "".join(ch for ch in value[:200] if "\x21" <= ch <= "\x7e")
