"""One bounded HTTP exchange with a device, with httpx failures mapped to `DeviceError`.

Owns the rules every driver shares (devices.md §0, §8.5): a deadline on the whole exchange
(queueing and retry included), connect ≤ 1 s, no redirects, one request in flight per driver,
optional pacing (Hue), and at most one retry, only where it is safe: idempotent reads, or
statuses the family defines as "not processed, try again" (WLED 503, Hue 429/503). It logs a
`label` the driver chooses, never the URL: Hue puts its username in the path. It does not judge
bodies: success by body is the family driver's job."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx

from edge_agent.tools.drivers.base import DeviceError, Driver

__all__ = ["Exchange", "json_body"]

log = logging.getLogger(__name__)

MAX_RETRY_WAIT_S = 1.0


class Exchange:
    """Sends one driver's requests: `await exchange.send("GET", "/json/state", label=...)`."""

    def __init__(
        self,
        driver: Driver,
        auth: httpx.Auth | None = None,
        min_interval_s: float = 0.0,
    ) -> None:
        self.driver = driver  # read at send time: http, base_url, device.name, timeout_s
        self.auth = auth
        self.min_interval_s = min_interval_s  # Hue v1: aiohue spaces requests by 0.25 s
        self._lock = asyncio.Lock()  # one request in flight per device (devices.md §0)
        self._last_sent = -1e9

    async def send(
        self,
        method: str,
        path: str,
        *,
        label: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        retry_statuses: Collection[int] = (),
    ) -> httpx.Response:
        """Send one request, retried at most once; raises DeviceError (timeout, unreachable).

        Args:
            label: what to log instead of the path (e.g. "state", "lights/3").
            idempotent: a read: one retry after a dropped or refused connection.
            retry_statuses: statuses meaning "not processed": one retry after Retry-After (≤1 s).
        """
        started = time.monotonic()
        driver = self.driver
        timeout_s = driver.timeout_s
        extra = {"DEVICE": driver.device.name}
        timeout = httpx.Timeout(timeout_s, connect=min(1.0, timeout_s))
        auth: Any = self.auth if self.auth is not None else httpx.USE_CLIENT_DEFAULT
        try:
            async with asyncio.timeout(timeout_s), self._lock:
                for attempt in (1, 2):
                    await self._pace()
                    log.debug("> %s %s", method, label, extra=extra)
                    try:
                        resp = await driver.http.request(
                            method,
                            driver.base_url + path,
                            json=json,
                            params=params,
                            headers=headers,
                            auth=auth,
                            timeout=timeout,
                            follow_redirects=False,
                        )
                    except httpx.TimeoutException:
                        raise self._timeout(started) from None
                    except httpx.TransportError as exc:
                        if idempotent and attempt == 1:
                            log.warning("device read failed; retrying once", extra=extra)
                            continue
                        raise self._unreachable(exc, started) from None
                    except httpx.DecodingError:
                        self._log_failure("bad_response", started)
                        raise DeviceError(
                            "bad_response", "the answer could not be decoded"
                        ) from None
                    except (httpx.RequestError, httpx.InvalidURL):
                        self._log_failure("unreachable", started)
                        raise DeviceError(
                            "unreachable", "the configured host or port is not a valid address"
                        ) from None
                    latency_ms = round((time.monotonic() - started) * 1000)
                    log.debug(
                        "< %s %d",
                        label,
                        resp.status_code,
                        extra={**extra, "LATENCY_MS": latency_ms},
                    )
                    if resp.status_code in retry_statuses and attempt == 1:
                        wait_s = _retry_after_s(resp)
                        log.warning(
                            "device busy (http %d); retrying once in %.1f s",
                            resp.status_code,
                            wait_s,
                            extra=extra,
                        )
                        await asyncio.sleep(wait_s)
                        continue
                    return resp
        except TimeoutError:
            raise self._timeout(started) from None
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def _pace(self) -> None:
        wait_s = self._last_sent + self.min_interval_s - time.monotonic()
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        self._last_sent = time.monotonic()

    def _timeout(self, started: float) -> DeviceError:
        self._log_failure("timeout", started)
        return DeviceError("timeout", f"no answer in {self.driver.timeout_s:g} s; state unknown")

    def _unreachable(self, exc: httpx.TransportError, started: float) -> DeviceError:
        self._log_failure("unreachable", started)
        if isinstance(exc, httpx.ConnectError):
            return DeviceError("unreachable", "cannot connect; check the device is on and online")
        return DeviceError("unreachable", "connection closed before an answer; state unknown")

    def _log_failure(self, code: str, started: float) -> None:
        latency_ms = round((time.monotonic() - started) * 1000)
        log.warning(
            "device request failed: %s",
            code,
            extra={"DEVICE": self.driver.device.name, "ERROR_CODE": code, "LATENCY_MS": latency_ms},
        )


def json_body(resp: httpx.Response) -> Any:
    """The decoded JSON body, or DeviceError("bad_response") without echoing the bytes."""
    try:
        return resp.json()
    except ValueError:
        raise DeviceError(
            "bad_response", "the device answered with something that is not JSON"
        ) from None


def _retry_after_s(resp: httpx.Response) -> float:
    try:
        return max(0.0, min(MAX_RETRY_WAIT_S, float(resp.headers.get("retry-after", "0.25"))))
    except ValueError:
        return 0.25
