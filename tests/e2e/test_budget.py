"""The cost governor in the running daemon: a budget reached by what the emulator billed.

The first turn is billed by the emulator (`response.done` usage, priced by the shipped table)
into the daemon's real ledger; that spend passes the (tiny) daily budget. Once the session has
closed for idleness the next wake either opens no session at all and plays the budget notice
(`action = "refuse"`), or opens it with the cheaper model (`action = "mini"`). Asserted on what
the emulator received (handshakes, session.update) and what reached the speaker and the LED.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from gpiozero.pins.mock import MockFactory

from edge_agent.audio.earcons import earcon
from edge_agent.config import BudgetConfig, Config
from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request
from edge_agent.sim.pipeline_rig import played_prefix as longest_prefix
from edge_agent.sim.scenario import Reply, Scenario, Turn, tone

from .conftest import COLOURS, e2e_config, led_states

RATE = 24000
REPLY = Reply("It is four degrees and cloudy.", tone(523, 1200))
MAGENTA = (1.0, 0.0, 1.0)


def budget_config(action: str) -> Config:
    cfg = e2e_config(follow_up_s=0.0)
    led = dataclasses.replace(cfg.status.led, budget="on magenta")
    return dataclasses.replace(
        cfg,
        # one emulated turn costs about a cent: it passes this limit
        budget=BudgetConfig(daily_usd=0.001, action=action),  # type: ignore[arg-type]
        realtime=dataclasses.replace(cfg.realtime, idle_close_s=0.5),
        status=dataclasses.replace(cfg.status, led=led),
    )


async def first_turn_spends_the_budget(rig: PipelineRig, ask: np.ndarray) -> None:
    """Turn 1 is answered and billed; the budget is reached; its session closes for idleness."""
    assert rig.emulator is not None and rig.pipeline is not None
    emu, client = rig.emulator, rig.pipeline.client
    await rig.say(ask)
    await rig.wait_turns(1)
    assert rig.pipeline.turns.finished[0].outcome == "completed"
    assert emu.usage_log and emu.usage_log[0].usage.input_tokens > 0  # billed like the service
    await rig.wait_for(
        lambda: any(e.text.startswith("budget: reached") for e in rig.timeline.entries),
        10,
        "the budget reached in the journal",
    )
    await rig.wait_for(lambda: client.state.value != "ready" and not emu.sessions, 10, "idle close")


async def test_refuse_opens_no_session_plays_the_notice_and_shows_the_led(
    pins: MockFactory,
) -> None:
    ask, _ = spoken_request("what's the weather like today")
    notice = earcon("budget", budget_config("refuse").earcons)
    assert notice is not None
    async with PipelineRig(
        budget_config("refuse"), scenario=Scenario((Turn(reply=REPLY),)), pin_factory=pins
    ) as rig:
        assert rig.emulator is not None and rig.pipeline is not None
        await first_turn_spends_the_budget(rig, ask)
        handshakes = list(rig.emulator.handshakes)
        heard_before = len(rig.heard())
        await rig.say(ask)  # wake word + question again
        await rig.wait_turns(2)
        await rig.wait_for(
            lambda: longest_prefix(rig.heard()[heard_before:], notice)[1] == len(notice),
            10,
            "the budget notice on the speaker",
        )
        turns = list(rig.pipeline.turns.finished)
        after = list(rig.emulator.handshakes)
        events = len(rig.emulator.client_events)
        logs = [e.text for e in rig.timeline.entries]
    assert handshakes == [101] and after == [101]  # no connection attempt for the 2nd wake
    assert events == len(rig.emulator.client_events)
    assert [t.outcome for t in turns] == ["completed", "refused"]
    assert any(t.startswith("turn refused: reached the daily budget") for t in logs)
    shown = led_states(pins, {**COLOURS, MAGENTA: "budget"})
    assert "budget" in shown[shown.index("speaking") :]  # idle shows the budget pattern


async def test_mini_opens_the_next_session_with_the_cheaper_model(pins: MockFactory) -> None:
    ask, _ = spoken_request("what's the weather like today")
    scenario = Scenario((Turn(reply=REPLY), Turn(reply=REPLY)))
    async with PipelineRig(budget_config("mini"), scenario=scenario, pin_factory=pins) as rig:
        assert rig.emulator is not None and rig.pipeline is not None
        await first_turn_spends_the_budget(rig, ask)
        await rig.say(ask)
        await rig.wait_turns(2)
        turns = list(rig.pipeline.turns.finished)
        updates = [e for e in rig.emulator.client_events if e["type"] == "session.update"]
        handshakes = list(rig.emulator.handshakes)
    assert handshakes == [101, 101]
    models = [u["session"]["model"] for u in updates if "model" in u.get("session", {})]
    assert models == ["gpt-realtime-2.1", "gpt-realtime-2.1-mini"]
    assert [t.outcome for t in turns] == ["completed", "completed"]
    mini_cost = rig.emulator.usage_log[-1]
    assert turns[0].cost_usd is not None and turns[1].cost_usd is not None
    assert mini_cost.usage.input_tokens > 0 and turns[1].cost_usd < turns[0].cost_usd  # cheaper
