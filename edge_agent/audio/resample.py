"""Streaming band-limited resampling of int16 mono audio with soxr.

Owns: 24 kHz -> 16 kHz for the wake detector (anti-aliased, so tones above 8 kHz do not fold
into its band) and any rate -> 24 kHz for sources that are not at the Realtime rate.
"""

from __future__ import annotations

import numpy as np
import soxr  # type: ignore[import-untyped]

__all__ = ["Resampler"]


class Resampler:
    """Converts a stream chunk by chunk; keeps filter state between calls (not thread-safe)."""

    def __init__(self, in_rate_hz: int, out_rate_hz: int, *, quality: str = "HQ") -> None:
        self.in_rate_hz = in_rate_hz
        self.out_rate_hz = out_rate_hz
        self._passthrough = in_rate_hz == out_rate_hz
        self._stream = (
            None
            if self._passthrough
            else soxr.ResampleStream(in_rate_hz, out_rate_hz, 1, dtype="int16", quality=quality)
        )

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Resample the next chunk; the output may lag the input by the filter delay."""
        data = np.ascontiguousarray(samples, dtype=np.int16)
        if self._stream is None:
            return data.copy()
        out: np.ndarray = self._stream.resample_chunk(data)
        return out

    def flush(self) -> np.ndarray:
        """The samples still held in the filter; the stream can't be used after this."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out: np.ndarray = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        return out
