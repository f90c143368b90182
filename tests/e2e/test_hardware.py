"""Buttons and a lost microphone through the whole daemon (gpiozero mock pins, PulseAudio rig)."""

from __future__ import annotations

import asyncio

import numpy as np
from gpiozero.pins.mock import MockFactory

from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request, trim_silence
from edge_agent.sim.scenario import Reply, Scenario, Turn, tone
from edge_agent.sim.speech import speak
from edge_agent.states import State

from .conftest import e2e_config, led_states

TALK, MUTE = 5, 6


async def tap(pins: MockFactory, pin: int) -> None:
    pins.pin(pin).drive_low()  # pull-up: pressed pulls the pin low
    await asyncio.sleep(0.15)
    pins.pin(pin).drive_high()


async def test_talk_button_starts_a_turn_and_mute_closes_the_mic(pins: MockFactory) -> None:
    reply = Reply("It is four.", tone(600, 500))
    question = np.concatenate(
        [
            np.zeros(2400, np.int16),
            trim_silence(speak("what time is it")),
            np.zeros(12000, np.int16),
        ]
    )
    async with PipelineRig(
        e2e_config(follow_up_s=0.0), scenario=Scenario((Turn(reply=reply),)), pin_factory=pins
    ) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        app, capture = rig.pipeline.app, rig.pipeline.listener.capture
        await tap(pins, TALK)
        await rig.wait_for(lambda: app.state is State.LISTENING, 5, "listening")
        await rig.say(question)
        await rig.wait_turns(1)
        [turn] = rig.pipeline.turns.finished
        assert (turn.trigger, turn.outcome) == ("talk", "completed") and turn.wake_score is None
        await tap(pins, MUTE)
        await rig.wait_for(lambda: capture.is_muted and capture._stream is None, 5, "mic closed")
        frames = capture.frames_received
        await asyncio.sleep(0.3)
        assert capture.frames_received <= frames + 1 and app.state is State.MUTED
        assert rig.pipeline.app.is_healthy()  # muted is not a watchdog failure
        await tap(pins, MUTE)
        await rig.wait_for(lambda: capture.frames_received > frames + 5, 5, "mic frames again")
        assert app.state is State.IDLE
    assert rig.states == ["idle", "listening", "thinking", "speaking", "idle", "muted", "idle"]
    shown = led_states(pins)  # thinking may be too short to show: the emulator answers at once
    assert shown[:2] == ["idle", "listening"] and "speaking" in shown and "muted" not in shown


async def pactl(rig: PipelineRig, *args: str) -> None:
    assert rig.sound is not None
    proc = await asyncio.create_subprocess_exec("pactl", *args, env=rig.sound.helper_env)
    assert await proc.wait() == 0


async def test_lost_mic_is_an_error_until_it_is_back(pins: MockFactory) -> None:
    reply = Reply("Back again.", tone(600, 500))
    audio, _ = spoken_request("are you back")
    async with PipelineRig(
        e2e_config(follow_up_s=0.0), scenario=Scenario((Turn(reply=reply),)), pin_factory=pins
    ) as rig:
        assert rig.pipeline is not None and rig.sound is not None
        app, capture = rig.pipeline.app, rig.pipeline.listener.capture
        # the mic stops delivering (a wedged or unplugged USB mic; killing the whole sound
        # server instead aborts the process inside PortAudio 19.6, see docs/pipeline.md)
        await pactl(rig, "suspend-sink", "vmicfeed", "1")
        await rig.wait_for(lambda: app.state is State.ERROR, 10, "the error state")
        assert "error" in led_states(pins)
        await pactl(rig, "suspend-sink", "vmicfeed", "0")  # back
        await rig.wait_for(lambda: app.state is State.IDLE, 15, "recovery")
        frames = capture.frames_received
        await rig.wait_for(lambda: capture.frames_received > frames + 10, 5, "frames")
        assert app.is_healthy()
        await rig.say(audio)  # and it works: wake word, reply
        await rig.wait_turns(1)
    assert rig.pipeline.turns.finished[0].outcome == "completed"
    assert rig.states == ["idle", "error", "idle", "listening", "thinking", "speaking", "idle"]
