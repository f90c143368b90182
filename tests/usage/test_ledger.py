"""ledger.py and governor.py on a real SQLite file: rows, local day/month sums, the budget."""

from __future__ import annotations

import datetime as dt
import logging
import stat
from pathlib import Path

import pytest

from edge_agent.config import BudgetConfig
from edge_agent.realtime.events import Usage
from edge_agent.usage.governor import Budget
from edge_agent.usage.ledger import LedgerStore, UsageLedger
from edge_agent.usage.prices import Prices, PriceTable

TZ = dt.timezone(dt.timedelta(hours=1))
#: $1 per 1000 audio-out tokens: round figures
ONE_PER_K = Prices(0, 0, 0, 0, 0, 1000.0)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def out(tokens: int) -> Usage:
    return Usage(output_tokens=tokens, output_audio_tokens=tokens, total_tokens=tokens)


async def open_ledger(path: Path) -> UsageLedger:
    return await UsageLedger.open(path, PriceTable([("m", ONE_PER_K)]), tz=TZ)


async def test_rows_and_sums_per_local_day_and_month(tmp_path: Path) -> None:
    path = tmp_path / "state" / "usage.sqlite3"
    ledger = await open_ledger(path)
    try:
        assert await ledger.record("t1", "m", out(500), at("2026-11-30T23:30")) == 0.5  # Dec 1
        assert await ledger.record("t2", "m", out(250), at("2026-12-01T12:00")) == 0.25
        assert await ledger.record("t2", "m", out(250), at("2026-12-01T12:00:05")) == 0.25
        assert await ledger.record("t3", "m", out(1000), at("2026-12-01T23:00")) == 1.0  # Dec 2
        assert await ledger.record("t4", "unpriced", out(1000), at("2026-12-02T08:00")) == 0.0
        dec1 = await ledger.totals(at("2026-12-01T22:59"))
        dec2 = await ledger.totals(at("2026-12-01T23:00"))
        assert (dec1.day, dec1.day_usd, dec1.month, dec1.month_usd) == (
            "2026-12-01",
            1.0,
            "2026-12",
            2.0,
        )
        assert (dec2.day, dec2.day_usd) == ("2026-12-02", 1.0)
        assert await ledger.turn_usd("t2") == 0.5
        turns = await ledger.last_turns(3)
        assert [(t.turn_id, t.usd, t.responses, t.priced) for t in turns] == [
            ("t4", 0.0, 1, False),
            ("t3", 1.0, 1, True),
            ("t2", 0.5, 2, True),
        ]
    finally:
        await ledger.aclose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_reader_sees_what_the_daemon_wrote(tmp_path: Path) -> None:
    """`edge-agent usage` opens its own connection while the daemon's is open."""
    path = tmp_path / "usage.sqlite3"
    ledger = await open_ledger(path)
    try:
        await ledger.record("t1", "m", out(300), at("2026-12-02T10:00"))
        reader = LedgerStore(path)
        try:
            assert reader.sum_day("2026-12-02") == pytest.approx(0.3)
        finally:
            reader.close()
    finally:
        await ledger.aclose()


async def test_old_rows_are_pruned(tmp_path: Path) -> None:
    ledger = await UsageLedger.open(
        tmp_path / "u.sqlite3", PriceTable([("m", ONE_PER_K)]), tz=TZ, keep_days=30
    )
    try:
        await ledger.record("old", "m", out(100), at("2026-10-01T10:00"))
        await ledger.record("new", "m", out(100), at("2026-12-02T10:00"))
        assert [t.turn_id for t in await ledger.last_turns(10)] == ["new"]
    finally:
        await ledger.aclose()


def test_an_unopenable_ledger_is_an_oserror(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        LedgerStore(tmp_path / "file" / "usage.sqlite3")


async def test_budget_reached_mid_day_switches_the_next_session_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = await open_ledger(tmp_path / "u.sqlite3")
    budget = Budget(BudgetConfig(daily_usd=1.0, action="mini"), ledger, "m")
    caplog.set_level(logging.DEBUG, logger="edge_agent.usage.governor")
    try:
        assert (await budget.verdict(at("2026-12-02T08:00"))).model == "m"
        await ledger.record("t1", "m", out(600), at("2026-12-02T09:00"))
        await ledger.record("t2", "m", out(500), at("2026-12-02T11:00"))  # $1.10 by noon
        first = await budget.verdict(at("2026-12-02T11:01"))
        second = await budget.verdict(at("2026-12-02T12:00"))
        assert (first.action, first.model) == ("use_model", "gpt-realtime-2.1-mini")
        assert second == first
        tomorrow = await budget.verdict(at("2026-12-02T23:00"))  # local midnight
        assert (tomorrow.action, tomorrow.model) == ("ok", "m")
    finally:
        await ledger.aclose()
    lines = [(r.levelname, getattr(r, "BUDGET", None)) for r in caplog.records]
    assert lines == [("DEBUG", "ok"), ("WARNING", "use_model"), ("INFO", "ok")]


async def test_open_usage_from_the_config_prices_with_the_overrides(tmp_path: Path) -> None:
    from edge_agent.config import parse_config
    from edge_agent.usage.governor import open_usage

    cfg = parse_config(
        f"[daemon]\nstate_dir = {str(tmp_path / 'state')!r}\n"
        '[[usage.prices]]\nmodel = "gpt-realtime-2.1"\ntext_in = 0\ntext_cached = 0\n'
        "text_out = 0\naudio_in = 0\naudio_cached = 0\naudio_out = 1000\n"
        "[budget]\ndaily_usd = 1.0\naction = 'refuse'\n",
        env={"OPENAI_API_KEY": "sk-x-0123456789"},
    )
    ledger, budget = await open_usage(cfg, tz=TZ)
    try:
        assert (
            await ledger.record("t", "gpt-realtime-2.1", out(1000), at("2026-12-02T10:00")) == 1.0
        )
        assert (await budget.verdict(at("2026-12-02T10:01"))).action == "refuse"
    finally:
        await ledger.aclose()
    assert (tmp_path / "state" / "usage.sqlite3").is_file()


async def test_absurd_token_counts_are_capped_not_fatal(tmp_path: Path) -> None:
    ledger = await open_ledger(tmp_path / "u.sqlite3")
    try:
        usd = await ledger.record("t", "m", out(2**70), at("2026-12-02T10:00"))
        assert usd == 1e9 / 1000  # capped at 10^9 tokens, still priced
        assert (await ledger.last_turns(1))[0].output_tokens == 10**9
    finally:
        await ledger.aclose()


async def test_the_doctors_budget_line_reads_the_ledger_without_creating_it(
    tmp_path: Path,
) -> None:
    from edge_agent.config import parse_config
    from edge_agent.doctor import Status
    from edge_agent.probes.usage import budget

    state = tmp_path / "state"
    cfg = parse_config(
        f"[daemon]\nstate_dir = {str(state)!r}\n[budget]\ndaily_usd = 1.0\naction = 'refuse'\n",
        env={"OPENAI_API_KEY": "sk-x-0123456789"},
    )
    fresh = await budget(cfg, at("2026-12-02T10:00"), TZ)
    assert (fresh.status, fresh.detail) == (Status.OK, "within budget: today $0.00 of $1.00")
    assert not state.exists()
    ledger = await UsageLedger.open(state / "usage.sqlite3", PriceTable([("gpt-realtime-2.1",
                                    ONE_PER_K)]), tz=TZ)  # fmt: skip
    await ledger.record("t", "gpt-realtime-2.1", out(1500), at("2026-12-02T09:00"))
    await ledger.aclose()
    spent = await budget(cfg, at("2026-12-02T10:00"), TZ)
    assert spent.status is Status.WARN
    assert spent.detail == ("reached the daily budget: $1.50 of $1.00; no sessions until tomorrow")
    assert "raise [budget]" in spent.hint
    (state / "usage.sqlite3").unlink()
    (state / "usage.sqlite3").mkdir()  # not a database
    broken = await budget(cfg, at("2026-12-02T10:00"), TZ)
    assert broken.status is Status.FAIL and "cannot read the usage ledger" in broken.detail
