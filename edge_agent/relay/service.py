"""The relay service: routes, satellite auth, the policy, upstream mints, logs and persistence.

Endpoints (JSON; errors are ``{"error": {"code", "message"}}``):

- ``POST /v1/realtime/client_secrets`` with ``Authorization: Bearer <satellite token>`` and
  ``{"model": "..."}`` (what the daemon's `realtime.token_url` client sends; OpenAI's
  ``{"session": {"model": ...}}`` works too, everything else in it is ignored) →
  ``{"value": "ek_...", "expires_at": <unix s>, "session": {...the pinned config}}``.
- ``POST /v1/usage`` with the token and ``{"cost_usd", "input_tokens", "output_tokens",
  "model", "id"}`` (one turn) → ``{"accepted": true, "today_usd": ..., "month_usd": ...}``.
- ``GET /healthz`` → ``{"ok": true}`` (no token; says nothing else).

401 (no, unknown or revoked token: nothing is minted), 403 (a model it may not have),
429 with Retry-After (rate or budget), 502/503/504 (upstream trouble, without its words).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from edge_agent.relay.httpserver import HttpRequest, HttpResponse, HttpServer
from edge_agent.relay.policy import Accepted, Grant, Now, Refusal, RelayPolicy
from edge_agent.relay.settings import LoadedRelayConfig, tls_context
from edge_agent.relay.store import RelayStore, StoreError
from edge_agent.relay.tokens import Registry, Satellite
from edge_agent.relay.upstream import Minted, mint

__all__ = ["RelayService", "system_now"]

log = logging.getLogger("edge_agent.relay")

MINT_PATH = "/v1/realtime/client_secrets"
USAGE_PATH = "/v1/usage"


def system_now() -> Now:
    return Now(time.monotonic(), datetime.now().astimezone())


class RelayService:
    """`await start()`, `url`, `await stop()`; `handle()` is the whole HTTP application."""

    def __init__(self, loaded: LoadedRelayConfig, *, clock: Callable[[], Now] = system_now) -> None:
        self.config = loaded.relay
        self._api_key = loaded.api_key
        self._clock = clock
        self.store = RelayStore(self.config.state_dir)
        self.registry = Registry()
        self.policy = RelayPolicy(self.config, self.store.load_ledger())
        self._server = HttpServer(self.handle, max_connections=self.config.max_connections)
        self._save_wanted = asyncio.Event()
        self._registry_lock = asyncio.Lock()
        self._saver: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None
        self.tls = bool(self.config.tls_cert_file)

    async def start(self, host: str | None = None, port: int | None = None) -> RelayService:
        await self._reload_registry()
        ctx = tls_context(self.config) if self.tls else None
        await self._server.start(
            host or self.config.listen, self.config.port if port is None else port, ctx
        )
        self._saver = asyncio.create_task(self._save_loop(), name="relay-usage-saver")
        log.info(
            "relay listening on %s (%d satellites, upstream %s)",
            self.url,
            sum(not s.revoked for s in self.registry),
            self.config.upstream_url,
        )
        return self

    async def stop(self) -> None:
        await self._server.stop()
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
            self._saver = None
        if self._writing is not None:
            with contextlib.suppress(StoreError):
                await self._writing
        if self.policy.dirty:
            await self._save_now()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        host = self.config.listen
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    # -- the application ----------------------------------------------------------------------
    async def handle(self, req: HttpRequest) -> HttpResponse:
        path = req.target.split("?", 1)[0]
        if path == "/healthz":
            return _json(200, {"ok": True}) if req.method == "GET" else _method_not_allowed("GET")
        if path not in (MINT_PATH, USAGE_PATH):
            return _error(Refusal(404, "not_found", "no such endpoint"))
        if req.method != "POST":
            return _method_not_allowed("POST")
        sat = await self._authenticate(req, path)
        if isinstance(sat, HttpResponse):
            return sat
        try:
            body = json.loads(req.body) if req.body.strip() else None
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            return _error(Refusal(400, "bad_request", "the body is not JSON"))
        now = self._clock()
        if path == MINT_PATH:
            return await self._mint(sat, body, now)
        return self._report(sat, body, now)

    async def _authenticate(self, req: HttpRequest, path: str) -> Satellite | HttpResponse:
        async with self._registry_lock:  # requests that arrive during a reload wait for it
            if self.store.registry_changed():
                await self._reload_registry()
        auth = req.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        check = self.registry.verify(token)
        if check.satellite is None:
            log.warning(
                "refused %s from %s: %s satellite token",
                path,
                req.peer.rsplit(":", 1)[0],
                check.reason,
                extra={"ERROR_CODE": "unauthorized"},
            )
            return _error(
                Refusal(401, "unauthorized", f"{check.reason} satellite token"),
                (("WWW-Authenticate", 'Bearer realm="edge-agent-relay"'),),
            )
        return check.satellite

    async def _mint(self, sat: Satellite, body: Any, now: Now) -> HttpResponse:
        decision = self.policy.request_mint(sat.name, body, now)
        if isinstance(decision, Refusal):
            return self._refused(sat, "secret", decision)
        got = await mint(
            self.config.upstream_url, self._api_key, decision, self.config.upstream_timeout_s
        )
        if isinstance(got, Refusal):
            return self._refused(sat, "secret", got)
        self.policy.minted(decision, now)
        self._save_wanted.set()
        log.info(
            "minted a secret for %s (model %s, %d s)",
            sat.name,
            decision.model,
            got.expires_at - int(time.time()),
            extra={"SATELLITE": sat.name, "MODEL": decision.model},
        )
        return _json(200, _secret_answer(got, decision))

    def _report(self, sat: Satellite, body: Any, now: Now) -> HttpResponse:
        decision = self.policy.request_report(sat.name, body, now)
        if isinstance(decision, Refusal):
            return self._refused(sat, "usage report", decision)
        assert isinstance(decision, Accepted)
        if not decision.duplicate:
            self._save_wanted.set()
            log.info(
                "usage from %s: today %.4f USD, this month %.4f USD",
                sat.name,
                decision.today.usd,
                decision.month.usd,
                extra={"SATELLITE": sat.name, "COST_USD": f"{decision.today.usd:.6f}"},
            )
        return _json(
            200,
            {
                "accepted": True,
                "duplicate": decision.duplicate,
                "today_usd": round(decision.today.usd, 6),
                "month_usd": round(decision.month.usd, 6),
            },
        )

    def _refused(self, sat: Satellite, what: str, refusal: Refusal) -> HttpResponse:
        level = logging.ERROR if refusal.status >= 500 else logging.WARNING
        log.log(
            level,
            "refused a %s to %s: %s (%s)",
            what,
            sat.name,
            refusal.message,
            refusal.code,
            extra={"SATELLITE": sat.name, "ERROR_CODE": refusal.code},
        )
        return _error(refusal)

    # -- state ------------------------------------------------------------------------------
    async def _reload_registry(self) -> None:
        try:
            self.registry = await asyncio.to_thread(self.store.load_registry)
        except StoreError as exc:
            self.registry = Registry()  # fail closed
            log.error("no satellite may mint until this is fixed: %s", exc)

    async def _save_loop(self) -> None:
        while True:
            await self._save_wanted.wait()
            self._save_wanted.clear()
            await self._save_now()
            await asyncio.sleep(0.5)  # coalesce a burst of reports into one write

    async def _save_now(self) -> None:
        self.policy.dirty = False
        data = self.policy.ledger.to_json()
        # Shielded: cancelling the saver (stop()) must not leave a write running unawaited.
        self._writing = asyncio.ensure_future(asyncio.to_thread(self.store.save_usage, data))
        try:
            await asyncio.shield(self._writing)
        except StoreError as exc:
            log.error("usage totals not saved: %s", exc)


def _secret_answer(got: Minted, grant: Grant) -> dict[str, Any]:
    return {
        "value": got.value.reveal(),
        "expires_at": got.expires_at,
        "session": grant.upstream_body()["session"],
    }


def _json(
    status: int, data: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()
) -> HttpResponse:
    return HttpResponse(status, json.dumps(data).encode(), headers)


def _error(refusal: Refusal, headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    if refusal.retry_after_s:
        headers = (*headers, ("Retry-After", str(refusal.retry_after_s)))
    return _json(
        refusal.status, {"error": {"code": refusal.code, "message": refusal.message}}, headers
    )


def _method_not_allowed(allow: str) -> HttpResponse:
    return _error(Refusal(405, "method_not_allowed", f"use {allow}"), (("Allow", allow),))
