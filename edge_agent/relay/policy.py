"""Who gets a secret, and what a usage report may say: the relay's rules, with no I/O.

`RelayPolicy` takes the satellite (already authenticated), the request body and the time
(`Now`: a monotonic clock for the rate limit, the aware local time for days and months) and
returns a frozen `Grant` (mint this) or `Refusal` (status, code, message, Retry-After). It keeps
the per-satellite token buckets and the `Ledger`; the shell calls `minted()` after a mint
succeeded upstream and persists `ledger` when `dirty` is set.

Budgets rely on satellites reporting what their turns cost (`POST /v1/usage`): the relay never
sees the conversation, which goes from the satellite to OpenAI directly. A satellite that does
not report is still held by the rate limit, `max_mints_per_day`, the pinned `max_output_tokens`
and the secret's TTL; a revoked token stops it.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final

from edge_agent.relay.ledger import Ledger, Totals
from edge_agent.relay.settings import RelayConfig
from edge_agent.tools.sanitize import clean_text, finite_number

__all__ = [
    "Accepted",
    "Grant",
    "Now",
    "RateLimiter",
    "Refusal",
    "RelayPolicy",
    "UsageReport",
    "parse_report",
]

MAX_TOKENS_PER_REPORT: Final = 10_000_000
REPORTS_PER_MINUTE: Final = 60
_SEEN_IDS: Final = 256
_ID_RE: Final = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Now:
    mono_s: float
    local: datetime  # aware

    @property
    def day(self) -> str:
        return self.local.date().isoformat()


@dataclass(frozen=True, slots=True)
class Grant:
    satellite: str
    model: str
    max_output_tokens: int
    ttl_s: int

    def upstream_body(self) -> dict[str, Any]:
        """The body of ``POST /v1/realtime/client_secrets``: only what the relay pins."""
        return {
            "expires_after": {"anchor": "created_at", "seconds": self.ttl_s},
            "session": {
                "type": "realtime",
                "model": self.model,
                "max_output_tokens": self.max_output_tokens,
            },
        }


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    code: str
    message: str
    retry_after_s: int = 0


@dataclass(frozen=True, slots=True)
class UsageReport:
    cost_usd: float
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""
    id: str = ""


@dataclass(frozen=True, slots=True)
class Accepted:
    duplicate: bool
    today: Totals
    month: Totals


class RateLimiter:
    """A token bucket: `per_minute` requests, refilled evenly; `take()` → seconds to wait."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate_per_s = per_minute / 60.0
        self._level: dict[str, tuple[float, float]] = {}  # key → (tokens, at mono_s)

    def take(self, key: str, mono_s: float) -> float:
        """0.0 when allowed (a token is taken), else seconds until one is there."""
        tokens, at = self._level.get(key, (self.capacity, mono_s))
        tokens = min(self.capacity, tokens + max(0.0, mono_s - at) * self.rate_per_s)
        if tokens >= 1.0:
            self._level[key] = (tokens - 1.0, mono_s)
            return 0.0
        self._level[key] = (tokens, mono_s)
        return (1.0 - tokens) / self.rate_per_s


class RelayPolicy:
    def __init__(self, config: RelayConfig, ledger: Ledger | None = None) -> None:
        self.config = config
        self.ledger = ledger or Ledger()
        self.dirty = False
        self._mint_bucket = RateLimiter(config.requests_per_minute)
        self._report_bucket = RateLimiter(REPORTS_PER_MINUTE)
        self._seen: dict[str, deque[str]] = {}
        self._limits = {s.name: s for s in config.satellites}

    # -- minting ------------------------------------------------------------------------------
    def request_mint(self, satellite: str, body: object, now: Now) -> Grant | Refusal:
        cfg = self.config
        model = _asked_model(body)
        if isinstance(model, Refusal):
            return model
        limits = self._limits.get(satellite)
        models = (limits.models if limits else ()) or cfg.models
        model = model or models[0]
        if model not in models:
            return Refusal(
                403,
                "model_not_allowed",
                f"this satellite may get {', '.join(models)} only, not "
                f"{clean_text(model, 64)!r}; set realtime.model to one of them",
            )
        wait = self._mint_bucket.take(satellite, now.mono_s)
        if wait:
            return Refusal(
                429,
                "rate_limited",
                f"more than {cfg.requests_per_minute} secrets a minute asked for",
                math.ceil(wait),
            )
        over = self._over_budget(satellite, now)
        if over is not None:
            return over
        if cfg.max_mints_per_day and (
            self.ledger.day(now.day, satellite).mints >= cfg.max_mints_per_day
        ):
            return Refusal(
                429,
                "mint_cap_reached",
                f"this satellite had its {cfg.max_mints_per_day} secrets for today",
                _to_midnight(now.local),
            )
        return Grant(satellite, model, cfg.max_output_tokens, cfg.secret_ttl_s)

    def minted(self, grant: Grant, now: Now) -> None:
        self.ledger.add(grant.satellite, now.day, Totals(mints=1))
        self.dirty = True

    def _over_budget(self, satellite: str, now: Now) -> Refusal | None:
        cfg, day, month = self.config, now.day, now.day[:7]
        own = self._limits.get(satellite)
        daily, monthly = cfg.satellite_daily_usd, cfg.satellite_monthly_usd
        if own is not None:
            daily = daily if own.daily_usd < 0 else own.daily_usd
            monthly = monthly if own.monthly_usd < 0 else own.monthly_usd
        checks = (
            (daily, self.ledger.day(day, satellite), "this satellite's daily"),
            (cfg.household_daily_usd, self.ledger.day(day), "the household's daily"),
            (monthly, self.ledger.month(month, satellite), "this satellite's monthly"),
            (cfg.household_monthly_usd, self.ledger.month(month), "the household's monthly"),
        )
        for cap, spent, what in checks:
            if cap and spent.usd >= cap:
                wait = _to_midnight(now.local) if "daily" in what else _to_month_end(now.local)
                return Refusal(
                    429,
                    "budget_reached",
                    f"{what} budget of {cap:.2f} USD is spent ({spent.usd:.2f} USD)",
                    wait,
                )
        return None

    # -- usage reports ------------------------------------------------------------------------
    def request_report(self, satellite: str, body: object, now: Now) -> Accepted | Refusal:
        wait = self._report_bucket.take(satellite, now.mono_s)
        if wait:
            return Refusal(
                429,
                "rate_limited",
                f"more than {REPORTS_PER_MINUTE} reports a minute",
                math.ceil(wait),
            )
        report = parse_report(body, self.config.max_report_usd)
        if isinstance(report, Refusal):
            return report
        seen = self._seen.setdefault(satellite, deque(maxlen=_SEEN_IDS))
        duplicate = bool(report.id) and report.id in seen
        if not duplicate:
            if report.id:
                seen.append(report.id)
            self.ledger.add(
                satellite,
                now.day,
                Totals(report.cost_usd, report.input_tokens, report.output_tokens, reports=1),
            )
            self.dirty = True
        return Accepted(
            duplicate,
            self.ledger.day(now.day, satellite),
            self.ledger.month(now.day[:7], satellite),
        )


def parse_report(body: object, max_usd: float) -> UsageReport | Refusal:
    """A usage report from a satellite's JSON, bounded and checked; never trusted further."""

    def bad(why: str) -> Refusal:
        return Refusal(400, "bad_report", why)

    if not isinstance(body, dict):
        return bad('expected {"cost_usd": <number>, "input_tokens": <int>, ...}')
    unknown = set(body) - {"cost_usd", "input_tokens", "output_tokens", "model", "id"}
    if unknown:
        return bad(f"unknown field {clean_text(sorted(unknown)[0], 40)!r}")
    cost = finite_number(body.get("cost_usd"))
    if cost is None or not 0 <= cost <= max_usd:
        return bad(f"cost_usd: expected a number from 0 to {max_usd}")
    counts = []
    for key in ("input_tokens", "output_tokens"):
        value = body.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            return bad(f"{key}: expected an integer")
        if not 0 <= value <= MAX_TOKENS_PER_REPORT:
            return bad(f"{key}: expected 0 to {MAX_TOKENS_PER_REPORT}")
        counts.append(value)
    model = body.get("model", "")
    if not isinstance(model, str) or len(model) > 64:
        return bad("model: expected a model name")
    rid = body.get("id", "")
    if not isinstance(rid, str) or (rid and not _ID_RE.match(rid)):
        return bad("id: expected up to 64 of A-Z a-z 0-9 . _ : -")
    return UsageReport(float(cost), counts[0], counts[1], clean_text(model, 64), rid)


def _asked_model(body: object) -> str | Refusal:
    """The model a mint request names: ``{"model": m}`` (the daemon) or ``{"session": {...}}``."""
    if body is None:
        return ""
    if not isinstance(body, dict):
        return Refusal(400, "bad_request", 'expected a JSON object like {"model": "..."}')
    model = body.get("model")
    session = body.get("session")
    if model is None and isinstance(session, dict):
        model = session.get("model")
    if model is None:
        return ""
    if not isinstance(model, str) or not model or len(model) > 64:
        return Refusal(400, "bad_request", "model: expected a model name")
    return model


def _to_midnight(local: datetime) -> int:
    nxt = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    return max(1, math.ceil((nxt - local).total_seconds()))


def _to_month_end(local: datetime) -> int:
    first = local.date().replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return max(
        1, math.ceil((datetime.combine(nxt, time(0), tzinfo=local.tzinfo) - local).total_seconds())
    )
