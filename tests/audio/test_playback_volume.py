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


async def test_the_volume_tool_sets_the_gain_of_later_replies(
    alsa_rig: AlsaFileRig, tmp_path
) -> None:
    import json

    import httpx

    from edge_agent.assistant.assembly import build_assistant
    from edge_agent.config import parse_config
    from edge_agent.tools.home import build_registry
    from edge_agent.tools.weather import WeatherService

    cfg = parse_config(
        f'[daemon]\nstate_dir = "{tmp_path}"\ncache_dir = "{tmp_path}"\n[audio]\nvolume = 0.8\n',
        require_api_key=False,
    )
    pb = Playback(
        AudioConfig(output_device="fakespk", volume=cfg.audio.volume, playback_start_ms=0)
    )
    async with httpx.AsyncClient() as http:
        assistant = build_assistant(cfg, WeatherService(cfg.weather, http))
        reg = build_registry(cfg, http, assistant=assistant)
        assistant.volume.on_change(pb.set_volume)  # what the pipeline wires
        result = json.loads(await reg.call("set_volume", '{"percent": 30}'))
        await reg.aclose()
    assert result["volume_pct"] == 30 and pb.volume == 0.8 * 0.3
    reply = noise(4800, seed=13)
    await pb.start()
    try:
        pb.write(reply)
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
    finally:
        await pb.aclose()
    expected = np.rint(reply.astype(np.float32) * np.float32(0.8 * 0.3)).astype(np.int16)
    out = alsa_rig.read_output()
    begin = int(np.flatnonzero(out)[0]) - int(np.flatnonzero(expected)[0])
    assert np.array_equal(out[begin : begin + len(expected)], expected)
