"""Speech stops the ringing: the gate (literal scores), the turn core's rule (literal events), and
microVAD on the real ringing earcon (it must not stop the ring with its own sound)."""

from __future__ import annotations

import asyncio

import numpy as np

from edge_agent.assistant.ring_stop import RingSpeechWatch, SpeechGate
from edge_agent.assistant.ringing import RingPolicy
from edge_agent.assistant.timers import TimerFired
from edge_agent.audio.earcons import earcon
from edge_agent.audio.resample import Resampler
from edge_agent.config import EarconsConfig
from edge_agent.states import State, WakeDetected
from edge_agent.turn.actions import Log, Ring
from edge_agent.turn.core import TurnCore
from edge_agent.turn.events import RingSpeechHeard, SessionReady
from edge_agent.wake.vad import MicroVad


# -- the gate ------------------------------------------------------------------------------------
def test_the_gate_wants_200_ms_of_consecutive_speech_once_per_stretch() -> None:
    gate = SpeechGate(threshold=0.5, min_speech_ms=200)  # 5 chunks of 40 ms
    assert not gate.feed(np.array([0.9, 0.9, 0.9, 0.9, 0.1, 0.9, 0.9]))  # broken at 4
    assert gate.feed(np.array([0.9, 0.9, 0.6]))  # 5 in a row now
    assert not gate.feed(np.array([0.9] * 20))  # the same stretch: once
    assert not gate.feed(np.array([0.2, 0.9, 0.9, 0.9, 0.9]))
    assert gate.feed(np.array([0.5]))  # a new stretch; the threshold itself counts
    assert gate.stretches == 2


def test_the_gate_ignores_short_clicks_and_scores_below_the_threshold() -> None:
    gate = SpeechGate()
    assert not gate.feed(np.array([0.49] * 50 + [1.0, 1.0, 0.0] * 10))
    assert gate.stretches == 0


# -- the turn core -------------------------------------------------------------------------------
def ringing_core(*, speak_label: bool) -> tuple[TurnCore, list]:
    c = TurnCore(ring=RingPolicy(ring_timeout_s=60.0, speak_label=speak_label))
    c.handle(SessionReady("sess"), 0)
    out = c.handle(TimerFired(7, "timer", "pasta", 100.0), 1000)
    return c, out


def test_speech_while_it_rings_stops_it_and_opens_no_turn() -> None:
    c, out = ringing_core(speak_label=False)
    assert Ring(True, (7,)) in out and c.state is State.IDLE
    out = c.handle(RingSpeechHeard(), 3000)
    assert out[0] == Ring(False, (7,))
    [log] = [a for a in out if isinstance(a, Log)]
    assert log.message == "ringing stopped (speech) after 2 s"
    assert log.fields == {"TIMER_IDS": "7", "TIMER_STOP": "speech"}
    assert c.state is State.IDLE and c.turns.current is None
    assert c.handle(RingSpeechHeard(), 4000) == []  # not ringing: nothing


def test_the_labels_own_voice_does_not_stop_it() -> None:
    c, _ = ringing_core(speak_label=True)  # the model says the label: an announcement turn
    assert c.state is State.THINKING
    assert c.handle(RingSpeechHeard(), 1500) == []
    assert c._ring.is_ringing


# -- microVAD on the real sounds -----------------------------------------------------------------
def scores(pcm24: np.ndarray) -> np.ndarray:
    vad = MicroVad()
    vad.reset()
    return vad.chunk_scores(Resampler(24000, 16000).process(pcm24))


def test_microvad_does_not_hear_the_ringing_but_hears_speech_over_it() -> None:
    from edge_agent.sim.speech import speak

    ring = earcon("ringing", EarconsConfig(volume=1.0))
    assert ring is not None
    rings = np.tile(ring, 5)  # ~8 s of ringing at full scale
    assert not SpeechGate().feed(scores(rings))
    assert float(scores(rings).max()) < 0.1
    voice = speak("okay stop, I heard it", "en-us", 150, 24000)
    mixed = rings[: len(voice)].astype(np.int32) + voice.astype(np.int32) // 2  # ring louder
    assert SpeechGate().feed(scores(np.clip(mixed, -32768, 32767).astype(np.int16)))


def test_a_wake_word_that_began_as_the_stopping_speech_opens_no_turn() -> None:
    """The VAD fires ~200 ms into "hey jarvis", the detector at its end: one utterance."""
    c, _ = ringing_core(speak_label=False)
    c.handle(RingSpeechHeard(), 3000)
    out = c.handle(WakeDetected("hey_jarvis", 0.9, 90_000, 91_000), 3900)
    assert [a for a in out if not isinstance(a, Log)] == []
    assert c.state is State.IDLE and c.turns.current is None
    c.handle(WakeDetected("hey_jarvis", 0.9, 200_000, 201_000), 4500)  # a later one is a turn
    assert c.state is State.LISTENING


def test_a_wake_word_long_after_the_speech_stop_is_a_turn() -> None:
    c, _ = ringing_core(speak_label=False)
    c.handle(RingSpeechHeard(), 3000)
    c.handle(WakeDetected("hey_jarvis", 0.9, 90_000, 91_000), 5600)
    assert c.state is State.LISTENING


# -- the shell -----------------------------------------------------------------------------------
class FakeCapture:
    """Stands in for the mic's capture ring: hands out the blocks it is given, then waits."""

    def __init__(self, blocks: list[np.ndarray]) -> None:
        self.blocks = blocks
        self.head = 0
        self.starts: list[int | None] = []

    def reader(self, start_sample: int | None = None, *, min_samples: int = 1):  # type: ignore[no-untyped-def]
        self.starts.append(start_sample)
        blocks = self.blocks

        async def gen():  # type: ignore[no-untyped-def]
            for block in blocks:
                yield block
            await asyncio.Event().wait()

        return gen()


async def test_the_watch_posts_once_per_stretch_and_stops_with_the_ring() -> None:
    from edge_agent.sim.speech import speak

    voice = speak("okay stop, I heard it", "en-us", 150, 24000)
    quiet = np.zeros(24000, np.int16)
    cap = FakeCapture([quiet, voice[: len(voice) // 2], voice[len(voice) // 2 :], quiet])
    cap.head = 4800
    posted: list[object] = []
    watch = RingSpeechWatch(cap)
    await watch.start(posted.append)
    watch.handlers()[Ring](Ring(True, (7,)))
    async with asyncio.timeout(10):
        while not posted:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    assert posted == [RingSpeechHeard()] and cap.starts == [4800]  # from when it began ringing
    watch.handlers()[Ring](Ring(False, (7,)))
    await asyncio.sleep(0)
    assert watch._task is None
    await watch.aclose()


async def test_a_broken_vad_ends_the_watch_with_a_warning(caplog) -> None:  # type: ignore[no-untyped-def]
    class Broken:
        def reset(self) -> None:
            pass

        def chunk_scores(self, pcm: np.ndarray) -> np.ndarray:
            raise RuntimeError("vad exploded")

    watch = RingSpeechWatch(FakeCapture([np.zeros(4800, np.int16)]), vad_factory=Broken)
    await watch.start(lambda e: None)
    watch.handlers()[Ring](Ring(True, (1,)))
    assert watch._task is not None
    async with asyncio.timeout(5):
        while not watch._task.done():
            await asyncio.sleep(0.01)
    assert "ring speech watch stopped: vad exploded" in caplog.text
    await watch.aclose()
