"""Playback through real PyAudio: exact samples, counter, stop() mid-stream, volume."""

from __future__ import annotations

import asyncio

import numpy as np

from edge_agent.audio.playback import Playback
from edge_agent.config import AudioConfig
from edge_agent.sim.alsa import AlsaFileRig
from edge_agent.sim.pulse_rig import PulseRig

from .conftest import noise

TIMEOUT_S = 20


def _strip(out: np.ndarray) -> np.ndarray:
    """Drop PortAudio's leading priming silence and the trailing period padding."""
    nz = np.flatnonzero(out)
    return out[nz[0] : nz[-1] + 1] if len(nz) else out[:0]


async def test_writes_exactly_the_samples_given(alsa_rig: AlsaFileRig) -> None:
    x = noise(24000, seed=3)
    pb = Playback(AudioConfig(output_device="fakespk"))
    await pb.start()
    try:
        for i in range(0, len(x), 1234):  # odd chunk sizes, not period-aligned
            pb.write(x[i : i + 1234].tobytes())
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
        assert pb.is_idle and pb.state == "idle"
    finally:
        await pb.aclose()
    assert pb.played_samples == len(x)
    assert np.array_equal(_strip(alsa_rig.read_output()), x)


async def test_volume_scales_the_samples(alsa_rig: AlsaFileRig) -> None:
    x = noise(4800, seed=4) // 2 * 2  # even, so halving is exact
    pb = Playback(AudioConfig(output_device="fakespk", volume=0.5))
    await pb.start()
    try:
        pb.write(x)
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
    finally:
        await pb.aclose()
    assert np.array_equal(_strip(alsa_rig.read_output()), x // 2)


async def test_below_threshold_waits_for_end_of_stream(alsa_rig: AlsaFileRig) -> None:
    pb = Playback(AudioConfig(output_device="fakespk", playback_start_ms=200))
    await pb.start()
    try:
        pb.write(noise(2400))  # 100 ms < 200 ms
        await asyncio.sleep(0.2)
        assert pb.state == "buffering" and pb.played_samples == 0
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
        assert pb.played_samples == 2400
    finally:
        await pb.aclose()


async def test_stop_mid_stream_silences_and_counter_matches_speaker(pulse_rig: PulseRig) -> None:
    x = noise(24000 * 2, seed=5)
    rec = pulse_rig.record()
    await asyncio.sleep(0.2)
    pb = Playback(AudioConfig(output_device="vspk"))
    await pb.start()
    try:
        pb.write(x)
        await asyncio.sleep(0.6)
        pb.stop()
        played = pb.played_samples
        assert pb.queued_samples == 0
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
        await asyncio.sleep(0.3)
        # a second reply plays fully after a stop
        y = noise(4800, seed=6)
        pb.write(y)
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
        await asyncio.sleep(0.2)
    finally:
        await pb.aclose()
        out = await asyncio.to_thread(rec.stop)
    assert 0.3 * 24000 < played < 1.0 * 24000
    heard = _strip(out)
    first = heard[: len(heard) - len(y)]
    # what reached the speaker is an exact prefix of x, cut within one device buffer of the counter
    first = _strip(first)
    assert np.array_equal(first, x[: len(first)])
    assert played - 2 * 2 * pb.period_samples <= len(first) <= played
    assert np.array_equal(heard[-len(y) :], y)
    assert pb.played_samples == played + len(y)
    assert pb.underruns == 0


async def test_lost_speaker_is_reported_and_drain_returns(pulse_rig: PulseRig) -> None:
    pb = Playback(AudioConfig(output_device="vspk", playback_start_ms=20))
    await pb.start()
    try:
        pb.write(noise(24000 * 3))
        await asyncio.sleep(0.3)
        pulse_rig.stop()  # the "USB speaker" disappears mid-reply
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
        assert pb.lost.is_set() and pb.last_error
        assert pb.played_samples < 24000 * 3
        await asyncio.to_thread(pulse_rig.start)  # back: the next reply plays
        pb.write(noise(2400))
        async with asyncio.timeout(TIMEOUT_S):
            await pb.drain()
        assert not pb.lost.is_set()
    finally:
        await pb.aclose()


async def test_kept_running_the_tap_sees_one_run_across_replies(pulse_rig: PulseRig) -> None:
    """With echo cancellation the stream never stops: the canceller's reference stays one
    contiguous run (one echo path) across replies, silence between them, and every reply
    sample reaches the speaker exactly."""
    from edge_agent.audio.echo import EchoReference

    ref = EchoReference()
    rec = pulse_rig.record()
    pb = Playback(AudioConfig(output_device="vspk"), tap=ref.write, keep_running=True)
    await pb.start()
    await asyncio.sleep(0.3)  # PortAudio's DAC time settles once in the first callbacks
    runs = ref.runs
    try:
        first, second = noise(12000, seed=1), noise(12000, seed=2)
        pb.write(first)
        await pb.drain()
        await asyncio.sleep(0.5)  # idle between replies: the stream plays silence
        assert pb._stream is not None and pb._stream.is_active()
        pb.write(second)
        await pb.drain()
        await asyncio.sleep(0.3)
    finally:
        await pb.aclose()
    heard = rec.stop()
    assert runs >= 1 and ref.runs == runs  # no new run: neither reply restarted the stream
    assert pb.played_samples == 24000
    for sent in (first, second):
        at = heard.tobytes().find(sent[:480].tobytes())
        assert at >= 0 and at % 2 == 0
        assert np.array_equal(heard[at // 2 : at // 2 + len(sent)], sent)
