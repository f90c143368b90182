"""Network probes: DNS and TCP to the Realtime host, the Realtime handshake, device reads.

Must not: decide verdicts (`edge_agent.doctor` does) or send anything but the handshake (no
session is created, nothing is billed) and one state read per device.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from edge_agent.config import Config
from edge_agent.doctor import CheckResult, device_result, fail, handshake_result, ok, skip
from edge_agent.net.tls import websocket_tls
from edge_agent.probes.worker import why

__all__ = ["devices", "network", "realtime"]


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme in ("wss", "https") else 80
    return parts.hostname or "", parts.port or default


async def network(url: str, timeout_s: float) -> CheckResult:
    """Resolve the Realtime host and open a TCP connection to it."""
    host, port = _host_port(url)
    if not host:
        return fail("network", f"realtime.url = {url!r} has no host", "fix realtime.url")
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        return fail(
            "network",
            f"cannot resolve {host!r}: {why(exc, timeout_s)}",
            "check the network (`ip addr`, `ping 1.1.1.1`) and DNS (`getent hosts "
            f"{host}`, /etc/resolv.conf)",
        )
    address = str(infos[0][4][0])
    try:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(address, port)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return fail(
            "network",
            f"{host} ({address}) port {port}: {why(exc, timeout_s)}",
            "the name resolves but the host does not answer: check the route, a firewall "
            "or a proxy in between",
        )
    return ok("network", f"{host} -> {address}, tcp port {port} connects")


async def realtime(cfg: Config, timeout_s: float) -> CheckResult:
    """Open the WebSocket upgrade with the real credentials, then close at once."""
    import httpx
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    from edge_agent.errors import FatalRealtimeError, RealtimeError
    from edge_agent.realtime.auth import Credentials, session_url

    rt = cfg.realtime
    if not cfg.api_key and not rt.token_url:
        return skip("realtime", "no API key (see the api key line)")
    creds = Credentials(rt, cfg.api_key)
    try:
        async with asyncio.timeout(timeout_s):
            headers = await creds.headers()
    except FatalRealtimeError as exc:
        return fail("realtime", f"key rejected: {exc}", "check the relay's access rules")
    except (RealtimeError, httpx.HTTPError, TimeoutError) as exc:
        return fail(
            "realtime",
            f"token relay {rt.token_url}: unreachable: {why(exc, timeout_s)}",
            "check realtime.token_url and that the relay is running",
        )
    finally:
        await creds.aclose()
    status: int | None = None
    error = ""
    url = session_url(rt.url, rt.model)
    try:
        async with connect(
            url,
            additional_headers=headers,
            open_timeout=timeout_s,
            close_timeout=1.0,
            max_size=None,
            compression=None,
            **await websocket_tls(url),  # the CA store the daemon verifies with
        ):
            status = 101
    except InvalidStatus as exc:
        status = exc.response.status_code
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        error = why(exc, timeout_s)
    return handshake_result(rt.url, status, error)


async def devices(cfg: Config, timeout_s: float) -> list[CheckResult]:
    if not cfg.devices:
        return [skip("devices", "none configured ([[devices]])")]
    from edge_agent.tools.http import make_http_client

    async with make_http_client(cfg.tools) as http:
        return list(
            await asyncio.gather(
                *(_device(i, cfg, http, timeout_s) for i in range(len(cfg.devices)))
            )
        )


async def _device(index: int, cfg: Config, http: Any, timeout_s: float) -> CheckResult:
    from edge_agent.tools.drivers import driver_class
    from edge_agent.tools.drivers.base import DeviceError

    dev = cfg.devices[index]
    driver = driver_class(dev.family)(dev, http, timeout_s=min(cfg.tools.http_timeout_s, timeout_s))
    start = time.monotonic()
    try:
        async with asyncio.timeout(2 * timeout_s):  # drivers retry a read once
            state = await driver.get_state()
        text = " ".join(f"{k}={v}" for k, v in state.as_dict().items())
        result = device_result(dev.name, index, dev.family, dev.host, dev.port, "", text)
    except DeviceError as exc:
        result = device_result(
            dev.name, index, dev.family, dev.host, dev.port, exc.code, exc.detail
        )
    except TimeoutError:
        result = device_result(
            dev.name, index, dev.family, dev.host, dev.port, "timeout", "no answer"
        )
    finally:
        await driver.aclose()
    return dataclasses.replace(result, duration_ms=round((time.monotonic() - start) * 1000))
