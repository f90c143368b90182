"""The budget at wake against the Realtime emulator: the sequence the turn core runs.

A budget reached mid-day switches the next session's model (the emulator sees it in the URL and
in session.update). The daemon itself, refusing or switching, is in tests/e2e/test_budget.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from edge_agent.config import BudgetConfig, RealtimeConfig
from edge_agent.realtime import protocol as p
from edge_agent.realtime.auth import session_url
from edge_agent.realtime.events import Usage
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.usage.governor import Budget
from edge_agent.usage.ledger import UsageLedger
from edge_agent.usage.prices import PriceTable
from tests.realtime.conftest import CLIENT_EVENTS, SERVER_EVENTS

KEY = "sk-budget-0123456789"
TZ = dt.timezone(dt.timedelta(hours=1))
TURN = Usage(input_tokens=1000, input_audio_tokens=1000, output_tokens=200,
             output_audio_tokens=200)  # fmt: skip  # $0.0448 with gpt-realtime-2.1


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
async def emu() -> AsyncIterator[RealtimeEmulator]:
    async with RealtimeEmulator(api_keys=[KEY]) as server:
        yield server


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[UsageLedger]:
    book = await UsageLedger.open(tmp_path / "usage.sqlite3", PriceTable(), tz=TZ)
    yield book
    await book.aclose()


async def open_session(emu: RealtimeEmulator, cfg: RealtimeConfig, model: str) -> str:
    """What the client does for a new session with the budget's model; the model it got."""
    headers = {"Authorization": f"Bearer {KEY}"}
    async with connect(session_url(emu.url, model), additional_headers=headers) as ws:
        created = json.loads(await ws.recv())
        session = p.session_for(cfg, instructions="Be brief.", model=model)
        await ws.send(json.dumps(p.session_update(session, event_id="evt_cfg")))
        while (ev := json.loads(await ws.recv()))["type"] != "session.updated":
            assert ev["type"] != "error", ev
        return str(created["session"]["model"])


async def test_a_budget_reached_mid_day_switches_the_next_sessions_model(
    emu: RealtimeEmulator, ledger: UsageLedger
) -> None:
    cfg = RealtimeConfig(url=emu.url)
    budget = Budget(BudgetConfig(daily_usd=0.08, action="mini"), ledger, cfg.model)
    morning = await budget.verdict(at("2026-12-02T08:00"))
    assert await open_session(emu, cfg, morning.model) == "gpt-realtime-2.1"
    await ledger.record("t1", morning.model, TURN, at("2026-12-02T08:01"))
    await ledger.record("t2", morning.model, TURN, at("2026-12-02T10:30"))  # $0.0896 by 11:30
    noon = await budget.verdict(at("2026-12-02T11:00"))
    assert (noon.action, noon.reached) == ("use_model", True)
    assert await open_session(emu, cfg, noon.model) == "gpt-realtime-2.1-mini"
    updates = [e for e in emu.client_events if e["type"] == "session.update"]
    assert [u["session"]["model"] for u in updates] == ["gpt-realtime-2.1", "gpt-realtime-2.1-mini"]
    assert all("reasoning" in u["session"] for u in updates)  # both are 2.x models
    next_day = await budget.verdict(at("2026-12-02T23:00"))  # local midnight
    assert await open_session(emu, cfg, next_day.model) == "gpt-realtime-2.1"
    for ev in emu.client_events:
        CLIENT_EVENTS.validate_python(ev)
    for ev in emu.server_events:
        SERVER_EVENTS.validate_python(ev)
