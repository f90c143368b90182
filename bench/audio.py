"""Audio layer benchmark on the paced PulseAudio rig (realtime-audio-rig.md).

1. Capture CPU: Capture -> CaptureReader -> Resampler(24k->16k) -> consumer, in CPU-seconds per
   audio-second, as a ratio to a bare PyAudio blocking read loop on the same device, measured
   alternately in the same run (machines are noisy).
2. Playback underruns: reply audio arriving in chunks paced at real time, each delayed by a
   random 0-80 ms (delivered in order, like TCP), at several jitter-buffer start thresholds.
3. Echo canceller CPU per audio second (speex MDF + residual-echo suppressor + the delay
   measurement, `audio.echo`) as a ratio to the wake detector's (openWakeWord, the defaults),
   on the same 10 s of speech with its echo, alternating, in this process (needs the models:
   EDGE_AGENT_MODELS_DIR). The ERLE, recall and barge-in figures are in bench/echo.py.

Run: PYTHONPATH=. python bench/audio.py [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import time

import numpy as np

from edge_agent.audio.capture import Capture
from edge_agent.audio.devices import find_device, open_pyaudio
from edge_agent.audio.playback import Playback
from edge_agent.audio.resample import Resampler
from edge_agent.config import AudioConfig
from edge_agent.sim.pulse_rig import PulseRig

RATE_HZ = 24000


def bare_read(seconds: float) -> tuple[float, float]:
    """CPU-s and audio-s of a plain blocking PyAudio read loop (the floor)."""
    import pyaudio

    pa = open_pyaudio()
    try:
        dev = find_device(pa, "vmic", "input")
        stream = pa.open(
            rate=RATE_HZ, channels=1, format=pyaudio.paInt16, input=True,
            input_device_index=dev.index, frames_per_buffer=480,
        )  # fmt: skip
        n = 0
        cpu0 = time.process_time()
        while n < seconds * RATE_HZ:
            n += len(np.frombuffer(stream.read(480, exception_on_overflow=False), np.int16))
        cpu = time.process_time() - cpu0
        stream.close()
    finally:
        pa.terminate()
    return cpu, n / RATE_HZ


async def ours(seconds: float, min_samples: int) -> tuple[float, float, int]:
    """CPU-s and audio-s of capture -> reader -> 16 kHz resampler -> consumer (RMS)."""
    cap = Capture(AudioConfig(input_device="vmic"))
    await cap.start()
    rs = Resampler(RATE_HZ, 16000)
    n = 0
    energy = 0.0
    try:
        cpu0 = time.process_time()
        async for chunk in cap.reader(min_samples=min_samples):
            out = rs.process(chunk)
            energy += float(np.square(out, dtype=np.float32).sum())
            n += len(chunk)
            if n >= seconds * RATE_HZ:
                break
        cpu = time.process_time() - cpu0
    finally:
        await cap.aclose()
    return cpu, n / RATE_HZ, cap.overflows


async def jittered_playback(
    seconds: float, start_ms: int, chunk_ms: int, max_jitter_ms: int, seed: int
) -> tuple[int, int, int]:
    """Underruns, samples played and samples sent for one jittered reply."""
    rnd = random.Random(seed)
    cfg = dataclasses.replace(AudioConfig(output_device="vspk"), playback_start_ms=start_ms)
    pb = Playback(cfg)
    await pb.start()
    chunk = RATE_HZ * chunk_ms // 1000
    tone = (np.sin(2 * np.pi * 440 * np.arange(int(seconds * RATE_HZ)) / RATE_HZ) * 8000).astype(
        np.int16
    )
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    arrival = t0
    try:
        for i in range(0, len(tone), chunk):
            due = t0 + i / RATE_HZ + rnd.uniform(0, max_jitter_ms / 1000)
            arrival = max(arrival, due)  # in order, like a TCP stream
            await asyncio.sleep(max(0.0, arrival - loop.time()))
            pb.write(tone[i : i + chunk])
        await pb.drain()
    finally:
        await pb.aclose()
    return pb.underruns, pb.played_samples, len(tone)


def aec_vs_wake_cpu(seconds: float, rounds: int) -> tuple[float, float]:
    """CPU-s per audio-s of the echo canceller and of the wake detector, same audio."""
    from edge_agent.audio.echo import EchoCanceller, EchoReference
    from edge_agent.config import Config
    from edge_agent.sim.room import RoomStream, room_impulse_response
    from edge_agent.sim.speech import speak
    from edge_agent.wake.detector import WakeDetector
    from edge_agent.wake.models import resolve_models

    text = "The weather today is sunny with a high of twenty three degrees and a light wind."
    reply = np.tile(speak(text), 8)[: int(seconds * RATE_HZ)]
    mic = RoomStream(room_impulse_response(delay_ms=40)).process(reply)
    mic = np.clip(np.rint(mic), -32768, 32767).astype(np.int16)
    cfg = Config()
    paths = resolve_models(cfg)
    pcm16 = Resampler(RATE_HZ, 16000).process(mic)
    aec_cpu = wake_cpu = 0.0
    for _ in range(rounds):
        ref = EchoReference()
        aec = EchoCanceller(ref)
        t0 = 1000.0
        cpu0 = time.process_time()
        for i in range(0, len(mic), 960):  # 40 ms capture frames, the default
            ref.write(reply[i : i + 960], t0 + i / RATE_HZ)
            aec.process(mic[i : i + 960], t0 + i / RATE_HZ)
        aec_cpu += time.process_time() - cpu0
        aec.close()
        det = WakeDetector(cfg.wake, paths)
        cpu0 = time.process_time()
        for i in range(0, len(pcm16) - 1279, 1280):
            det.process(pcm16[i : i + 1280])
        wake_cpu += time.process_time() - cpu0
    audio_s = rounds * len(mic) / RATE_HZ
    return aec_cpu / audio_s, wake_cpu / audio_s


def near_end_cpu(seconds: float) -> tuple[float, float, float]:
    """CPU of the full-duplex guard's near-end VAD over the canceller's output: CPU-s per
    audio-s as the daemon runs it on a reply's echo (onsets are rare once the filter has
    converged), then ms per judgement (`check_alignment` at an onset, `echo_left` at an onset
    and every 60 ms of a stretch taken for echo: at most ~17 a second)."""
    from edge_agent.audio.echo import EchoCanceller, EchoReference, NearEndVad
    from edge_agent.sim.room import RoomStream, room_impulse_response
    from edge_agent.sim.speech import speak

    text = "The weather today is sunny with a high of twenty three degrees and a light wind."
    reply = np.tile(speak(text), 8)[: int(seconds * RATE_HZ)]
    mic = RoomStream(room_impulse_response(delay_ms=40)).process(reply)
    mic = np.clip(np.rint(mic), -32768, 32767).astype(np.int16)
    ref = EchoReference()
    aec = EchoCanceller(ref)
    near = NearEndVad(aec)
    t0, cpu = 1000.0, 0.0
    for i in range(0, len(mic), 960):
        ref.write(reply[i : i + 960], t0 + i / RATE_HZ)
        out = aec.process(mic[i : i + 960], t0 + i / RATE_HZ)
        c0 = time.process_time()
        near.feed(out)
        cpu += time.process_time() - c0
    tail = np.zeros(7200, np.int16)  # its level does not change the cost
    c0 = time.process_time()
    for _ in range(100):
        aec.check_alignment()
    align_ms = (time.process_time() - c0) * 10
    c0 = time.process_time()
    for _ in range(100):  # echo_left's worst case: both of its tests
        aec.removed_db(tail)
        aec.residual_echo()
    left_ms = (time.process_time() - c0) * 10
    aec.close()
    return cpu / (len(mic) / RATE_HZ), align_ms, left_ms


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="audio per measurement, s")
    ap.add_argument("--runs", type=int, default=3, help="jittered replies per setting")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of each")
    args = ap.parse_args()
    logging.getLogger("edge_agent.audio").setLevel(logging.ERROR)  # underruns are counted below
    aec, wake = aec_vs_wake_cpu(10.0, args.rounds)
    print("echo canceller vs wake detector, CPU-s per audio-s, same 10 s of speech + echo")
    print(f"  speex AEC (+suppressor, delay measurement) {aec:.4f}")
    print(f"  wake detector (openWakeWord, defaults)    {wake:.4f}")
    print(f"  AEC / wake = {aec / wake:.2f}")
    vad, align_ms, left_ms = near_end_cpu(10.0)
    print(
        f"  near-end VAD (full-duplex guard) over the AEC's output {vad:.4f} "
        f"({vad / wake:.2f} x wake); per judgement: check_alignment {align_ms:.2f} ms, "
        f"echo_left {left_ms:.2f} ms (every 60 ms at most: {left_ms / 60:.4f} CPU-s/s)"
    )
    with PulseRig() as rig, rig.activate():
        print(f"capture CPU, {args.rounds} x {args.seconds:.0f} s each, device vmic (paced)")
        batches = {"per 20 ms frame": 1, "80 ms batches (wake detector)": 1920}
        cpu_s = dict.fromkeys(["bare", *batches], 0.0)
        audio_s = dict.fromkeys(["bare", *batches], 0.0)
        overflows = 0
        for _ in range(args.rounds):
            cpu, audio = await asyncio.to_thread(bare_read, args.seconds)
            cpu_s["bare"] += cpu
            audio_s["bare"] += audio
            for name, min_samples in batches.items():
                cpu, audio, ov = await ours(args.seconds, min_samples)
                cpu_s[name] += cpu
                audio_s[name] += audio
                overflows += ov
        bare = cpu_s["bare"] / audio_s["bare"]
        print(f"  bare PyAudio read loop{'':<34s}{bare:.4f} CPU-s per audio-s")
        for name in batches:
            mine = cpu_s[name] / audio_s[name]
            print(
                f"  capture+reader+resample, {name:<30s}{mine:.4f} CPU-s per audio-s"
                f"  = {mine / bare:.2f}x bare"
            )
        print(f"  overflows: {overflows}")
        print("playback with 0-80 ms jitter per chunk (in order), 10 s reply each")
        for chunk_ms in (20, 100):
            for start_ms in (80, 100, 120, 160):
                runs = [
                    await jittered_playback(10.0, start_ms, chunk_ms, 80, seed)
                    for seed in range(args.runs)
                ]
                underruns = sum(r[0] for r in runs)
                exact = all(r[1] == r[2] for r in runs)
                print(
                    f"  chunks {chunk_ms:3d} ms, start at {start_ms:3d} ms buffered: "
                    f"underruns {underruns} in {args.runs} runs, all samples played: {exact}"
                )


if __name__ == "__main__":
    asyncio.run(main())
