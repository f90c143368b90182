"""A small HTTP/1.1 server: asyncio streams, h11 for the protocol, one handler coroutine.

Why not http.server or a framework: the relay idles on a small box for months, so it should
cost little memory (h11 adds ~1 MB to asyncio + ssl, which the relay needs anyway; the whole
relay idles at 28 MB, bench/relay.py) and shrug off hostile clients. Everything a client controls is bounded: connections at
once (`max_connections`, then 503), request line and headers (`max_head`, 431), the body
(`max_body`, 413), time to send a request from its first byte (`read_timeout_s`: the
connection is closed, or 408 mid-body) and idle keep-alive
(`idle_timeout_s`). TLS is asyncio's (`ssl=` a server context). A handler crash is a 500 with
no detail in the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import h11

__all__ = ["HttpRequest", "HttpResponse", "HttpServer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    peer: str


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())
    content_type: str = "application/json"


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\n"
)

_PHRASES = frozenset(s.value for s in HTTPStatus)

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class _Refuse(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class HttpServer:
    """`await start(host, port, ssl_context)`, `port`, `await stop()`."""

    def __init__(
        self,
        handler: Handler,
        *,
        max_connections: int = 64,
        max_head: int = 8192,
        max_body: int = 16384,
        read_timeout_s: float = 10.0,
        idle_timeout_s: float = 30.0,
    ) -> None:
        self._handler = handler
        self.max_connections = max_connections
        self.max_head = max_head
        self.max_body = max_body
        self.read_timeout_s = read_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(
        self, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> HttpServer:
        self._server = await asyncio.start_server(
            self._connection,
            host,
            port,
            ssl=ssl_context,
            ssl_handshake_timeout=self.read_timeout_s if ssl_context else None,
        )
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    # -- one connection -----------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if len(self._tasks) > self.max_connections:
                writer.write(_BUSY)
                await writer.drain()
                return
            await self._serve(reader, writer)
        except (ConnectionError, ssl.SSLError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # stop(): end quietly; a task that ends cancelled makes Python 3.11's
            # StreamReaderProtocol callback log a spurious "Exception in callback".
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.max_head)
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        while True:
            try:
                head = await self._read_head(conn, reader)
                if head is None:
                    return
                body = await self._read_body(conn, reader)
            except _Refuse as exc:
                await self._send(conn, writer, _plain(exc.status, "request refused"), close=True)
                return
            except h11.RemoteProtocolError as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    status = 431 if "large" in str(exc) else exc.error_status_hint
                    await self._send(conn, writer, _plain(status, "bad request"), close=True)
                return
            except TimeoutError:
                if conn.their_state is h11.SEND_BODY:
                    await self._send(conn, writer, _plain(408, "request timeout"), close=True)
                return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers}
            request = HttpRequest(
                head.method.decode("ascii", "replace"),
                head.target.decode("ascii", "replace"),
                headers,
                body,
                peer_text,
            )
            try:
                response = await self._handler(request)
            except Exception:
                log.exception("relay handler failed on %s %s", request.method, request.target[:80])
                response = _plain(500, "internal error")
            await self._send(conn, writer, response, close=False)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _read_head(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> h11.Request | None:
        loop = asyncio.get_running_loop()
        deadline: float | None = None  # from the first byte on, the whole head has read_timeout_s
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                timeout = self.idle_timeout_s if deadline is None else deadline - loop.time()
                if timeout <= 0:
                    raise TimeoutError
                data = await asyncio.wait_for(reader.read(65536), timeout)
                conn.receive_data(data)
                if data and deadline is None:
                    deadline = loop.time() + self.read_timeout_s
                continue
            if isinstance(event, h11.Request):
                if sum(len(k) + len(v) + 4 for k, v in event.headers) > self.max_head:
                    raise _Refuse(431)  # arrived whole, so h11's incomplete-event cap missed it
                length = dict(event.headers).get(b"content-length")
                if length is not None and int(length) > self.max_body:
                    raise _Refuse(413)
                return event
            return None  # ConnectionClosed or PAUSED after a close

    async def _read_body(self, conn: h11.Connection, reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async with asyncio.timeout(self.read_timeout_s):
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > self.max_body:
                        raise _Refuse(413)
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return b"".join(chunks)
                else:
                    raise h11.RemoteProtocolError("connection closed mid-body", 400)

    @staticmethod
    async def _send(
        conn: h11.Connection, writer: asyncio.StreamWriter, response: HttpResponse, *, close: bool
    ) -> None:
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", "no-store"),
            *response.headers,
        ]
        if close:
            headers.append(("Connection", "close"))
        try:
            reason = (
                HTTPStatus(response.status).phrase.encode() if response.status in _PHRASES else b""
            )
            data = conn.send(
                h11.Response(status_code=response.status, headers=headers, reason=reason)
            )
            data += conn.send(h11.Data(data=response.body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            return
        writer.write(data)
        await writer.drain()


def _plain(status: int, text: str) -> HttpResponse:
    import json

    body = json.dumps({"error": {"code": text.replace(" ", "_"), "message": text}}).encode()
    return HttpResponse(status, body)
