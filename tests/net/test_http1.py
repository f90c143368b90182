"""The HTTP/1.1 transport against real sockets: a raw asyncio server on 127.0.0.1 whose every
byte is scripted, so the tests see exactly what went over the wire and which connection."""

from __future__ import annotations

import asyncio
import ssl
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from edge_agent.net.http1 import AsyncioTransport
from tests.imports import loaded_after
from tests.tools.certs import make_certs

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Wire"], Awaitable[None]]


@dataclass
class Wire:
    """What the server saw: each request head (with the number of its connection) and body."""

    heads: list[tuple[int, bytes]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0
    closed_by_client: int = 0


async def read_request(reader: asyncio.StreamReader, wire: Wire, conn: int) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    wire.heads.append((conn, head))
    body = b""
    lower = head.lower()
    if b"content-length:" in lower:
        n = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        body = await reader.readexactly(n)
    elif b"transfer-encoding: chunked" in lower:
        while (size := int((await reader.readuntil(b"\r\n")).strip(), 16)) > 0:
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readexactly(2)
    wire.bodies.append(body)
    return head


async def keep_alive(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wire: Wire
) -> None:
    """Answers every request on the connection with 'ok'."""
    conn = wire.connections
    while True:
        await read_request(reader, wire, conn)
        writer.write(OK)
        await writer.drain()


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[str, Wire]]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> tuple[str, Wire]:
        wire = Wire()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            wire.connections += 1
            try:
                await handler(reader, writer, wire)
            except (asyncio.IncompleteReadError, ConnectionError):
                wire.closed_by_client += 1
            finally:
                writer.close()

        srv = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
        servers.append(srv)
        scheme = "https" if tls else "http"
        return f"{scheme}://127.0.0.1:{srv.sockets[0].getsockname()[1]}", wire

    yield start  # type: ignore[misc]
    for srv in servers:
        srv.close()
        await srv.wait_closed()


def client(transport: AsyncioTransport | None = None, **timeouts: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport or AsyncioTransport(),
        timeout=httpx.Timeout(timeouts.pop("total", 2.0), **timeouts),
    )


async def test_keep_alive_one_connection_and_the_request_as_sent(server) -> None:
    base, wire = await server(keep_alive)
    async with client() as http:
        first = await http.get(f"{base}/json/state?x=1&y=%20", headers={"X-Tag": "a"})
        second = await http.post(f"{base}/rpc", json={"on": True})
    assert (first.status_code, first.text, first.http_version) == (200, "ok", "HTTP/1.1")
    assert first.reason_phrase == "OK" and second.text == "ok"
    assert [conn for conn, _ in wire.heads] == [1, 1]  # the second request reused connection 1
    head = wire.heads[0][1]
    assert head.startswith(b"GET /json/state?x=1&y=%20 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in head and b"\r\nX-Tag: a\r\n" in head
    assert wire.bodies[1] == b'{"on":true}'


async def test_a_streamed_request_body_arrives_whole(server) -> None:
    base, wire = await server(keep_alive)

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"two ", b"three"):
            yield part

    async with client() as http:
        resp = await http.post(f"{base}/upload", content=parts())
    assert resp.status_code == 200
    assert b"transfer-encoding: chunked" in wire.heads[0][1].lower()
    assert wire.bodies == [b"one two three"]


async def test_a_connection_the_server_closed_while_idle_is_not_reused(server) -> None:
    async def one_answer(reader, writer, wire: Wire) -> None:
        await read_request(reader, wire, wire.connections)
        writer.write(OK)  # keep-alive by its headers, then closed anyway
        await writer.drain()

    base, wire = await server(one_answer)
    async with client() as http:
        assert (await http.get(base)).text == "ok"
        await asyncio.sleep(0.05)  # the FIN arrives
        assert (await http.get(base)).text == "ok"
    assert [conn for conn, _ in wire.heads] == [1, 2]


async def test_keep_alive_expires_by_the_clock(server) -> None:
    base, wire = await server(keep_alive)
    now = [100.0]
    transport = AsyncioTransport(limits=httpx.Limits(keepalive_expiry=5.0), clock=lambda: now[0])
    async with client(transport) as http:
        await http.get(base)
        now[0] += 4.9
        await http.get(base)  # within the expiry: reused
        now[0] += 5.1
        await http.get(base)  # past it: a new connection
    assert [conn for conn, _ in wire.heads] == [1, 1, 2]


async def test_idle_connections_are_capped_oldest_first(server) -> None:
    base_a, wire_a = await server(keep_alive)
    base_b, wire_b = await server(keep_alive)
    transport = AsyncioTransport(limits=httpx.Limits(max_keepalive_connections=1))
    async with client(transport) as http:
        await http.get(base_a)
        await http.get(base_b)  # a's idle connection is closed: only one may stay
        await http.get(base_a)
        await http.get(base_b)
    assert [conn for conn, _ in wire_a.heads] == [1, 2]
    assert [conn for conn, _ in wire_b.heads] == [1, 2]


async def test_connection_close_and_http10_answers_are_not_reused(server) -> None:
    answers = iter(
        [
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na",
            b"HTTP/1.0 200 OK\r\n\r\nbody to eof",
        ]
    )

    async def then_close(reader, writer, wire: Wire) -> None:
        await read_request(reader, wire, wire.connections)
        writer.write(next(answers))
        await writer.drain()
        await asyncio.sleep(0.2)  # keeps the socket open: only the answer says "close"

    base, wire = await server(then_close)
    async with client() as http:
        assert (await http.get(base)).text == "a"
        assert (await http.get(base)).text == "body to eof"
    assert [conn for conn, _ in wire.heads] == [1, 2]


async def test_a_body_not_read_to_its_end_closes_its_connection(server) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + b"x" * 300000

    async def answer_big(reader, writer, wire: Wire) -> None:
        while True:
            await read_request(reader, wire, wire.connections)
            writer.write(big)
            await writer.drain()

    base, wire = await server(answer_big)
    async with client() as http:
        async with http.stream("GET", base) as resp:
            async for _ in resp.aiter_raw():
                break  # the caller's cap: the rest must never be read as the next answer
        async with http.stream("GET", base) as resp:
            assert len(await resp.aread()) == 300000
    assert [conn for conn, _ in wire.heads] == [1, 2]


async def test_errors_are_httpx_errors_of_their_phase(server) -> None:
    async def silent(reader, writer, wire: Wire) -> None:
        await read_request(reader, wire, wire.connections)
        await asyncio.sleep(5)

    async def hang_up(reader, writer, wire: Wire) -> None:
        await read_request(reader, wire, wire.connections)

    async def garbage(reader, writer, wire: Wire) -> None:
        await read_request(reader, wire, wire.connections)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()

    async def huge_head(reader, writer, wire: Wire) -> None:
        await read_request(reader, wire, wire.connections)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * 200_000 + b"\r\n\r\n")
        await writer.drain()

    async with client(read=0.3) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("http://127.0.0.1:9/")  # nothing listens there
        with pytest.raises(httpx.ReadTimeout):
            await http.get((await server(silent))[0])
        with pytest.raises(httpx.RemoteProtocolError, match="disconnected without"):
            await http.get((await server(hang_up))[0])
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get((await server(garbage))[0])
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get((await server(huge_head))[0])
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("ftp://127.0.0.1/")
        base, wire = await server(keep_alive)
        with pytest.raises(httpx.LocalProtocolError):  # a header that would split the request
            await http.get(base, headers={"X-Name": "a\r\nX-Injected: 1"})
        assert (await http.get(base)).text == "ok" and wire.heads[0][1].count(b"X-Injected") == 0


async def test_an_answer_sent_before_the_body_was_read_is_heard(server) -> None:
    async def refuse(reader, writer, wire: Wire) -> None:
        wire.heads.append((wire.connections, await reader.readuntil(b"\r\n\r\n")))
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        wire.bodies.append(await reader.read(-1))  # then lets the rest come, and hangs up

    base, wire = await server(refuse)
    async with client() as http:
        resp = await http.post(base, content=b"z" * 100_000)
    assert resp.status_code == 413 and len(wire.heads) == 1


async def test_a_cancelled_request_drops_its_connection_and_slot(server) -> None:
    async def slow(reader, writer, wire: Wire) -> None:
        await read_request(reader, wire, wire.connections)
        await reader.read()  # until the client goes away
        wire.closed_by_client += 1

    base, wire = await server(slow)
    transport = AsyncioTransport(limits=httpx.Limits(max_connections=1))
    async with client(transport, pool=0.2) as http:
        for _ in range(2):  # the slot came back: the second does not time out on the pool
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await http.get(base)
        await asyncio.sleep(0.05)
    assert wire.connections == 2 and wire.closed_by_client == 2


async def test_max_connections_and_the_pool_timeout(server) -> None:
    async def slow(reader, writer, wire: Wire) -> None:
        await read_request(reader, wire, wire.connections)
        await asyncio.sleep(0.5)
        writer.write(OK)
        await writer.drain()

    base, _ = await server(slow)
    transport = AsyncioTransport(limits=httpx.Limits(max_connections=1))
    async with client(transport, pool=0.1) as http:
        first = asyncio.create_task(http.get(base))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(base)
        assert (await first).text == "ok"


async def test_tls_verifies_with_the_context_given_and_refuses_otherwise(server, tmp_path) -> None:
    ca_file, signed, _own = make_certs(tmp_path)
    base, _ = await server(keep_alive, signed.context())
    trusting = AsyncioTransport(verify=str(ca_file))
    async with client(trusting) as http:
        assert (await http.get(base)).text == "ok"
    async with client(AsyncioTransport(verify=True)) as http:  # the public CAs: not this one
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(base)
    async with client(AsyncioTransport(verify=False)) as http:
        assert (await http.get(base)).text == "ok"


async def test_a_closed_transport_refuses_and_closes_its_connections(server) -> None:
    base, wire = await server(keep_alive)
    http = client()
    await http.get(base)
    await http.aclose()
    await asyncio.sleep(0.05)
    assert wire.closed_by_client == 1
    with pytest.raises(RuntimeError):
        await http.get(base)


def test_a_request_loads_neither_httpcore_nor_anyio_nor_a_ca_store() -> None:
    """What the transport is for: the daemon's first plain-http request keeps its RSS."""
    code = textwrap.dedent(
        """
        import asyncio
        from edge_agent.tools.http import make_http_client

        async def main():
            async def serve(reader, writer):
                await reader.readuntil(b"\\r\\n\\r\\n")
                writer.write(b"HTTP/1.1 204 No Content\\r\\n\\r\\n")
                await writer.drain()
                writer.close()

            srv = await asyncio.start_server(serve, "127.0.0.1", 0)
            port = srv.sockets[0].getsockname()[1]
            async with make_http_client() as http:
                assert (await http.get(f"http://127.0.0.1:{port}/")).status_code == 204
            srv.close()

        asyncio.run(main())
        """
    )
    assert loaded_after(code, ["httpcore", "anyio", "certifi"]) == []
