"""`Playback.set_volume`: the gain the volume tool sets reaches the (ALSA file) speaker."""

from __future__ import annotations

import asyncio
import math
import threading

import numpy as np
import pytest

from edge_agent.audio.playback import Playback
from edge_agent.config import AudioConfig
from edge_agent.sim.alsa import AlsaFileRig
from tests.audio.conftest import noise

TIMEOUT_S = 10.0


def _strip(pcm: np.ndarray) -> np.ndarray:
    nz = np.flatnonzero(pcm)
    return pcm[nz[0] : nz[-1] + 1] if len(nz) else pcm[:0]


async def test_set_volume_from_another_thread_applies_to_later_writes(
    alsa_rig: AlsaFileRig,
) -> None:
    first = noise(4800, seed=11) // 4 * 4
    second = noise(4800, seed=12) // 4 * 4  # multiples of 4: a 0.25 gain is exact
    pb = Playback(AudioConfig(output_device="fakespk", volume=1.0, playback_start_ms=0))
    await pb.start()
    try:
        pb.write(first)  # queued at gain 1.0: keeps it
        setter = threading.Thread(target=pb.set_volume, args=(0.25,))
        setter.start()
        setter.join()
        pb.write(second)
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
    finally:
        await pb.aclose()
    assert pb.volume == 0.25
    out = _strip(alsa_rig.read_output())
    assert np.array_equal(out, np.concatenate([first, second // 4]))


@pytest.mark.parametrize("bad", [-0.1, 2.5, math.nan, math.inf, "0.5"])
def test_set_volume_rejects_gains_outside_the_audio_volume_range(bad: object) -> None:
    pb = Playback(AudioConfig(output_device="fakespk"))
    with pytest.raises(ValueError, match=r"between 0\.0 and 2\.0"):
        pb.set_volume(bad)  # type: ignore[arg-type]
    assert pb.volume == 1.0
