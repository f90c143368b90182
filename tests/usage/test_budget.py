"""budget.py: the pure policy with literal totals, limits and times (local midnight included)."""

from __future__ import annotations

import datetime as dt

from edge_agent.config import BudgetConfig
from edge_agent.usage.budget import Totals, Verdict, local_day, local_month, verdict

BERLIN_WINTER = dt.timezone(dt.timedelta(hours=1))
MODEL = "gpt-realtime-2.1"


def at(text: str) -> dt.datetime:
    """An aware time in UTC ('2026-12-02T13:00')."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_no_budget_is_ok_and_says_what_was_spent() -> None:
    v = verdict(
        Totals("2026-12-02", 1.5, "2026-12", 7.25),
        BudgetConfig(),
        MODEL,
        at("2026-12-02T12:00"),
        BERLIN_WINTER,
    )
    assert v == Verdict(
        "ok", MODEL, "no budget set; today $1.50, this month $7.25", False, 1.5, 7.25
    )


def test_within_budget() -> None:
    cfg = BudgetConfig(daily_usd=2.0, monthly_usd=30.0)
    v = verdict(
        Totals("2026-12-02", 0.5, "2026-12", 4.0), cfg, MODEL, at("2026-12-02T12:00"), BERLIN_WINTER
    )
    assert v == Verdict(
        "ok",
        MODEL,
        "within budget: today $0.50 of $2.00, this month $4.00 of $30.00",
        False,
        0.5,
        4.0,
    )


def test_warns_from_the_warn_ratio() -> None:
    cfg = BudgetConfig(daily_usd=2.0, warn_ratio=0.8)
    v = verdict(
        Totals("2026-12-02", 1.6, "2026-12", 1.6), cfg, MODEL, at("2026-12-02T12:00"), BERLIN_WINTER
    )
    assert v == Verdict(
        "warn", MODEL, "80% of the daily budget spent: $1.60 of $2.00", False, 1.6, 1.6
    )


def test_reached_mid_day_with_mini_switches_the_next_sessions_model() -> None:
    cfg = BudgetConfig(daily_usd=2.0, action="mini")
    noon = at("2026-12-02T11:00")  # 12:00 local
    before = verdict(Totals("2026-12-02", 1.99, "2026-12", 1.99), cfg, MODEL, noon, BERLIN_WINTER)
    after = verdict(Totals("2026-12-02", 2.01, "2026-12", 2.01), cfg, MODEL, noon, BERLIN_WINTER)
    assert before.action == "warn" and before.model == MODEL and not before.reached
    assert after == Verdict(
        "use_model",
        "gpt-realtime-2.1-mini",
        "reached the daily budget: $2.01 of $2.00; new sessions use 'gpt-realtime-2.1-mini' "
        "until tomorrow",
        True,
        2.01,
        2.01,
    )


def test_reached_with_refuse_opens_no_session() -> None:
    cfg = BudgetConfig(monthly_usd=20.0, action="refuse")
    v = verdict(
        Totals("2026-12-02", 0.3, "2026-12", 20.0),
        cfg,
        MODEL,
        at("2026-12-02T11:00"),
        BERLIN_WINTER,
    )
    assert v == Verdict(
        "refuse",
        MODEL,
        "reached the monthly budget: $20.00 of $20.00; no sessions until next month",
        True,
        0.3,
        20.0,
    )


def test_reached_with_warn_carries_on() -> None:
    cfg = BudgetConfig(daily_usd=1.0, action="warn")
    v = verdict(
        Totals("2026-12-02", 1.2, "2026-12", 1.2), cfg, MODEL, at("2026-12-02T11:00"), BERLIN_WINTER
    )
    assert v == Verdict(
        "warn",
        MODEL,
        "reached the daily budget: $1.20 of $1.00; carrying on (budget.action = 'warn')",
        True,
        1.2,
        1.2,
    )


def test_mini_already_in_use_only_warns() -> None:
    cfg = BudgetConfig(daily_usd=1.0, action="mini")
    v = verdict(
        Totals("2026-12-02", 1.2, "2026-12", 1.2),
        cfg,
        "gpt-realtime-2.1-mini",
        at("2026-12-02T11:00"),
        BERLIN_WINTER,
    )
    assert (v.action, v.model, v.reached) == ("warn", "gpt-realtime-2.1-mini", True)


def test_the_day_rolls_over_at_local_midnight_not_utc() -> None:
    """23:30 UTC on Dec 2 is 00:30 on Dec 3 in Berlin: yesterday's spend no longer counts."""
    cfg = BudgetConfig(daily_usd=2.0, monthly_usd=50.0, action="refuse")
    spent = Totals("2026-12-02", 2.5, "2026-12", 10.0)
    before = verdict(spent, cfg, MODEL, at("2026-12-02T22:59"), BERLIN_WINTER)  # 23:59 local
    after = verdict(spent, cfg, MODEL, at("2026-12-02T23:00"), BERLIN_WINTER)  # 00:00 local
    assert before.action == "refuse"
    assert after == Verdict(
        "ok",
        MODEL,
        "within budget: today $0.00 of $2.00, this month $10.00 of $50.00",
        False,
        0.0,
        10.0,
    )
    assert local_day(at("2026-12-02T22:59"), BERLIN_WINTER) == "2026-12-02"
    assert local_day(at("2026-12-02T23:00"), BERLIN_WINTER) == "2026-12-03"
    assert local_day(at("2026-12-02T23:00"), dt.UTC) == "2026-12-02"


def test_the_month_rolls_over_at_local_midnight() -> None:
    cfg = BudgetConfig(monthly_usd=20.0, action="refuse")
    spent = Totals("2026-12-31", 0.0, "2026-12", 25.0)
    new_year = at("2026-12-31T23:00")  # 00:00 on Jan 1 in Berlin
    assert local_month(new_year, BERLIN_WINTER) == "2027-01"
    assert verdict(spent, cfg, MODEL, new_year, BERLIN_WINTER).action == "ok"
    assert verdict(spent, cfg, MODEL, at("2026-12-31T22:59"), BERLIN_WINTER).action == "refuse"
