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


def _record_blocking(device_spec: str, seconds: float) -> tuple[str, object]:
    """Runs in a worker thread: a plain pull read of `seconds` from the capture device.

    A diagnostic wants the device's raw behaviour, and a pull read can't be outrun by an
    unpaced device (the file-backed test rig delivers millions of samples per second).
    """
    import numpy as np
    import pyaudio  # type: ignore[import-untyped]

    from edge_agent.audio.capture import RATE_HZ
    from edge_agent.audio.devices import find_device, open_pyaudio
    from edge_agent.errors import AudioDeviceError

    pa = open_pyaudio()
    try:
        device = find_device(pa, device_spec, "input")
        frame = RATE_HZ // 50
        try:
            stream = pa.open(
                rate=RATE_HZ, channels=1, format=pyaudio.paInt16, input=True,
                input_device_index=device.index, frames_per_buffer=frame,
            )  # fmt: skip
            want = int(seconds * RATE_HZ)
            parts = [
                stream.read(frame, exception_on_overflow=False) for _ in range(-(-want // frame))
            ]
            stream.close()
        except OSError as exc:
            raise AudioDeviceError(f"cannot record from {device.name!r}: {exc}") from exc
    finally:
        pa.terminate()
    return device.name, np.frombuffer(b"".join(parts), dtype=np.int16)[:want]


async def _test(audio: object, seconds: float, play: bool) -> int:
    import asyncio

    from edge_agent.audio.capture import RATE_HZ
    from edge_agent.audio.earcons import tone
    from edge_agent.audio.playback import Playback
    from edge_agent.config import AudioConfig

    assert isinstance(audio, AudioConfig)
    name, samples = await asyncio.to_thread(_record_blocking, audio.input_device, seconds)
    dbfs = level_dbfs(samples)
    verdict = "silent" if dbfs < SILENT_DBFS else "ok"
    recorded_s = len(samples) / RATE_HZ  # type: ignore[arg-type]
    print(f"mic {name!r}: {recorded_s:.1f} s recorded, level {dbfs:.1f} dBFS: {verdict}")
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
