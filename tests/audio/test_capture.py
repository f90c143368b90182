"""Capture through real PyAudio on the fake devices: bit-exact, contiguous, pre-roll hand-over."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from edge_agent.audio.capture import Capture, CaptureReader
from edge_agent.audio.ring import SamplesLost
from edge_agent.config import AudioConfig
from edge_agent.errors import DeviceNotFound
from edge_agent.sim.alsa import AlsaFileRig
from edge_agent.sim.pulse_rig import PulseRig

from .conftest import noise

TIMEOUT_S = 20


async def _collect(reader: CaptureReader, n: int) -> np.ndarray:
    """At least n samples: whole chunks, so the result ends at reader.position."""
    parts: list[np.ndarray] = []
    got = 0
    async with asyncio.timeout(TIMEOUT_S):
        async for chunk in reader:
            parts.append(chunk)
            got += len(chunk)
            if got >= n:
                break
    return np.concatenate(parts)


async def test_file_capture_is_bit_exact_with_preroll_handover(alsa_rig: AlsaFileRig) -> None:
    x = noise(24000 * 3, seed=1)
    alsa_rig.write_input(x)
    # the file rig is unpaced (millions of samples/s): a ring far larger than the take (60 s; a
    # 10 s ring was overrun once on a loaded CI machine while the first reader drained), and
    # 20 ms frames: PortAudio's thread runs the callback back to back holding the GIL, and at
    # 40 ms (the default) it hands over 10 s before the loop runs again in about half the runs
    cap = Capture(AudioConfig(input_device="fakemic", ring_ms=60000, frame_ms=20))
    wake = cap.reader(0)
    await cap.start()
    try:
        first = await _collect(wake, 24000)
        # the "detector" fires at sample 24000; stream from 0.5 s before it, out of the ring
        stream = cap.reader(24000 - 12000)
        streamed = await _collect(stream, 36000)
        rest = await _collect(wake, 24000)  # the first reader goes on, unaffected
    finally:
        await cap.aclose()
    assert np.array_equal(first[:24000], x[:24000])
    assert np.array_equal(streamed[:36000], x[12000:48000])
    assert len(rest) >= 24000
    assert cap.frames_received > 0 and cap.overflows == 0


async def test_paced_capture_is_an_exact_contiguous_slice_of_the_fed_file(
    pulse_rig: PulseRig,
) -> None:
    x = noise(24000 * 2, seed=2)
    cap = Capture(AudioConfig(input_device="vmic"))
    await cap.start()
    try:
        wake = cap.reader()
        feeder = pulse_rig.feed(np.concatenate([x, np.zeros(4800, np.int16)]))
        heard = await _collect(wake, 24000)  # silence, then the start of x
        stream = cap.reader(wake.position - 12000)  # pre-roll hand-over mid-signal
        start = stream.position
        streamed = await _collect(stream, int(24000 * 1.8))
        await asyncio.to_thread(feeder.wait, TIMEOUT_S)
    finally:
        await cap.aclose()
    assert start == wake.position - 12000 and len(streamed) > 12000
    # the hand-over: the streamer's first 0.5 s are exactly the detector's last 0.5 s
    assert np.array_equal(streamed[:12000], heard[-12000:])
    # everything captured, in order, is x with nothing lost or repeated. Zeros are dropped
    # first: x has none, and a feeder (pacat) that underruns on a loaded machine inserts silence
    captured = np.concatenate([heard, streamed[12000:]])
    fed = captured[captured != 0]
    assert len(fed) > 24000 * 1.5
    assert np.array_equal(fed, x[: len(fed)])
    assert cap.overflows == 0
    assert cap.frames_received >= (len(heard) + len(streamed) - 12000) // cap.frame_samples


async def test_mute_really_closes_the_stream_and_indices_keep_counting(
    pulse_rig: PulseRig,
) -> None:
    cap = Capture(AudioConfig(input_device="vmic"))
    await cap.start()
    try:
        reader = cap.reader()
        await _collect(reader, 4800)
        await cap.close_mic()
        assert cap._stream is None
        frames = cap.frames_received
        await asyncio.sleep(0.3)
        assert cap.frames_received <= frames + 2  # at most frames already on their way
        head = cap.head
        await cap.open_mic()
        more = await _collect(reader, 4800)
        assert len(more) >= 4800 and reader.position > head
        assert not cap.lost.is_set()
    finally:
        await cap.aclose()


async def test_lost_mic_is_reported_and_reopened(pulse_rig: PulseRig) -> None:
    cap = Capture(AudioConfig(input_device="vmic", reopen_interval_s=0.3))
    await cap.start()
    try:
        await _collect(cap.reader(), 2400)
        pulse_rig.stop()  # the "USB mic" disappears
        async with asyncio.timeout(TIMEOUT_S):
            await cap.lost.wait()
        assert cap.last_error
        await asyncio.to_thread(pulse_rig.start)  # plugged back in
        async with asyncio.timeout(TIMEOUT_S):
            while cap.lost.is_set():
                await asyncio.sleep(0.05)
        after = cap.frames_received
        await _collect(cap.reader(), 2400)
        assert cap.frames_received > after
    finally:
        await cap.aclose()


async def test_batched_reader_gets_whole_batches_same_samples(pulse_rig: PulseRig) -> None:
    cap = Capture(AudioConfig(input_device="vmic"))
    await cap.start()
    try:
        x = noise(24000, seed=7)
        pulse_rig.feed(np.concatenate([x, np.zeros(4800, np.int16)]))
        fine = cap.reader()
        batched = cap.reader(fine.position, min_samples=1920)
        sizes = []
        got = []
        async with asyncio.timeout(TIMEOUT_S):
            async for chunk in batched:
                sizes.append(len(chunk))
                got.append(chunk)
                if sum(sizes) >= 24000:
                    break
        reference = await _collect(fine, sum(sizes))
    finally:
        await cap.aclose()
    assert min(sizes) >= 1920
    assert len(sizes) <= 24000 // 1920 + 1  # the loop was woken per batch, not per frame
    assert np.array_equal(np.concatenate(got), reference[: sum(sizes)])


async def test_a_stalled_loop_drops_old_frames_counts_them_and_readers_learn(
    alsa_rig: AlsaFileRig,
) -> None:
    alsa_rig.write_input(noise(24000 * 2))
    cap = Capture(AudioConfig(input_device="fakemic", ring_ms=500))
    reader = cap.reader(0)
    await cap.start()
    try:
        time.sleep(0.3)  # deliberately block the loop: the unpaced mic floods meanwhile
        assert len(cap._inbox) <= cap._ring.capacity // cap.frame_samples  # bounded
        with pytest.raises(SamplesLost):
            await anext(reader)
        assert cap.overflows > 0
        head = cap.head
        await asyncio.sleep(0.05)
        assert cap.head > head  # capture goes on after the stall
    finally:
        await cap.aclose()


async def test_missing_mic_fails_start_with_the_listing(alsa_rig: AlsaFileRig) -> None:
    cap = Capture(AudioConfig(input_device="USB PnP Sound Device"))
    with pytest.raises(DeviceNotFound, match="'fakemic'"):
        await cap.start()
    assert cap._pa is None  # PortAudio released, so a later PyAudio() re-enumerates
