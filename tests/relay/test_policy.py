"""The relay's rules, sans I/O: literal inputs, whole decisions compared."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge_agent.relay.ledger import Ledger, Totals
from edge_agent.relay.policy import (
    Accepted,
    Grant,
    Now,
    RateLimiter,
    Refusal,
    RelayPolicy,
    UsageReport,
    parse_report,
)
from edge_agent.relay.settings import RelayConfig, SatelliteLimits

TZ = timezone(timedelta(hours=1))
EVENING = Now(100.0, datetime(2026, 12, 31, 22, 30, tzinfo=TZ))


def test_rate_limiter_refills_evenly() -> None:
    bucket = RateLimiter(per_minute=2)
    assert [bucket.take("a", 0.0), bucket.take("a", 0.0)] == [0.0, 0.0]
    assert bucket.take("a", 0.0) == 30.0
    assert bucket.take("b", 0.0) == 0.0  # per key
    assert bucket.take("a", 15.0) == 15.0
    assert bucket.take("a", 30.0) == 0.0
    assert bucket.take("a", 1000.0) == 0.0
    assert bucket.take("a", 1000.0) == 0.0  # refilled to capacity, not beyond
    assert bucket.take("a", 1000.0) == 30.0


def test_a_grant_pins_the_session_config() -> None:
    policy = RelayPolicy(RelayConfig(max_output_tokens=500, secret_ttl_s=90))
    grant = policy.request_mint("kitchen", {"model": "gpt-realtime-2.1-mini"}, EVENING)
    assert grant == Grant("kitchen", "gpt-realtime-2.1-mini", 500, 90)
    assert grant.upstream_body() == {
        "expires_after": {"anchor": "created_at", "seconds": 90},
        "session": {"type": "realtime", "model": "gpt-realtime-2.1-mini", "max_output_tokens": 500},
    }
    # OpenAI's own request shape: only the model is taken from it.
    assert policy.request_mint(
        "kitchen", {"session": {"model": "gpt-realtime-2.1", "instructions": "x"}}, EVENING
    ) == Grant("kitchen", "gpt-realtime-2.1", 500, 90)
    assert policy.request_mint("kitchen", None, EVENING) == Grant(
        "kitchen", "gpt-realtime-2.1", 500, 90
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"model": "gpt-4o"},
            Refusal(
                403,
                "model_not_allowed",
                "this satellite may get gpt-realtime-2.1, gpt-realtime-2.1-mini only, "
                "not 'gpt-4o'; set realtime.model to one of them",
            ),
        ),
        ({"model": 5}, Refusal(400, "bad_request", "model: expected a model name")),
        (["x"], Refusal(400, "bad_request", 'expected a JSON object like {"model": "..."}')),
    ],
)
def test_bad_mint_requests(body: object, expected: Refusal) -> None:
    assert RelayPolicy(RelayConfig()).request_mint("kitchen", body, EVENING) == expected


def test_budgets_in_order_with_retry_after_to_the_period_end() -> None:
    cfg = RelayConfig(satellite_daily_usd=1.0, household_monthly_usd=3.0)
    ledger = Ledger()
    policy = RelayPolicy(cfg, ledger)
    ledger.add("kitchen", "2026-12-31", Totals(usd=1.0))
    assert policy.request_mint("kitchen", {}, EVENING) == Refusal(
        429,
        "budget_reached",
        "this satellite's daily budget of 1.00 USD is spent (1.00 USD)",
        90 * 60,  # 22:30 to midnight
    )
    assert isinstance(policy.request_mint("hall", {}, EVENING), Grant)
    ledger.add("hall", "2026-12-01", Totals(usd=2.5))
    assert policy.request_mint("hall", {}, EVENING) == Refusal(
        429,
        "budget_reached",
        "the household's monthly budget of 3.00 USD is spent (3.50 USD)",
        90 * 60,  # the month ends at the same midnight
    )
    new_year = Now(200.0, datetime(2027, 1, 1, 0, 0, 1, tzinfo=TZ))
    assert isinstance(policy.request_mint("kitchen", {}, new_year), Grant)


def test_a_satellite_s_own_limits_replace_the_relay_s() -> None:
    kids = SatelliteLimits("kids", daily_usd=0.3, models=("gpt-realtime-2.1-mini",))
    free = SatelliteLimits("office", daily_usd=0.0)  # 0 = no cap for this one
    cfg = RelayConfig(satellite_daily_usd=1.0, satellites=(kids, free))
    ledger = Ledger()
    policy = RelayPolicy(cfg, ledger)
    assert policy.request_mint("kids", {}, EVENING) == Grant(
        "kids", "gpt-realtime-2.1-mini", 1024, 600
    )
    assert policy.request_mint("kids", {"model": "gpt-realtime-2.1"}, EVENING) == Refusal(
        403,
        "model_not_allowed",
        "this satellite may get gpt-realtime-2.1-mini only, not 'gpt-realtime-2.1'; set "
        "realtime.model to one of them",
    )
    for name in ("kids", "office", "hall"):
        ledger.add(name, "2026-12-31", Totals(usd=0.5))
    assert policy.request_mint("kids", {}, EVENING) == Refusal(
        429,
        "budget_reached",
        "this satellite's daily budget of 0.30 USD is spent (0.50 USD)",
        90 * 60,
    )
    assert isinstance(policy.request_mint("hall", {}, EVENING), Grant)  # 0.5 of its 1.0
    ledger.add("office", "2026-12-31", Totals(usd=5.0))
    assert isinstance(policy.request_mint("office", {}, EVENING), Grant)


def test_mint_cap_counts_only_successful_mints() -> None:
    policy = RelayPolicy(RelayConfig(max_mints_per_day=1))
    grant = policy.request_mint("kitchen", {}, EVENING)
    assert isinstance(grant, Grant) and not policy.dirty
    assert isinstance(policy.request_mint("kitchen", {}, EVENING), Grant)  # nothing minted yet
    policy.minted(grant, EVENING)
    assert policy.dirty
    assert policy.request_mint("kitchen", {}, EVENING) == Refusal(
        429, "mint_cap_reached", "this satellite had its 1 secrets for today", 90 * 60
    )
    assert policy.ledger.day("2026-12-31", "kitchen") == Totals(mints=1)


def test_reports_add_up_once_per_id() -> None:
    policy = RelayPolicy(RelayConfig())
    first = policy.request_report(
        "kitchen",
        {"id": "t1", "cost_usd": 0.02, "input_tokens": 1000, "output_tokens": 50},
        EVENING,
    )
    again = policy.request_report("kitchen", {"id": "t1", "cost_usd": 0.02}, EVENING)
    other = policy.request_report("kitchen", {"cost_usd": 0.01}, EVENING)
    day = Totals(0.02, 1000, 50, 0, 1)
    assert first == Accepted(False, day, day)
    assert again == Accepted(True, day, day)
    both = Totals(0.03, 1000, 50, 0, 2)
    assert other == Accepted(False, both, both)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"cost_usd": float("nan")}, "cost_usd: expected a number from 0 to 2.0"),
        ({"cost_usd": True}, "cost_usd: expected a number from 0 to 2.0"),
        ({"cost_usd": 2.01}, "cost_usd: expected a number from 0 to 2.0"),
        ({"cost_usd": 0, "output_tokens": -1}, "output_tokens: expected 0 to 10000000"),
        ({"cost_usd": 0, "input_tokens": 10**8}, "input_tokens: expected 0 to 10000000"),
        ({"cost_usd": 0, "model": "m" * 65}, "model: expected a model name"),
        ({"cost_usd": 0, "id": "a b"}, "id: expected up to 64 of A-Z a-z 0-9 . _ : -"),
        ({"cost_usd": 0, "\x1b[31mx": 1}, "unknown field '[31mx'"),
        ("0.1", 'expected {"cost_usd": <number>, "input_tokens": <int>, ...}'),
    ],
)
def test_hostile_reports(body: object, why: str) -> None:
    assert parse_report(body, 2.0) == Refusal(400, "bad_report", why)


def test_a_report_model_name_is_cleaned() -> None:
    assert parse_report({"cost_usd": 0.5, "model": "gpt\nrealtime\u202e"}, 2.0) == UsageReport(
        0.5, 0, 0, "gpt realtime", ""
    )


def test_ledger_round_trips_and_prunes_old_days() -> None:
    ledger = Ledger()
    for day in range(1, 31):
        ledger.add("a", f"2026-11-{day:02d}", Totals(usd=0.5, mints=1))
    for day in range(1, 31):
        ledger.add("b", f"2026-12-{day:02d}", Totals(usd=0.25, reports=1))
    ledger.add("a", "2027-01-05", Totals(usd=1.0))
    again = Ledger.from_json(ledger.to_json())
    assert again.to_json() == ledger.to_json()
    assert again.month("2026-11") == Totals(usd=15.0, mints=30)
    assert again.month("2026-12", "b") == Totals(usd=7.5, reports=30)
    assert again.day("2026-12-31") == Totals()
    assert len({row["period"] for row in ledger.to_json()["days"]}) == 61
    ledger.add("a", "2027-01-06", Totals(usd=1.0))
    ledger.add("a", "2027-01-07", Totals(usd=1.0))
    days = {row["period"] for row in ledger.to_json()["days"]}
    assert len(days) == 62 and "2026-11-01" not in days
    assert ledger.month("2026-11", "a").usd == 15.0  # months are kept longer
    with pytest.raises(ValueError, match="a bad row in 'days'"):
        Ledger.from_json({"version": 1, "days": [{"period": "x"}], "months": []})
