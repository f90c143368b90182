"""A ringing timer stopped by speech alone (no wake word): the daemon's local VAD hears it.

On the real-time rig: the timer is set by the model's tool call, rings (the ringing earcon
reaches the speaker), the rig says "okay, stop" into the mic without the wake word, and the
ringing stops: the journal says why, the speaker goes quiet, no turn is opened and the emulator
gets no new audio turn.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from gpiozero.pins.mock import MockFactory

from edge_agent.audio.earcons import earcon
from edge_agent.config import DaemonConfig, TimersConfig
from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request, trim_silence
from edge_agent.sim.pipeline_rig import played_prefix as longest_prefix
from edge_agent.sim.scenario import Call, Reply, Scenario, Turn, tone
from edge_agent.sim.speech import speak

from .conftest import COLOURS, e2e_config, led_states
from .test_hardware import TALK, tap

RATE = 24000
MAGENTA = (1.0, 0.0, 1.0)


def timer_scenario(seconds: float) -> Scenario:
    return Scenario(
        (
            Turn(
                calls=(Call("set_timer", {"duration": seconds, "label": "tea"}),),
                then=Reply("Timer set.", tone(440, 300)),
            ),
        )
    )


async def test_speech_without_the_wake_word_stops_the_ringing(pins: MockFactory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    scenario = timer_scenario(2)
    cfg = dataclasses.replace(
        e2e_config(follow_up_s=0.0),
        daemon=DaemonConfig(state_dir=str(tmp_path / "state"), cache_dir=str(tmp_path / "cache")),
        timers=TimersConfig(ring_timeout_s=30.0, speak_label=False),  # the earcon alone
    )
    ask, _ = spoken_request("set a timer for two seconds for the tea")
    stop = np.concatenate([trim_silence(speak("okay, stop it")), np.zeros(RATE, np.int16)])
    ringing = earcon("ringing", cfg.earcons)
    assert ringing is not None
    async with PipelineRig(cfg, scenario=scenario, pin_factory=pins) as rig:
        assert rig.emulator is not None and rig.pipeline is not None
        await rig.say(ask)
        await rig.wait_turns(1)
        await rig.wait_for(
            lambda: longest_prefix(rig.heard(), ringing)[1] == len(ringing), 15, "a ring cycle"
        )
        commits = len(rig.emulator.committed)
        await rig.say(stop)
        await rig.wait_for(
            lambda: any(
                e.text.startswith("ringing stopped (speech)") for e in rig.timeline.entries
            ),
            5,
            "the ringing stopped by speech",
        )
        stopped_at = len(rig.heard())
        await rig.wait_for(lambda: len(rig.heard()) > stopped_at + 2 * RATE, 10, "2 s more")
        after = rig.heard()[stopped_at + RATE // 2 :]  # one speaker period may still play out
        turns = list(rig.pipeline.turns.finished)
        current = rig.pipeline.turns.current
        events = [e.text for e in rig.timeline.entries]
    assert int(np.abs(after.astype(np.int32)).max(initial=0)) == 0, "the speaker went quiet"
    assert [t.trigger for t in turns] == ["wake"] and current is None  # speech opened no turn
    assert len(rig.emulator.committed) == commits
    assert not any("ringing stopped (timeout)" in t for t in events)


async def test_the_ringing_led_and_the_talk_button_stop(pins: MockFactory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """While it rings the LED shows status.led.ringing; a press of the talk button stops the
    ringing and opens no turn."""
    base = e2e_config(follow_up_s=0.0)
    led = dataclasses.replace(base.status.led, ringing="on magenta")
    cfg = dataclasses.replace(
        base,
        daemon=DaemonConfig(state_dir=str(tmp_path / "state"), cache_dir=str(tmp_path / "cache")),
        timers=TimersConfig(ring_timeout_s=30.0, speak_label=False),
        status=dataclasses.replace(base.status, led=led),
    )
    ask, _ = spoken_request("set a timer for two seconds for the tea")
    ringing = earcon("ringing", cfg.earcons)
    assert ringing is not None
    async with PipelineRig(cfg, scenario=timer_scenario(2), pin_factory=pins) as rig:
        assert rig.pipeline is not None
        await rig.say(ask)
        await rig.wait_turns(1)
        await rig.wait_for(
            lambda: longest_prefix(rig.heard(), ringing)[1] == len(ringing), 15, "a ring cycle"
        )
        await tap(pins, TALK)
        await rig.wait_for(
            lambda: any(
                e.text.startswith("ringing stopped (talk_button)") for e in rig.timeline.entries
            ),
            5,
            "the ringing stopped by the button",
        )
        await rig.wait_for(
            lambda: rig.pipeline is not None and rig.pipeline.app.state.value == "idle",
            5,
            "idle",
        )
        turns = list(rig.pipeline.turns.finished)
        current = rig.pipeline.turns.current
    assert [t.trigger for t in turns] == ["wake"] and current is None  # the press opened no turn
    shown = led_states(pins, {**COLOURS, MAGENTA: "ringing"})
    assert shown[shown.index("ringing") :][:2] == ["ringing", "idle"]  # shown, then back to idle
