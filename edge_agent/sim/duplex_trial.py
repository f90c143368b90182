"""Full duplex in a simulated room, the whole daemon: how often does it interrupt itself?

`run_echo_trial` runs the real daemon (`PipelineRig`: PulseAudio rig, Realtime emulator with
its VAD) in full duplex with the speaker's output fed back into the mic through a simulated
room (`PulseRig.room`: delay, impulse response, gain; `sim.room`), and asks `turns` questions
with the talk button. Nobody speaks during the replies, so every barge-in is a false one: the
emulator's VAD hearing the reply's own echo and the device believing it; with `talker`, someone
speaks over each reply, and each reply should stop for them (a true barge-in). Used by the e2e
test (tests/e2e/test_echo.py) and `bench/echo.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.config import Config
from edge_agent.sim.pipeline_rig import PipelineRig, trim_silence
from edge_agent.sim.room import room_impulse_response
from edge_agent.sim.scenario import Reply, Scenario, Turn
from edge_agent.sim.speech import speak
from edge_agent.states import State

__all__ = ["EchoTrial", "duplex_config", "reply_speech", "run_echo_trial"]

REPLIES = (
    "The weather in Toronto today is sunny, with a high of twenty three degrees.",
    "Your timer for the pasta is set, it rings in eight minutes.",
    "The living room lights are off now, and the hallway light is dimmed.",
    "Tomorrow will be cloudy, with rain in the evening and a low of twelve.",
)


@dataclass(frozen=True, slots=True)
class EchoTrial:
    """What one trial saw."""

    replies: int  # replies that began playing
    outcomes: tuple[str, ...]  # each finished turn's outcome ("barge_in" = interrupted)
    ignored: int  # server speech starts the guard took for echo
    delay_ms: float | None  # the echo path the canceller measured (None: off or not yet)
    speaking_s: float  # time the daemon spent speaking
    streamed_s: float  # of that, time the mic streamed (full duplex working; 0 = half)
    played_s: float  # reply audio played
    rig_faults: int = 0  # mic overflows + speaker underruns + feeder underruns (load, not us)
    asked: int = 0  # questions asked (fewer than asked for: it never got idle again)
    talked: int = 0  # replies a talker spoke over (`talker`)
    reactions_s: tuple[float, ...] = ()  # talker fed -> reply interrupted, s (one per barge-in)

    @property
    def false_barge_ins(self) -> int:
        """Interrupted replies, when nobody spoke over them (`talked` 0)."""
        return sum(o == "barge_in" for o in self.outcomes)

    @property
    def interrupted(self) -> int:
        """Replies the talker spoke over that were interrupted (not just ended) within 5 s."""
        return len(self.reactions_s)


def reply_speech(i: int, pause_s: float = 0.0) -> Reply:
    """Reply `i`; with `pause_s`, two sentences with that much silence between them (longer
    than the service's silence_duration_ms, its VAD hears the echo start twice)."""
    text = REPLIES[i % len(REPLIES)]
    parts = [trim_silence(speak(text)), np.zeros(2400, np.int16)]
    if pause_s:
        then = REPLIES[(i + 1) % len(REPLIES)]
        parts[1:1] = [np.zeros(int(pause_s * 24000), np.int16), trim_silence(speak(then))]
        text = f"{text} {then}"
    return Reply(text, np.concatenate(parts).tobytes())


def duplex_config(base: Config, *, echo_cancel: str) -> Config:
    return dataclasses.replace(
        base,
        audio=dataclasses.replace(base.audio, duplex="full", echo_cancel=echo_cancel),  # type: ignore[arg-type]
    )


async def _press(pins: Any, pin: int) -> None:
    pins.pin(pin).drive_low()  # pull-up: pressed pulls the pin low
    await asyncio.sleep(0.15)
    pins.pin(pin).drive_high()


async def run_echo_trial(
    cfg: Config,
    pins: Any,
    *,
    turns: int = 20,
    delay_ms: float = 40.0,
    gain_db: float = -6.0,
    talk_pin: int = 5,
    turn_timeout_s: float = 30.0,
    pause_s: float = 0.0,
    talker: np.ndarray | None = None,
    talk_after_s: float = 1.5,
    talk_from: int = 0,
) -> EchoTrial:
    """`turns` questions (talk button + a spoken question), each answered by a spoken reply
    that echoes back through the room; returns what happened. `cfg` must have the talk button
    on `talk_pin` and no follow-up window (each turn ends with its reply). `pause_s`: replies of
    two sentences with a pause (see `reply_speech`). `talker`: said into the mic (over the
    echo) `talk_after_s` into each reply from question `talk_from` on (1: not over the first
    reply, while the canceller measures the echo path), a true barge-in (or, with "hey
    jarvis", the wake word); its own answer then plays out."""
    scenario = Scenario(
        tuple(Turn(reply=reply_speech(i, pause_s)) for i in range(turns)),
        fallback=reply_speech(turns, pause_s),
    )
    question = np.concatenate(
        [trim_silence(speak("what is the weather like")), np.zeros(12000, np.int16)]
    )
    rir = room_impulse_response(delay_ms=delay_ms, gain_db=gain_db, length_ms=150)
    async with PipelineRig(cfg, scenario=scenario, pin_factory=pins) as rig:
        assert rig.pipeline is not None and rig.emulator is not None and rig.sound is not None
        p = rig.pipeline
        rig.sound.room(rir)
        clock = {"speaking": 0, "streamed": 0}

        async def sample() -> None:
            while True:
                await asyncio.sleep(0.02)
                if p.app.state is State.SPEAKING:
                    clock["speaking"] += 1
                    clock["streamed"] += p.streamer.is_streaming

        sampler = asyncio.create_task(sample())
        asked = talked = 0
        reactions: list[float] = []
        try:
            for i in range(turns):
                await rig.wait_for(
                    lambda: p.turns.current is None, turn_timeout_s, "an idle daemon"
                )
                done = len(p.turns.finished)
                await _press(pins, talk_pin)
                await rig.say(question)
                asked += 1
                if talker is not None and i >= talk_from:
                    await rig.wait_for(
                        lambda: p.app.state is State.SPEAKING, turn_timeout_s, "a reply"
                    )
                    await asyncio.sleep(talk_after_s)
                    if p.app.state is State.SPEAKING:
                        talked += 1
                        fed, before = time.monotonic(), len(p.turns.finished)
                        rig.feed(talker)
                        with contextlib.suppress(TimeoutError):
                            await rig.wait_for(
                                lambda: p.app.state is not State.SPEAKING, 5.0, "a barge-in"
                            )
                            ended = p.turns.finished[before:]
                            if ended and ended[0].outcome == "barge_in":  # not the reply's end
                                reactions.append(time.monotonic() - fed)
                await rig.wait_for(
                    lambda d=done: len(p.turns.finished) > d and p.turns.current is None,
                    turn_timeout_s,
                    f"turn {i + 1} to end",
                )
        except TimeoutError:  # interrupting itself over and over: it never gets idle
            pass
        sampler.cancel()
        starts = sum(t.reply_samples > 0 for t in p.turns.finished)
        ignored = sum("into the reply ignored" in e.text for e in rig.timeline.entries)
        echo = p.echo
        measured = echo.delay_ms if echo is not None else None
        played_s = p.speaker.playback.played_samples / 24000
        faults = (
            p.listener.capture.overflows + p.speaker.playback.underruns
            + rig.sound.feeder_underruns()
        )  # fmt: skip
        outcomes = tuple(t.outcome for t in p.turns.finished)
    return EchoTrial(
        starts,
        outcomes,
        ignored,
        measured,
        clock["speaking"] * 0.02,
        clock["streamed"] * 0.02,
        played_s,
        faults,
        asked,
        talked,
        tuple(reactions),
    )
