"""`edge-agent audio list|test`: the first thing to run on a new Pi."""

from __future__ import annotations

import argparse
import sys

from edge_agent.commands.common import add_common, load

ORDER = 30
EX_UNAVAILABLE = 69
SILENT_DBFS = -60.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("audio", help="list sound devices, test the mic and speaker")
    asub = parser.add_subparsers(dest="audio_command", metavar="ACTION", required=True)
    lst = asub.add_parser("list", help="list ALSA capture and playback devices")
    lst.set_defaults(func=cmd_list)
    test = add_common(
        asub.add_parser(
            "test",
            help="record from the configured mic, report its level, then play a short tone",
        )
    )
    test.add_argument(
        "--seconds", type=float, default=3.0, help="how long to record, s (default: 3.0)"
    )
    test.add_argument("--input-device", help="capture device (default: audio.input_device)")
    test.add_argument("--output-device", help="playback device (default: audio.output_device)")
    test.add_argument("--no-tone", action="store_true", help="do not play the test tone")
    test.set_defaults(func=cmd_test)


def cmd_list(args: argparse.Namespace) -> int:
    from edge_agent.audio.devices import list_devices, open_pyaudio
    from edge_agent.errors import AudioDeviceError

    pa = open_pyaudio()
    try:
        devices = list_devices(pa)
    except AudioDeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    finally:
        pa.terminate()
    if not devices:
        print("no ALSA devices found (is the user in the 'audio' group?)", file=sys.stderr)
        return EX_UNAVAILABLE
    for kind, title in (("input", "capture"), ("output", "playback")):
        print(f"{title} devices:")
        for dev in devices:
            if dev.has(kind):  # type: ignore[arg-type]
                print(f"  {dev.describe()}")
    return 0


def level_dbfs(samples: object) -> float:
    """RMS level of int16 samples in dBFS (-inf for digital silence)."""
    import numpy as np

    data = np.asarray(samples, dtype=np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(data**2))) if len(data) else 0.0
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")


def cmd_test(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses

    from edge_agent.errors import AudioDeviceError

    cfg = load(args)
    audio = cfg.audio
    if args.input_device:
        audio = dataclasses.replace(audio, input_device=args.input_device)
    if args.output_device:
        audio = dataclasses.replace(audio, output_device=args.output_device)
    try:
        return asyncio.run(_test(audio, args.seconds, not args.no_tone))
    except AudioDeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE


async def _test(audio: object, seconds: float, play: bool) -> int:
    import asyncio
    import dataclasses

    import numpy as np

    from edge_agent.audio.capture import RATE_HZ, Capture
    from edge_agent.audio.earcons import tone
    from edge_agent.audio.playback import Playback
    from edge_agent.config import AudioConfig

    assert isinstance(audio, AudioConfig)
    # keep the whole take in the ring: an unpaced (file) device delivers it all at once
    ring_ms = max(audio.ring_ms, int(seconds * 1000) + 2000)
    cap = Capture(dataclasses.replace(audio, ring_ms=ring_ms))
    want = int(seconds * RATE_HZ)
    got: list[np.ndarray] = []
    reader = cap.reader(0)
    await cap.start()
    try:
        n = 0
        async with asyncio.timeout(seconds + 5):
            async for chunk in reader:
                got.append(chunk)
                n += len(chunk)
                if n >= want:
                    break
    finally:
        await cap.aclose()
    samples = np.concatenate(got)[:want] if got else np.zeros(0, np.int16)
    dbfs = level_dbfs(samples)
    name = cap.device.name if cap.device else audio.input_device
    verdict = "silent" if dbfs < SILENT_DBFS else "ok"
    print(
        f"mic {name!r}: {len(samples) / RATE_HZ:.1f} s recorded, level {dbfs:.1f} dBFS: {verdict}"
    )
    if play:
        pb = Playback(audio)
        await pb.start()
        try:
            pb.write(tone(880.0, 400))
            await pb.drain()
        finally:
            await pb.aclose()
        out = pb.device.name if pb.device else audio.output_device
        print(f"speaker {out!r}: played a 0.4 s 880 Hz tone")
    return 0 if verdict == "ok" else 1
