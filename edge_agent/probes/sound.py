"""Sound probes: record from the configured mic and play silence on the configured speaker.

Both run in one worker thread on one PyAudio instance (PortAudio is process-global), mic first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from edge_agent.config import AudioConfig, Config
from edge_agent.doctor import CheckResult, echo_result, fail, level_result, ok
from edge_agent.errors import AudioFormatError
from edge_agent.probes.worker import in_thread

if TYPE_CHECKING:
    from edge_agent.audio.formats import FormatChoice

__all__ = ["echo_check", "sound"]

RATE_HZ: Final = 24000


async def sound(
    cfg: Config, pa_factory: Callable[[], Any] | None, record_s: float
) -> list[CheckResult]:
    """The mic, then the speaker, on one PyAudio instance (PortAudio is process-global)."""
    return await in_thread(_sound_blocking, cfg, pa_factory, record_s)


def _sound_blocking(
    cfg: Config, pa_factory: Callable[[], Any] | None, record_s: float
) -> list[CheckResult]:
    """Runs in a worker thread: open PyAudio, record, play silence, terminate."""
    from edge_agent.audio.devices import open_pyaudio

    try:
        pa = (pa_factory or open_pyaudio)()
    except OSError as exc:
        hint = "install portaudio19 and alsa; is the user in the 'audio' group?"
        return [fail("mic", f"portaudio: {exc}", hint), fail("speaker", f"portaudio: {exc}", hint)]
    try:
        return [_mic(pa, cfg, record_s), _speaker(pa, cfg), echo_check(cfg.audio)]
    finally:
        pa.terminate()


_BUSY_HINT: Final = (
    "another program holds the device: stop the daemon first (`sudo systemctl stop "
    "edge-agent`), or use a shared device (dsnoop/dmix, PulseAudio/PipeWire)"
)


def _open_hint(exc: BaseException, kind: str) -> str:
    text = str(exc).lower()
    if "unavailable" in text or "busy" in text:
        return _BUSY_HINT
    key = "audio.input_device" if kind == "mic" else "audio.output_device"
    return f"check {key} (`edge-agent audio list`) and that the user is in the 'audio' group"


def _missing_hint(message: str, key: str, tool: str) -> str:
    if "devices: none" in message:
        return (
            f"no sound card seen: is it plugged in and listed by `{tool} -l`? is the user in "
            "the 'audio' group? at boot the card may come up late (the unit waits for sound.target)"
        )
    return f"set {key} to one of the devices listed (exact name or a unique part of it)"


def _format_fail(check: str, exc: AudioFormatError) -> CheckResult:
    """A format problem: the message already says what the device offers and the fix."""
    text = str(exc)
    fix = text.rsplit("; ", 1)[-1] if "; " in text else "use the device's plughw: name"
    return fail(check, text, fix)


def _with_format(result: CheckResult, choice: FormatChoice) -> CheckResult:
    detail = f"{result.detail}; opened at {choice.describe()} ({choice.reason})"
    return dataclasses.replace(result, detail=detail)


def _mic(pa: Any, cfg: Config, record_s: float) -> CheckResult:
    """Runs in a worker thread: record `record_s` from the configured mic."""
    from edge_agent.audio.devices import find_device
    from edge_agent.audio.probe import record_blocking
    from edge_agent.commands.audio import level_dbfs
    from edge_agent.errors import AudioDeviceError

    spec = cfg.audio.input_device
    try:
        dev = find_device(pa, spec, "input")
    except AudioDeviceError as exc:
        return fail("mic", str(exc), _missing_hint(str(exc), "audio.input_device", "arecord"))
    channel = cfg.audio.input_channel if cfg.audio.input_channel >= 0 else None
    try:
        choice, samples = record_blocking(pa, dev, record_s, channel)
    except AudioFormatError as exc:
        return _format_fail("mic", exc)
    except OSError as exc:
        return fail("mic", f"{dev.name!r} does not open: {exc}", _open_hint(exc, "mic"))
    result = level_result(dev.name, level_dbfs(samples), len(samples) / RATE_HZ)
    return _with_format(result, choice)


def _speaker(pa: Any, cfg: Config) -> CheckResult:
    """Runs in a worker thread: open the speaker and play 0.1 s of silence."""
    import numpy as np

    from edge_agent.audio.devices import find_device
    from edge_agent.audio.probe import play_blocking
    from edge_agent.errors import AudioDeviceError

    try:
        dev = find_device(pa, cfg.audio.output_device, "output")
    except AudioDeviceError as exc:
        return fail("speaker", str(exc), _missing_hint(str(exc), "audio.output_device", "aplay"))
    try:
        choice = play_blocking(pa, dev, np.zeros(RATE_HZ // 10, np.int16))
    except AudioFormatError as exc:
        return _format_fail("speaker", exc)
    except OSError as exc:
        return fail("speaker", f"{dev.name!r} does not open: {exc}", _open_hint(exc, "speaker"))
    return _with_format(ok("speaker", f"{dev.name!r} opens and plays (0.1 s of silence)"), choice)


def echo_check(audio: AudioConfig) -> CheckResult:
    """Echo cancellation on or off; when on, whether libspeexdsp loads (also `audio test`)."""
    error = ""
    if audio.echo_cancel != "off":
        from edge_agent.audio.speex import load_speexdsp
        from edge_agent.errors import AudioDeviceError

        try:
            load_speexdsp()
        except AudioDeviceError as exc:
            error = str(exc)
    return echo_result(audio.echo_cancel, audio.duplex, error)
