"""Blocking one-shot mic and speaker checks for `audio test` and `doctor`, with negotiation.

Owns: opening a device at the negotiated format (`audio.formats`), a plain pull read (a
diagnostic wants the device's raw behaviour, and a pull read can't be outrun by the unpaced
file rig), converting to 24 kHz mono, and playing a buffer. Worker threads only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_agent.audio.capture import Checker, negotiate
from edge_agent.audio.convert import CaptureConverter, PlaybackConverter, upmix
from edge_agent.audio.devices import AudioDevice, format_checker, quiet_stderr
from edge_agent.audio.formats import TARGET_RATE_HZ, FormatChoice, open_error

__all__ = ["play_blocking", "record_blocking"]


def record_blocking(
    pa: Any,
    device: AudioDevice,
    seconds: float,
    input_channel: int | None = None,
    checker: Checker = format_checker,
) -> tuple[FormatChoice, np.ndarray]:
    """Record `seconds` and return the format used and 24 kHz mono int16.

    Raises:
        AudioFormatError: the device offers no usable format, or refuses the chosen one.
        AudioDeviceError: it does not open for another reason.
    """
    import pyaudio  # type: ignore[import-untyped]

    choice = negotiate(pa, device, "input", input_channel, checker)
    frame = choice.rate_hz // 50
    want = int(seconds * choice.rate_hz)
    try:
        with quiet_stderr():
            stream = pa.open(
                rate=choice.rate_hz, channels=choice.channels, format=pyaudio.paInt16,
                input=True, input_device_index=device.index, frames_per_buffer=frame,
            )  # fmt: skip
        try:
            parts = [
                stream.read(frame, exception_on_overflow=False) for _ in range(-(-want // frame))
            ]
        finally:
            stream.stop_stream()
            stream.close()
    except OSError as exc:
        raise open_error("capture", device.name, choice, exc) from exc
    raw = np.frombuffer(b"".join(parts), dtype=np.int16)[: want * choice.channels]
    if choice.native:
        return choice, raw
    conv = CaptureConverter(choice)
    out = np.concatenate([conv.process(raw), conv.flush()])
    return choice, out[: int(seconds * TARGET_RATE_HZ)]


def play_blocking(
    pa: Any, device: AudioDevice, samples: np.ndarray, checker: Checker = format_checker
) -> FormatChoice:
    """Play 24 kHz mono `samples` (blocking write) at the negotiated format; returns it.

    Raises:
        AudioFormatError / AudioDeviceError: as `record_blocking`.
    """
    import pyaudio

    choice = negotiate(pa, device, "output", None, checker)
    conv = PlaybackConverter(choice)
    mono = np.concatenate([conv.process(samples), conv.flush()])
    try:
        with quiet_stderr():
            stream = pa.open(
                rate=choice.rate_hz, channels=choice.channels, format=pyaudio.paInt16,
                output=True, output_device_index=device.index,
                frames_per_buffer=choice.rate_hz // 50,
            )  # fmt: skip
        try:
            stream.write(upmix(mono, choice.channels).tobytes())
        finally:
            stream.stop_stream()
            stream.close()
    except OSError as exc:
        raise open_error("playback", device.name, choice, exc) from exc
    return choice
