"""In-process conversion between a device's format and the pipeline's 24 kHz mono int16.

Owns: capture (interleaved device frames -> one channel or their mean -> soxr to 24 kHz) and
playback (24 kHz mono -> soxr to the device rate; mono -> every channel). Pure numpy + soxr,
stateful per stream (the resampler's filter spans chunks), no threads.
"""

from __future__ import annotations

import numpy as np

from edge_agent.audio.formats import TARGET_RATE_HZ, FormatChoice
from edge_agent.audio.resample import Resampler

__all__ = ["CaptureConverter", "PlaybackConverter", "downmix", "upmix"]


def downmix(frames: np.ndarray, channels: int, channel: int | None) -> np.ndarray:
    """Interleaved int16 -> mono int16: channel `channel`, or the rounded mean of all."""
    if channels == 1:
        return np.ascontiguousarray(frames, dtype=np.int16)
    shaped = frames[: len(frames) // channels * channels].reshape(-1, channels)
    if channel is not None:
        return np.ascontiguousarray(shaped[:, channel])
    mean = np.rint(shaped.astype(np.int32).sum(axis=1) / channels)
    return mean.astype(np.int16)


def upmix(mono: np.ndarray, channels: int) -> np.ndarray:
    """Mono int16 -> interleaved int16 with the same sample in every channel."""
    if channels == 1:
        return mono
    return np.repeat(mono, channels)


class CaptureConverter:
    """Device frames in, 24 kHz mono out. `frames_in`/`samples_out` count what went through."""

    def __init__(self, choice: FormatChoice) -> None:
        self.choice = choice
        self._rs = Resampler(choice.rate_hz, TARGET_RATE_HZ)
        self.frames_in = 0

    def process(self, raw: bytes | np.ndarray) -> np.ndarray:
        data = np.frombuffer(raw, dtype=np.int16) if isinstance(raw, bytes) else raw
        mono = downmix(data, self.choice.channels, self.choice.input_channel)
        self.frames_in += len(mono)
        return self._rs.process(mono)

    def flush(self) -> np.ndarray:
        """The end of a recording: what the filter still holds (the converter is spent)."""
        return self._rs.flush()

    def out_samples(self, device_frames: int) -> int:
        """How many 24 kHz samples `device_frames` become (give or take the filter delay)."""
        return device_frames * TARGET_RATE_HZ // self.choice.rate_hz


class PlaybackConverter:
    """24 kHz mono in, device-rate mono out (call `upmix` per period for the channels)."""

    def __init__(self, choice: FormatChoice) -> None:
        self.choice = choice
        self._rs: Resampler | None = None

    def process(self, samples: np.ndarray) -> np.ndarray:
        if self.choice.rate_hz == TARGET_RATE_HZ:
            return samples
        if self._rs is None:
            self._rs = Resampler(TARGET_RATE_HZ, self.choice.rate_hz)
        return self._rs.process(samples)

    def flush(self) -> np.ndarray:
        """The end of a reply: what the filter still holds; the next reply starts afresh."""
        rs, self._rs = self._rs, None
        return rs.flush() if rs is not None else np.zeros(0, dtype=np.int16)

    def reset(self) -> None:
        """Barge-in: drop the filter state (the queued audio is dropped too)."""
        self._rs = None
