"""The ringing loop on the ALSA file speaker: whole cycles back to back, at the set volume."""

from __future__ import annotations

import asyncio

import numpy as np

from edge_agent.assistant.ring_loop import RingLoop
from edge_agent.audio.earcons import earcon
from edge_agent.audio.playback import Playback
from edge_agent.config import AudioConfig, EarconsConfig
from edge_agent.sim.alsa import AlsaFileRig

TIMEOUT_S = 15.0


async def test_rings_cycle_after_cycle_until_stopped_at_the_set_volume(
    alsa_rig: AlsaFileRig,
) -> None:
    cycle = earcon("ringing", EarconsConfig(volume=1.0))
    assert cycle is not None
    pb = Playback(AudioConfig(output_device="fakespk", playback_start_ms=0))
    pb.set_volume(0.5)  # what set_volume(50 %) does through VolumeControl
    ticks: list[int] = []
    loop = RingLoop(pb, cycle, on_cycle=lambda: ticks.append(loop.cycles))
    await pb.start()
    try:
        loop.start()
        loop.start()  # no second loop
        async with asyncio.timeout(TIMEOUT_S):
            while loop.cycles < 2:
                await asyncio.sleep(0.05)
        await loop.stop()
        assert not loop.running
    finally:
        await pb.aclose()
    assert ticks[:2] == [1, 2]
    out = alsa_rig.read_output()
    expected = np.rint(cycle.astype(np.float32) * 0.5).astype(np.int16)
    lead = int(np.flatnonzero(expected)[0])  # the fade-in may start with samples that round to 0
    at = 0
    for _ in range(2):  # two whole cycles, in order (the unpaced file rig puts silence between)
        begin = at + int(np.flatnonzero(out[at:])[0]) - lead
        assert np.array_equal(out[begin : begin + len(expected)], expected)
        at = begin + len(expected)


async def test_stop_before_it_starts_and_without_a_sound() -> None:
    class Silent:
        def __init__(self) -> None:
            self.stopped = 0

        def write(self, pcm: object) -> None:
            raise AssertionError("a silent ring writes nothing")

        def end_of_stream(self) -> None: ...

        async def drain(self) -> None: ...

        def stop(self) -> None:
            self.stopped += 1

    speaker = Silent()
    loop = RingLoop(speaker, None)
    await loop.stop()  # not ringing: nothing happens
    assert speaker.stopped == 0
    loop.start()
    await asyncio.sleep(0)
    assert loop.running
    await loop.stop()
    assert speaker.stopped == 1 and not loop.running
