"""The budget policy: what is spent today and this month, the limits, now → a verdict. Pure.

Days and months are local (the user's midnight, not UTC's): the ledger stores each turn's
local day and month, and `Totals` says which day and month its sums belong to. A `Totals` from
yesterday counts as nothing spent today, so the policy itself rolls over at local midnight even
if the caller's totals are a little stale.

Verdicts, in order of precedence once a limit is reached: ``refuse`` (open no session),
``use_model`` (new sessions use `BudgetConfig.mini_model`), ``warn`` (go on, say so in the
journal). Below the limits: ``warn`` from `warn_ratio` of a limit, else ``ok``.
Must not: read the clock, the ledger or the config file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

from edge_agent.config import BudgetConfig

__all__ = ["Totals", "Verdict", "local_day", "local_month", "verdict"]

Action = Literal["ok", "warn", "use_model", "refuse"]
_EPS: Final = 1e-9


def local_day(now: dt.datetime, tz: dt.tzinfo | None) -> str:
    """'2026-12-02': the local calendar day of an aware `now` (tz None: the system's zone)."""
    return now.astimezone(tz).date().isoformat()


def local_month(now: dt.datetime, tz: dt.tzinfo | None) -> str:
    """'2026-12': the local calendar month of an aware `now`."""
    return now.astimezone(tz).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class Totals:
    """USD spent in one local day and one local month (the ledger's sums)."""

    day: str
    day_usd: float
    month: str
    month_usd: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with the next session, and why (for the journal, doctor and `usage`)."""

    action: Action
    model: str
    """The model the next session must use (the configured one unless 'use_model')."""
    reason: str
    reached: bool = False
    """A limit is reached (the LED shows `status.led.budget` instead of idle)."""
    day_usd: float = 0.0
    month_usd: float = 0.0


def _spent(totals: Totals, now: dt.datetime, tz: dt.tzinfo | None) -> tuple[float, float]:
    day = totals.day_usd if totals.day == local_day(now, tz) else 0.0
    month = totals.month_usd if totals.month == local_month(now, tz) else 0.0
    return max(0.0, day), max(0.0, month)


def verdict(
    totals: Totals, config: BudgetConfig, model: str, now: dt.datetime, tz: dt.tzinfo | None
) -> Verdict:
    """The verdict for a session opened at `now` with the configured `model`.

    Args:
        totals: the ledger's sums (for any day/month: stale ones count as nothing).
        now: an aware datetime; `tz` is the household's local time zone (None: the system's,
            DST included, as `datetime.astimezone` reads it).
    """
    day, month = _spent(totals, now, tz)
    limits = [
        ("daily", day, config.daily_usd, "tomorrow"),
        ("monthly", month, config.monthly_usd, "next month"),
    ]
    for name, spent, limit, until in limits:
        if limit > 0 and spent + _EPS >= limit:
            fact = f"reached the {name} budget: ${spent:.2f} of ${limit:.2f}"
            if config.action == "refuse":
                why = f"{fact}; no sessions until {until}"
                return Verdict("refuse", model, why, True, day, month)
            if config.action == "mini" and model != config.mini_model:
                why = f"{fact}; new sessions use {config.mini_model!r} until {until}"
                return Verdict("use_model", config.mini_model, why, True, day, month)
            why = f"{fact}; carrying on (budget.action = {config.action!r})"
            return Verdict("warn", model, why, True, day, month)
    for name, spent, limit, _until in limits:
        if limit > 0 and config.warn_ratio > 0 and spent + _EPS >= config.warn_ratio * limit:
            why = f"{spent / limit:.0%} of the {name} budget spent: ${spent:.2f} of ${limit:.2f}"
            return Verdict("warn", model, why, False, day, month)
    if config.daily_usd <= 0 and config.monthly_usd <= 0:
        why = f"no budget set; today ${day:.2f}, this month ${month:.2f}"
        return Verdict("ok", model, why, False, day, month)
    return Verdict("ok", model, _within(day, month, config), False, day, month)


def _within(day: float, month: float, config: BudgetConfig) -> str:
    parts = []
    if config.daily_usd > 0:
        parts.append(f"today ${day:.2f} of ${config.daily_usd:.2f}")
    if config.monthly_usd > 0:
        parts.append(f"this month ${month:.2f} of ${config.monthly_usd:.2f}")
    return "within budget: " + ", ".join(parts)
