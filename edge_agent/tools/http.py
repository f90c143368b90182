"""The one HTTP client the tools share, and the one request path every tool uses.

`make_http_client` builds the daemon's single ``httpx.AsyncClient``: connections are reused,
every request has a timeout (connect ≤ 1 s, total from ``tools.http_timeout_s``), redirects are
never followed (a device must not send us elsewhere) and proxy/env settings are ignored
(``trust_env=False``: a proxy would see local traffic and credentials).

`Exchange` sends one peer's requests (a device driver, or the weather service) and owns the
rules devices.md §0 and §8.5 set for all of them: one deadline on the whole exchange (queueing
and the retry included), connect ≤ 1 s, no redirects, one request in flight per peer, optional
pacing (Hue), and at most one retry, only where it is safe: idempotent reads after a dropped or
refused connection, and statuses the family defines as "not processed, try again" (Shelly Gen2
429, WLED 503, Hue 429/503). httpx failures become `DeviceError` codes (``timeout``,
``unreachable``, ``bad_response``). It logs the peer name, a `label` the caller chooses, the
error code and the latency — never the URL: Hue puts its username in the path. It does not
judge bodies: success by body is each family driver's job, except that a redirect (3xx) is a
``device_error`` for every peer (we never follow one, and it is not a success).

Answers are bounded: we ask for ``Accept-Encoding: identity``, refuse any other
``Content-Encoding`` (a gzip bomb is never inflated), and stream the body with a byte cap (the
peer's ``max_answer_bytes``: 256 KiB for devices, 1 MiB for weather by default); a larger answer
is ``bad_response`` "answer too large" and its connection is dropped. JSON is parsed with
NaN/Infinity refused; a body over `OFF_LOOP_JSON_BYTES` is parsed in a worker thread by the
pure-Python scanner, which lets the GIL go every switch interval, so the event loop keeps
running (the C scanner would hold it for the whole parse).

The shared client's pool is unbounded on purpose: every peer has at most one request in flight
(its `Exchange` lock), so a peer uses at most one connection and hung peers cannot starve the
others (a shared 20-connection pool made a healthy device wait behind 20 hung ones).
"""

from __future__ import annotations

import asyncio
import json
import json.scanner
import logging
import ssl
import time
from collections.abc import Collection, Mapping
from typing import Any, Final, Protocol

import httpx

from edge_agent.config import ToolsConfig
from edge_agent.net.http1 import AsyncioTransport
from edge_agent.tools.drivers.base import DeviceError

__all__ = [
    "DEVICE_MAX_ANSWER_BYTES",
    "MAX_RETRY_WAIT_S",
    "OFF_LOOP_JSON_BYTES",
    "Exchange",
    "Peer",
    "json_body",
    "json_object",
    "make_http_client",
    "maybe_json",
]

log = logging.getLogger(__name__)

MAX_RETRY_WAIT_S: Final = 1.0
"""The longest Retry-After we honour before the one retry (the deadline still applies)."""
DEVICE_MAX_ANSWER_BYTES: Final = 262144
"""The default cap on one answer body (``tools.max_answer_bytes``)."""
OFF_LOOP_JSON_BYTES: Final = 65536
"""Bodies larger than this are parsed in a worker thread (small ones cost less than the hop)."""
_PARSED: Final = "edge_agent.json"  # response.extensions key of a body parsed off the loop
_MISSING: Final = object()


def make_http_client(cfg: ToolsConfig | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """A new shared client; its owner closes it with ``await client.aclose()``.

    Its transport is `edge_agent.net.http1.AsyncioTransport` (HTTP/1.1 over asyncio, no
    httpcore or anyio; a TLS context only at the first https request) unless the caller passes
    its own ``transport``, ``mounts`` or a ``proxy``; ``verify`` and ``limits`` go to it.
    """
    timeout_s = (cfg or ToolsConfig()).http_timeout_s
    kwargs.setdefault(
        "limits",
        httpx.Limits(max_connections=None, max_keepalive_connections=16, keepalive_expiry=5),
    )  # one request in flight per peer (Exchange): the pool never queues one behind another
    if "transport" not in kwargs and "mounts" not in kwargs and not kwargs.get("proxy"):
        pool = {k: kwargs.pop(k) for k in ("verify", "limits") if k in kwargs}
        kwargs["transport"] = AsyncioTransport(**pool)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(1.0, timeout_s)),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "edge-agent", "Accept-Encoding": "identity"},
        **kwargs,
    )


class Peer(Protocol):
    """What an `Exchange` reads from its owner at send time (a `Driver` is one)."""

    @property
    def http(self) -> httpx.AsyncClient: ...
    @property
    def base_url(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def name(self) -> str: ...
    @property
    def max_answer_bytes(self) -> int: ...


class Exchange:
    """Sends one peer's requests: ``await exchange.send("GET", "/json/state", label=...)``."""

    def __init__(
        self, peer: Peer, auth: httpx.Auth | None = None, min_interval_s: float = 0.0
    ) -> None:
        self.peer = peer  # read at send time: http, base_url, name, timeout_s
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
        params: Mapping[str, str | int | float] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        retry_statuses: Collection[int] = (),
    ) -> httpx.Response:
        """Send one request, retried at most once, all within the peer's ``timeout_s``.

        Args:
            path: appended to the peer's ``base_url`` (a fixed template, never model input).
            label: what to log instead of the path (e.g. "state", "lights/3").
            idempotent: a read: one retry after a dropped or refused connection. Never a write:
                a write that timed out or lost its connection has an unknown outcome.
            retry_statuses: statuses meaning "not processed": one retry after Retry-After (≤1 s).

        Raises:
            DeviceError: ``timeout`` (no answer in time), ``unreachable`` (refused, dropped,
                invalid address) or ``bad_response`` (an undecodable answer).
        """
        started = time.monotonic()
        timeout_s = self.peer.timeout_s
        try:
            async with asyncio.timeout(timeout_s), self._lock:
                for attempt in (1, 2):
                    resp = await self._attempt(method, path, label, started, idempotent, attempt,
                                               json=json, params=params, headers=headers)  # fmt: skip
                    if resp is None:
                        continue  # a read lost its connection: once more
                    if resp.status_code in retry_statuses and attempt == 1:
                        wait_s = _retry_after_s(resp)
                        log.warning(
                            "device busy (http %d); retrying once in %.1f s",
                            resp.status_code,
                            wait_s,
                            extra={"DEVICE": self.peer.name},
                        )
                        await asyncio.sleep(wait_s)
                        continue
                    return resp
        except TimeoutError:
            raise self._failure(
                "timeout", f"no answer in {timeout_s:g} s; state unknown", started
            ) from None
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        path: str,
        label: str,
        started: float,
        idempotent: bool,
        attempt: int,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """One try: the response, None to retry a read, or DeviceError."""
        peer = self.peer
        await self._pace()
        log.debug("> %s %s", method, label, extra={"DEVICE": peer.name})
        auth: Any = self.auth if self.auth is not None else httpx.USE_CLIENT_DEFAULT
        timeout = httpx.Timeout(peer.timeout_s, connect=min(1.0, peer.timeout_s))
        try:
            request = peer.http.build_request(
                method, peer.base_url + path, timeout=timeout, **kwargs
            )
            request.headers["Accept-Encoding"] = "identity"
            resp = await peer.http.send(request, auth=auth, follow_redirects=False, stream=True)
            try:
                resp = await self._read_bounded(resp, started)
            finally:
                await resp.aclose()
        except httpx.TimeoutException:
            raise TimeoutError from None  # reported once, by send()
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.ConnectError) and _tls_refused(exc):
                detail = "its TLS certificate failed verification; check ca_file/cert_sha256"
                raise self._failure("unreachable", detail, started) from None
            if idempotent and attempt == 1:
                log.warning("device read failed; retrying once", extra={"DEVICE": peer.name})
                return None
            if isinstance(exc, httpx.ConnectError):
                detail = "cannot connect; check the device is on and online"
            else:
                detail = "connection closed before an answer; state unknown"
            raise self._failure("unreachable", detail, started) from None
        except httpx.DecodingError:
            raise self._failure(
                "bad_response", "the answer could not be decoded", started
            ) from None
        except (httpx.RequestError, httpx.InvalidURL):
            detail = "the configured host or port is not a valid address"
            raise self._failure("unreachable", detail, started) from None
        latency_ms = round((time.monotonic() - started) * 1000)
        log.debug("< %s %d", label, resp.status_code,
                  extra={"DEVICE": peer.name, "LATENCY_MS": latency_ms})  # fmt: skip
        if 300 <= resp.status_code < 400:
            detail = f"it answered with a redirect (http {resp.status_code}); nothing confirmed"
            raise self._failure("device_error", detail, started)
        return resp

    async def _read_bounded(self, resp: httpx.Response, started: float) -> httpx.Response:
        """The streamed `resp` read into memory, at most the peer's cap, never decompressed."""
        encoding = resp.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            detail = "the answer was compressed although we asked for none"
            raise self._failure("bad_response", detail, started)
        cap = getattr(self.peer, "max_answer_bytes", DEVICE_MAX_ANSWER_BYTES)
        too_large = f"answer too large (over {cap} bytes)"
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise self._failure("bad_response", too_large, started)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_raw():
            size += len(chunk)
            if size > cap:
                raise self._failure("bad_response", too_large, started)
            chunks.append(chunk)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() != "content-encoding"]
        out = httpx.Response(resp.status_code, headers=headers, content=body,
                             request=resp.request)  # fmt: skip
        if len(body) > OFF_LOOP_JSON_BYTES:
            out.extensions[_PARSED] = await asyncio.to_thread(_parse_slowly, body)
        return out

    async def _pace(self) -> None:
        wait_s = self._last_sent + self.min_interval_s - time.monotonic()
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        self._last_sent = time.monotonic()

    def _failure(self, code: Any, detail: str, started: float) -> DeviceError:
        latency_ms = round((time.monotonic() - started) * 1000)
        log.warning(
            "device request failed: %s",
            code,
            extra={"DEVICE": self.peer.name, "ERROR_CODE": code, "LATENCY_MS": latency_ms},
        )
        return DeviceError(code, detail)


class _NotJson:
    """A body `_parse` could not decode (kept so json_body raises where it is read)."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(parse_constant=_no_constants)
_SLOW_DECODER: Final = json.JSONDecoder(parse_constant=_no_constants)
_SLOW_DECODER.scan_once = json.scanner.py_make_scanner(_SLOW_DECODER)  # type: ignore[attr-defined]


def _parse(body: bytes, decoder: json.JSONDecoder = _DECODER) -> Any:
    try:
        return decoder.decode(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return _NotJson()


def _parse_slowly(body: bytes) -> Any:
    """`_parse` with the pure-Python scanner: it yields the GIL, so the loop thread runs."""
    return _parse(body, _SLOW_DECODER)


def maybe_json(resp: httpx.Response) -> Any:
    """The decoded JSON body, or None when it is not JSON (NaN/Infinity are not JSON)."""
    parsed = resp.extensions.get(_PARSED, _MISSING)
    if parsed is _MISSING:
        parsed = _parse(resp.content) if resp.content else _NotJson()
    return None if isinstance(parsed, _NotJson) else parsed


def json_body(resp: httpx.Response) -> Any:
    """The decoded JSON body, or DeviceError("bad_response") without echoing the bytes."""
    parsed = resp.extensions.get(_PARSED, _MISSING)
    if parsed is _MISSING:
        parsed = _parse(resp.content)
    if isinstance(parsed, _NotJson):
        raise DeviceError("bad_response", "the device answered with something that is not JSON")
    return parsed


def json_object(resp: httpx.Response) -> dict[str, Any]:
    """The decoded body if it is a JSON object, else DeviceError("bad_response")."""
    body = json_body(resp)
    if not isinstance(body, dict):
        raise DeviceError("bad_response", "answer is not a JSON object")
    return body


def _retry_after_s(resp: httpx.Response) -> float:
    try:
        return max(0.0, min(MAX_RETRY_WAIT_S, float(resp.headers.get("retry-after", "0.25"))))
    except ValueError:
        return 0.25


def _tls_refused(exc: BaseException) -> bool:
    """Whether a connect error was a certificate that failed verification (or its pin)."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
