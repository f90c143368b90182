"""The shared HTTP client: on the daemon's own transport (no TLS context until an https
request), with the caller's TLS context and limits, and requests reach a real server."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest

from edge_agent.config import ToolsConfig
from edge_agent.net.http1 import AsyncioTransport
from edge_agent.tools.http import make_http_client


async def _server() -> tuple[asyncio.Server, list[bytes], list[int]]:
    """A real HTTP/1.1 server on 127.0.0.1 answering 'ok' (keep-alive); records each request
    and counts connections."""
    requests: list[bytes] = []
    connections = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                requests.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), requests, connections


async def test_requests_reach_the_server_on_one_kept_alive_connection() -> None:
    server, requests, connections = await _server()
    port = server.sockets[0].getsockname()[1]
    client = make_http_client(ToolsConfig(http_timeout_s=2.0))
    try:
        transport = client._transport
        assert isinstance(transport, AsyncioTransport)
        for _ in range(2):
            resp = await client.get(f"http://127.0.0.1:{port}/state")
            assert resp.status_code == 200 and resp.text == "ok"
        assert transport._tls is None  # plain http: no CA store was loaded
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
    assert len(requests) == 2 and connections == [1]  # keep-alive: one connection, two GETs
    assert b"GET /state HTTP/1.1" in requests[0]
    assert b"user-agent: edge-agent" in requests[0].lower()
    assert b"accept-encoding: identity" in requests[0].lower()
    with pytest.raises(RuntimeError):
        await client.get(f"http://127.0.0.1:{port}/state")


async def test_the_transport_gets_the_callers_tls_context_and_limits() -> None:
    tls = ssl.create_default_context()
    limits = httpx.Limits(max_connections=3, max_keepalive_connections=1, keepalive_expiry=2)
    client = make_http_client(verify=tls, limits=limits)
    try:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://127.0.0.1:9/")  # nothing listens there
        transport = client._transport
        assert isinstance(transport, AsyncioTransport) and transport._tls is tls
        assert transport._slots is not None and transport._slots._value == 3
        assert (transport._max_idle, transport._expiry) == (1, 2)
    finally:
        await client.aclose()


async def test_a_transport_of_the_callers_own_is_kept() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(204))
    client = make_http_client(transport=mock)
    try:
        assert client._transport is mock
        assert (await client.get("http://example.invalid/")).status_code == 204
    finally:
        await client.aclose()
