"""Where does a PCM excerpt sit inside a reference recording? (numpy cross-correlation)

For end-to-end tests: "the committed item covers samples [a, b) of the fed mic audio". The
excerpt is slid along the reference with an FFT cross-correlation; the best offset is the one
with the highest normalised correlation (cosine similarity of the excerpt and that window of
the reference), which is also the returned quality: 1.0 for an exact slice, lower for a
resampled, gain-changed or noisy copy, ~0 for unrelated audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Match", "locate"]


@dataclass(frozen=True, slots=True)
class Match:
    offset: int  # the excerpt's first sample in the reference
    quality: float  # normalised correlation at that offset, -1..1 (1.0 = identical shape)
    length: int  # the excerpt's length in samples

    @property
    def end(self) -> int:
        return self.offset + self.length


def _samples(pcm: bytes | np.ndarray) -> np.ndarray:
    if isinstance(pcm, bytes | bytearray | memoryview):
        raw = bytes(pcm)
        pcm = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2")
    return np.asarray(pcm, dtype=np.float64)


def locate(excerpt: bytes | np.ndarray, reference: bytes | np.ndarray) -> Match:
    """The best place of `excerpt` in `reference` (int16 LE PCM bytes or sample arrays).

    Raises ValueError when the excerpt is empty or longer than the reference. A silent excerpt
    (or a silent reference window) has quality 0: it matches everywhere and nowhere.
    """
    x, ref = _samples(excerpt), _samples(reference)
    n, m = len(x), len(ref)
    if n == 0 or n > m:
        raise ValueError(f"excerpt of {n} samples cannot be located in {m} samples")
    size = 1 << (n + m - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(x, size)), size)[: m - n + 1]
    energy = np.concatenate(([0.0], np.cumsum(ref * ref)))
    window = energy[n:] - energy[: m - n + 1]
    norm = np.sqrt(np.maximum(window, 0.0)) * float(np.sqrt(np.dot(x, x)))
    quality = np.divide(
        corr, norm, out=np.zeros_like(corr), where=norm > 1e-9 * max(1.0, norm.max())
    )
    best = int(np.argmax(quality))
    return Match(best, float(min(1.0, quality[best])), n)
