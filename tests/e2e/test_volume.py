"""Turning the volume down to 30 % in the running daemon: later replies and earcons reach the
speaker at that gain (what the rig's speaker recorded, sample for sample), and it is saved."""

from __future__ import annotations

import sqlite3

import numpy as np
from gpiozero.pins.mock import MockFactory

from edge_agent.audio.earcons import earcon
from edge_agent.audio.playback import scale
from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request
from edge_agent.sim.pipeline_rig import played_prefix as longest_prefix
from edge_agent.sim.scenario import Call, Reply, Scenario, Turn, tone

from .conftest import e2e_config

RATE = 24000
ACK = Reply("Volume thirty percent.", tone(440, 600))
LATER = Reply("It is four degrees and cloudy.", tone(523, 1200))


async def test_volume_30_percent_reaches_the_speaker_at_that_gain(pins: MockFactory) -> None:
    cfg = e2e_config(follow_up_s=0.0)
    scenario = Scenario(
        (
            Turn(calls=(Call("set_volume", {"percent": 30}),), then=ACK),
            Turn(reply=LATER),
        )
    )
    first, _ = spoken_request("turn the volume down to thirty percent")
    second, _ = spoken_request("what's the weather like today")
    async with PipelineRig(cfg, scenario=scenario, pin_factory=pins) as rig:
        assert rig.pipeline is not None and rig.config is not None
        await rig.say(first)
        await rig.wait_turns(1)
        mark = len(rig.heard())
        await rig.say(second)
        await rig.wait_turns(2)
        done = earcon("done", rig.config.earcons)
        assert done is not None
        quiet_done = scale(done, 0.3)
        later = np.frombuffer(LATER.pcm, np.int16)
        quiet = scale(later, 0.3)
        await rig.wait_for(
            lambda: longest_prefix(rig.heard()[mark:], quiet_done)[1] == len(quiet_done),
            10,
            "the done earcon at 30 %",
        )
        heard = rig.heard()[mark:]
        with sqlite3.connect(rig.config.state_dir / "assistant.sqlite3") as db:
            saved = db.execute("SELECT key, value FROM settings").fetchall()
        turns = list(rig.pipeline.turns.finished)
        tool_logs = [e for e in rig.timeline.entries if e.fields.get("TOOL") == "set_volume"]
    assert [t.outcome for t in turns] == ["completed", "completed"]
    assert tool_logs, "the volume tool ran through the registry"
    at, n = longest_prefix(heard, quiet)
    assert at >= 0 and n == len(quiet), (at, n, len(quiet))  # every sample at gain 0.3
    assert longest_prefix(heard, later)[0] < 0  # and never at full gain
    peak = int(np.abs(heard[at : at + len(quiet)].astype(np.int32)).max())
    assert abs(peak / np.abs(later.astype(np.int32)).max() - 0.3) < 0.01
    assert [v for k, v in saved if "volume" in k] == ["30"], saved  # kept for the next start
