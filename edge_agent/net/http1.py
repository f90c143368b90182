"""An httpx transport that speaks HTTP/1.1 with h11 over asyncio streams.

Why not httpx's own (httpcore): on asyncio, httpcore runs its locks, events and sockets through
anyio, so the daemon's first request (a tool, the first-connect model lookup) loads anyio's
asyncio backend and httpcore for good, and httpx parses certifi's CA bundle into a new TLS
context for every client, plain-http ones included: ~3.5 MB of RSS a daemon keeps after its
first turn (bench/http_transport.py), 3.5 % of its budget. What the daemon asks of HTTP is
small — HTTP/1.1, no proxies, one request in flight per peer, bodies it streams and caps
itself — so this transport does the wire part with h11 (httpx's dependency through httpcore,
already installed) and keeps all of httpx above it: clients, auth, timeouts, streaming and its
exception types (`tools/http.py` translates those).

Behaviour kept from httpcore: keep-alive connections per origin (at most
``limits.max_keepalive_connections`` idle, each for ``limits.keepalive_expiry`` s), an idle
connection the server has closed is not reused, a response not read to its end closes its
connection, a write error is not raised until the response is read (a server may refuse a body
with a proper answer), and timeouts per phase from the request (connect, write, read, pool).
TLS: ``verify=True`` uses the one shared context (`edge_agent.net.tls`), a context passed in is
used as it is (pinned devices, a home CA).
Not supported (the daemon uses none): HTTP/2, proxies, Unix sockets, client certificates.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Final

import h11
import httpx

from edge_agent.net.tls import public_context, unverified_context

__all__ = ["READ_BYTES", "AsyncioTransport"]

READ_BYTES: Final = 65536
"""One socket read (httpcore reads the same)."""
_MAX_HEAD_BYTES: Final = 100 * 1024
"""A response head larger than this is a protocol error (h11's default is 16 KiB; httpcore's)."""
_DEFAULT_PORTS: Final = {b"http": 80, b"https": 443}

Origin = tuple[bytes, bytes, int]


@contextlib.contextmanager
def _mapped(
    request: httpx.Request, timeout: type[httpx.TimeoutException], error: type[httpx.TransportError]
) -> Iterator[None]:
    """asyncio/OS/h11 failures of one phase as the httpx exception of that phase."""
    try:
        yield
    except TimeoutError:
        raise timeout(
            f"{timeout.__name__} after the {_phase(timeout)} timeout", request=request
        ) from None
    except h11.RemoteProtocolError as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except h11.LocalProtocolError as exc:
        raise httpx.LocalProtocolError(str(exc), request=request) from exc
    except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
        raise error(str(exc) or exc.__class__.__name__, request=request) from exc


def _phase(timeout: type[httpx.TimeoutException]) -> str:
    return {httpx.ConnectTimeout: "connect", httpx.WriteTimeout: "write"}.get(timeout, "read")


class _Connection:
    """One TCP (or TLS) connection and its h11 state."""

    def __init__(
        self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
        self.idle_since = 0.0

    def usable(self) -> bool:
        """False once the server has closed it (or sent bytes nobody asked for) while idle."""
        return not (self.writer.is_closing() or self.reader.at_eof() or self.reader._buffer)

    def close(self) -> None:
        """Synchronous, so it also runs in a cancelled task."""
        self.writer.close()

    async def send(self, event: h11.Event, timeout_s: float | None) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)
            async with asyncio.timeout(timeout_s):
                await self.writer.drain()

    async def next_event(self, timeout_s: float | None) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            async with asyncio.timeout(timeout_s):
                data = await self.reader.read(READ_BYTES)
            if not data and self.h11.their_state is h11.SEND_RESPONSE:
                raise h11.RemoteProtocolError("Server disconnected without sending a response.")
            self.h11.receive_data(data)


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection; at its end the connection goes back to the
    pool, and closed early it is dropped (its unread bytes would become the next answer)."""

    def __init__(
        self, transport: AsyncioTransport, conn: _Connection, request: httpx.Request
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._request = request
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._done:
            return
        read_s = self._request.extensions.get("timeout", {}).get("read")
        try:
            with _mapped(self._request, httpx.ReadTimeout, httpx.ReadError):
                while True:
                    event = await self._conn.next_event(read_s)
                    if isinstance(event, h11.Data):
                        yield bytes(event.data)
                    elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                        break
        except BaseException:
            self._finish(reuse=False)
            raise
        self._finish(reuse=True)

    async def aclose(self) -> None:
        self._finish(reuse=False)

    def _finish(self, *, reuse: bool) -> None:
        if not self._done:
            self._done = True
            self._transport._release(self._conn, reuse=reuse)


class AsyncioTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=AsyncioTransport())``: HTTP/1.1 over asyncio (see above).

    `clock` is injected so keep-alive expiry can be tested without waiting.
    """

    def __init__(
        self,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx.Limits = httpx.Limits(max_connections=None, keepalive_expiry=5.0),  # noqa: B008
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verify = verify
        self._tls: ssl.SSLContext | None = verify if isinstance(verify, ssl.SSLContext) else None
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._slots = asyncio.Semaphore(limits.max_connections) if limits.max_connections else None
        self._clock = clock
        self._idle: list[_Connection] = []  # oldest first
        self._active: set[_Connection] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the HTTP transport has been closed")
        assert isinstance(request.stream, httpx.AsyncByteStream)
        timeouts = request.extensions.get("timeout", {})
        await self._take_slot(request, timeouts.get("pool"))
        conn: _Connection | None = None
        try:
            conn = self._reuse(request) or await self._connect(request, timeouts.get("connect"))
            self._active.add(conn)
            head = await self._exchange(conn, request, timeouts)
        except BaseException:
            if conn is not None:
                self._release(conn, reuse=False)
            elif self._slots is not None:
                self._slots.release()
            raise
        return httpx.Response(
            status_code=head.status_code,
            headers=head.headers.raw_items(),
            stream=_Body(self, conn, request),
            extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
        )

    async def aclose(self) -> None:
        self._closed = True
        for conn in (*self._idle, *self._active):
            conn.close()
        self._idle.clear()
        self._active.clear()

    # -- the pool -------------------------------------------------------------------------

    async def _take_slot(self, request: httpx.Request, timeout_s: float | None) -> None:
        if self._slots is None:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(
                "no free connection within the pool timeout", request=request
            ) from None

    def _reuse(self, request: httpx.Request) -> _Connection | None:
        origin = _origin(request.url)
        now = self._clock()
        keep: list[_Connection] = []
        found: _Connection | None = None
        for conn in self._idle:
            if not conn.usable() or now - conn.idle_since > self._expiry:
                conn.close()
            elif found is None and conn.origin == origin:
                found = conn
            else:
                keep.append(conn)
        self._idle = keep
        return found

    def _release(self, conn: _Connection, *, reuse: bool) -> None:
        self._active.discard(conn)
        if self._slots is not None:
            self._slots.release()
        state = conn.h11
        if (
            reuse
            and not self._closed
            and state.our_state is h11.DONE
            and state.their_state is h11.DONE
        ):
            state.start_next_cycle()
            conn.idle_since = self._clock()
            self._idle.append(conn)
            while self._max_idle is not None and len(self._idle) > self._max_idle:
                self._idle.pop(0).close()  # the oldest goes
        else:
            conn.close()

    # -- one connection -------------------------------------------------------------------

    async def _connect(self, request: httpx.Request, timeout_s: float | None) -> _Connection:
        origin = _origin(request.url)
        scheme, host, port = origin
        tls = await self._context() if scheme == b"https" else None
        with _mapped(request, httpx.ConnectTimeout, httpx.ConnectError):
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(
                    host.decode("ascii"),
                    port,
                    ssl=tls,
                    server_hostname=host.decode("ascii") if tls else None,
                    limit=READ_BYTES,
                )
        return _Connection(origin, reader, writer)

    async def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            verify = self._verify
            if verify is False:
                self._tls = unverified_context()
            elif isinstance(verify, str):
                self._tls = await asyncio.to_thread(ssl.create_default_context, cafile=verify)
            else:
                self._tls = await asyncio.to_thread(public_context)
        return self._tls

    async def _exchange(
        self, conn: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> h11.Response:
        write_s, read_s = timeouts.get("write"), timeouts.get("read")
        try:
            with _mapped(request, httpx.WriteTimeout, httpx.WriteError):
                head = h11.Request(  # a header h11 refuses (CR/LF in it) is LocalProtocolError
                    method=request.method, target=request.url.raw_path, headers=request.headers.raw
                )
                await conn.send(head, write_s)
                async for chunk in request.stream:
                    await conn.send(h11.Data(data=chunk), write_s)
                await conn.send(h11.EndOfMessage(), write_s)
        except httpx.WriteError:
            pass  # the server may have answered before it stopped reading: read that answer
        with _mapped(request, httpx.ReadTimeout, httpx.ReadError):
            while True:
                event = await conn.next_event(read_s)
                if isinstance(event, h11.Response):
                    return event
                if not isinstance(event, h11.InformationalResponse):  # 100 Continue: wait on
                    raise h11.RemoteProtocolError(
                        f"unexpected {type(event).__name__} before the response"
                    )


def _origin(url: httpx.URL) -> Origin:
    scheme = url.raw_scheme
    if scheme not in _DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"the URL scheme {scheme.decode()!r} is not http or https")
    return scheme, url.raw_host, url.port or _DEFAULT_PORTS[scheme]
