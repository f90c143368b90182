"""Asks the service about the configured model: ``GET /v1/models/{model}`` → ``shutdown_date``.

The models endpoint sits next to the Realtime one (``wss://host/v1/realtime`` →
``https://host/v1/models/{model}``) and takes the same credentials the client uses
(`realtime.auth.Credentials`). With a relay (``token_url``) the device holds no key the models
endpoint would take, so it is not asked and the shipped table answers. Used by `doctor` (the
"model" line) and at the daemon's first session connect (`connect_model_warning`), always under a
short timeout; at start-up the shipped table answers at once (`startup_model_warning`).
Must not: decide verdicts (`edge_agent.doctor.model_result`) or show a secret.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from edge_agent.config import Config
from edge_agent.doctor import CheckResult, model_result
from edge_agent.net.http1 import AsyncioTransport
from edge_agent.probes.worker import why
from edge_agent.realtime.models import Deprecation, deprecation, parse_shutdown_date

__all__ = [
    "STARTUP_TIMEOUT_S",
    "ModelLookup",
    "connect_model_warning",
    "lookup_model",
    "model",
    "models_url",
    "startup_model_warning",
]

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S: Final = 3.0
"""Cap on the daemon's lookup; it runs beside the first session and never delays it."""
_MAX_BODY: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class ModelLookup:
    """What the service said about the model; `asked` False means "use the table"."""

    asked: bool
    shutdown: dt.date | None = None
    not_found: bool = False
    why_not: str = ""
    """Why the service was not asked or did not answer ('' when it did)."""


def models_url(realtime_url: str, model: str) -> str:
    """``wss://host/v1/realtime?x`` → ``https://host/v1/models/<model>`` (same host and prefix)."""
    parts = urlsplit(realtime_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    base = parts.path.rstrip("/")
    base = base[: -len("/realtime")] if base.endswith("/realtime") else base
    return urlunsplit((scheme, parts.netloc, f"{base}/models/{quote(model, safe='')}", "", ""))


async def lookup_model(
    cfg: Config, timeout_s: float, http: httpx.AsyncClient | None = None
) -> ModelLookup:
    """One GET under `timeout_s`; never raises for network or service trouble."""
    rt = cfg.realtime
    if rt.token_url:
        return ModelLookup(False, why_not="a relay holds the key")
    if not cfg.api_key:
        return ModelLookup(False, why_not="no API key")
    headers = (
        {"api-key": cfg.api_key.reveal()}
        if rt.auth == "api-key"
        else {"Authorization": f"Bearer {cfg.api_key.reveal()}"}
    )
    url = models_url(rt.url, rt.model)
    client = http or _client(timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("GET", url, headers=headers) as resp:
                body = b""
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_BODY:
                        return ModelLookup(False, why_not="the answer is too large")
                status = resp.status_code
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        reason = why(_root_os_error(exc) or exc, timeout_s).removeprefix("oserror: ")
        return ModelLookup(False, why_not=f"the service did not answer: {reason}")
    finally:
        if http is None:
            await client.aclose()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if status == 404 and _error_code(data) == "model_not_found":
        return ModelLookup(True, not_found=True)
    if status != 200:  # a 404 without that code is a proxy or an emulator, not the models API
        return ModelLookup(False, why_not=f"the models endpoint answered http {status}")
    if data is None:
        return ModelLookup(False, why_not="the models endpoint answered no JSON")
    if not isinstance(data, dict):
        return ModelLookup(False, why_not="the models endpoint answered no object")
    raw = data.get("shutdown_date")
    shutdown = parse_shutdown_date(raw)
    if raw is not None and shutdown is None:
        return ModelLookup(False, why_not="the service's shutdown_date is not a date")
    return ModelLookup(True, shutdown=shutdown)


def _client(timeout_s: float) -> httpx.AsyncClient:
    """A client on the daemon's transport: no TLS context for plain http (a LAN proxy, the
    emulator), the shared one (built off the loop at the first https request) otherwise."""
    return httpx.AsyncClient(timeout=timeout_s, transport=AsyncioTransport())


def _root_os_error(exc: BaseException) -> OSError | None:
    """The OSError under httpx's wrappers ("connection refused" beats "ConnectError")."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _error_code(data: object) -> str:
    err = data.get("error") if isinstance(data, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    return code if isinstance(code, str) else ""


async def model(cfg: Config, timeout_s: float, today: dt.date | None = None) -> CheckResult:
    """The doctor's "model" line: deprecated (with its date), unknown, or current."""
    found = await lookup_model(cfg, timeout_s)
    return model_result(
        cfg.realtime.model,
        found.shutdown,
        asked=found.asked,
        not_found=found.not_found,
        why_not=found.why_not,
        today=today or dt.date.today(),
    )


def startup_model_warning(cfg: Config, *, today: dt.date | None = None) -> str | None:
    """At start-up, at once and offline: log a WARNING when the shipped table says the
    configured model is deprecated; returns it.

    No request here: an HTTP client (httpcore, h11, anyio, certifi and a TLS context) costs an
    idle daemon ~4 MB it would keep; the service is asked at the first session connect instead
    (`connect_model_warning`), when the Realtime socket has loaded TLS anyway.
    """
    notice = deprecation(cfg.realtime.model, None, asked=False)
    return None if notice is None else _warn(notice, today)


async def connect_model_warning(
    cfg: Config,
    *,
    table: str | None,
    timeout_s: float = STARTUP_TIMEOUT_S,
    today: dt.date | None = None,
) -> str | None:
    """At the first session connect: ask the service; log a WARNING when it says something the
    start-up warning (`table`, from `startup_model_warning`) did not. Returns that warning.

    The service wins over the table: a shutdown date the table lacks or dates differently, or
    ``model_not_found``. Its silence, a timeout or a relay leave the table's word standing.
    """
    found = await lookup_model(cfg, timeout_s)
    rt = cfg.realtime
    if found.not_found:
        from edge_agent.realtime.models import model_not_found_message

        text = model_not_found_message(rt.model)
        log.warning("%s", text, extra={"MODEL": rt.model, "ERROR_CODE": "model_not_found"})
        return text
    if not found.asked:
        log.debug("model lifecycle: the service was not asked (%s)", found.why_not)
        return None
    notice = deprecation(rt.model, found.shutdown, asked=True)
    if notice is None:
        return None
    text = notice.message(today or dt.date.today())
    return None if text == table else _warn(notice, today, text)


def _warn(notice: Deprecation, today: dt.date | None, text: str = "") -> str:
    text = text or notice.message(today or dt.date.today())
    log.warning(
        "%s (from the %s)",
        text,
        "service" if notice.source == "service" else "shipped table",
        extra={"MODEL": notice.model, "SHUTDOWN_DATE": notice.shutdown.isoformat()},
    )
    return text
