"""The one HTTP client the tools share, and the request helper the drivers use.

`make_http_client` builds the daemon's single ``httpx.AsyncClient``: connections are reused,
every request has a timeout (connect ≤1 s, total from ``tools.http_timeout_s``), redirects are
never followed (a device must not send us elsewhere) and proxy/env settings are ignored
(``trust_env=False``: a proxy would see local traffic and credentials).

`send` maps transport failures to `DeviceError` codes and retries *idempotent reads* once (a
dropped keep-alive connection, a refused connect, 429/503 overload); writes are never retried,
because a timed-out write has an unknown outcome. "One request in flight per device" is held by
the caller (`home.py` keeps one lock per device) since ESP8266/ESP32 servers handle few sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import httpx

from edge_agent.config import ToolsConfig
from edge_agent.tools.drivers.base import DeviceError

__all__ = ["RETRY_DELAY_S", "json_body", "make_http_client", "send"]

RETRY_DELAY_S: Final = 0.2
_RETRY_STATUS: Final = frozenset({429, 503})


def make_http_client(cfg: ToolsConfig | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """A new shared client; its owner closes it with ``await client.aclose()``."""
    timeout_s = (cfg or ToolsConfig()).http_timeout_s
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(1.0, timeout_s)),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=5),
        headers={"User-Agent": "edge-agent"},
        **kwargs,
    )


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout_s: float,
    idempotent: bool,
    retry_overload: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """One request with `timeout_s`; transport failures become `DeviceError`.

    Args:
        idempotent: a read that may be sent twice: retried once after a dropped or refused
            connection or a 429/503 answer. Never set it for a write.
        retry_overload: retry a write once after 429/503 (only where the family documents
            that an overloaded answer means "not executed", e.g. Shelly Gen2 429).
        kwargs: passed to ``client.request`` (params, json, headers, auth).

    Raises:
        DeviceError: ``timeout`` (no answer in time: a write's outcome is unknown),
            ``unreachable`` (refused, dropped, DNS) or ``bad_response`` (broken HTTP).
    """
    timeout = httpx.Timeout(timeout_s, connect=min(1.0, timeout_s))
    attempts = 2 if idempotent or retry_overload else 1
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            response = await client.request(
                method, url, timeout=timeout, follow_redirects=False, **kwargs
            )
        except httpx.TimeoutException:
            raise DeviceError("timeout", f"no answer in {timeout_s:g} s; state unknown") from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if last or not idempotent:
                detail = _transport_detail(exc)
                if not idempotent and not isinstance(exc, httpx.ConnectError):
                    detail += "; state unknown"  # the write may have been carried out
                raise DeviceError("unreachable", detail) from None
            await asyncio.sleep(RETRY_DELAY_S)
            continue
        except httpx.HTTPError as exc:
            raise DeviceError("bad_response", exc.__class__.__name__) from None
        if response.status_code in _RETRY_STATUS and not last:
            await asyncio.sleep(RETRY_DELAY_S)
            continue
        return response
    raise AssertionError("unreachable")  # pragma: no cover


def _transport_detail(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect; is the device powered and on the network?"
    return "the device closed the connection without answering"


def json_body(response: httpx.Response) -> Any:
    """The parsed JSON body, or `DeviceError("bad_response")` (never echoing the raw bytes)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        raise DeviceError(
            "bad_response", f"answer (HTTP {response.status_code}) is not JSON"
        ) from None
