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
    lst = asub.add_parser(
        "list",
        help="list ALSA capture and playback devices, the formats each accepts and the one "
        "edge-agent would open it at",
    )
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
        if not devices:
            print("no ALSA devices found (is the user in the 'audio' group?)", file=sys.stderr)
            return EX_UNAVAILABLE
        for kind, title in (("input", "capture"), ("output", "playback")):
            print(f"{title} devices:")
            for dev in devices:
                if dev.has(kind):  # type: ignore[arg-type]
                    print(f"  {dev.describe()}")
                    print(f"       {_formats_line(pa, dev, kind)}")
    except AudioDeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    finally:
        pa.terminate()
    return 0


def _formats_line(pa: object, dev: object, kind: str) -> str:
    """'formats: 48000/2ch; opens at 48000 Hz 2 channels (why)' for one device (blocking)."""
    from edge_agent.audio.devices import AudioDevice, format_checker
    from edge_agent.audio.formats import CANDIDATE_RATES_HZ, choose_format, describe_formats
    from edge_agent.audio.formats import probe_formats as probe
    from edge_agent.errors import AudioFormatError

    assert isinstance(dev, AudioDevice)
    top = dev.max_input_channels if kind == "input" else dev.max_output_channels
    counts = sorted({c for c in (1, 2, top) if 0 < c <= 8} or {1})
    table = probe(
        format_checker(pa, dev, kind),  # type: ignore[arg-type]
        [(r, c) for r in CANDIDATE_RATES_HZ for c in counts],
        stop_at_native=False,
    )
    try:
        choice = choose_format(table, kind, device=dev.name)  # type: ignore[arg-type]
        opens = f"opens at {choice.describe()} ({choice.reason})"
    except AudioFormatError:
        opens = "unusable: use its plughw: or default name"
    return f"formats: {describe_formats(table)}; {opens}"


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


def _record_blocking(
    device_spec: str, seconds: float, input_channel: int
) -> tuple[str, object, object]:
    """Runs in a worker thread: a plain pull read of `seconds`, at the negotiated format."""
    from edge_agent.audio.devices import find_device, open_pyaudio
    from edge_agent.audio.probe import record_blocking

    pa = open_pyaudio()
    try:
        device = find_device(pa, device_spec, "input")
        channel = input_channel if input_channel >= 0 else None
        choice, samples = record_blocking(pa, device, seconds, channel)
    finally:
        pa.terminate()
    return device.name, choice, samples


async def _test(audio: object, seconds: float, play: bool) -> int:
    import asyncio

    from edge_agent.audio.capture import RATE_HZ
    from edge_agent.audio.earcons import tone
    from edge_agent.audio.playback import Playback
    from edge_agent.config import AudioConfig

    assert isinstance(audio, AudioConfig)
    name, choice, samples = await asyncio.to_thread(
        _record_blocking, audio.input_device, seconds, audio.input_channel
    )
    print(f"mic {name!r}: opened at {choice.describe()} ({choice.reason})")  # type: ignore[attr-defined]
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
        fmt = f"opened at {pb.format.describe()} ({pb.format.reason}), " if pb.format else ""
        print(f"speaker {out!r}: {fmt}played a 0.4 s 880 Hz tone")
    print(echo_line(audio))
    return 0 if verdict == "ok" else 1


def echo_line(audio: object) -> str:
    """'echo cancellation: ...' (on or off, whether its library loads, the duplex mode)."""
    from edge_agent.config import AudioConfig
    from edge_agent.probes.sound import echo_check

    assert isinstance(audio, AudioConfig)
    result = echo_check(audio)
    hint = f" ({result.hint})" if result.hint else ""
    return f"echo cancellation: {result.detail}{hint}"
