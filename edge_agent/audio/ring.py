"""A ring buffer of the last N int16 samples, addressed by absolute sample index.

Owns: remembering recent mic audio for pre-roll and letting several consumers read "from
sample N on" without copying per consumer. Pure numpy, no threads, no asyncio: the capture
shell pushes into it on the event loop only.
"""

from __future__ import annotations

import numpy as np

from edge_agent.errors import EdgeAgentError

__all__ = ["SampleRing", "SamplesLost"]


class SamplesLost(EdgeAgentError, LookupError):
    """A reader asked for samples the ring no longer holds (it fell behind by more than the ring)."""


class SampleRing:
    """Keeps the last `capacity` samples; `head` is the absolute index of the next sample."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ring capacity must be positive, got {capacity!r}")
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._head = 0
        self._valid_from = 0  # samples before this were never stored (see skip)

    @property
    def capacity(self) -> int:
        return len(self._buf)

    @property
    def head(self) -> int:
        """Absolute index of the next sample to be written (= samples written so far)."""
        return self._head

    @property
    def tail(self) -> int:
        """Absolute index of the oldest sample still kept."""
        return max(self._valid_from, self._head - len(self._buf))

    def skip(self, n: int) -> None:
        """Advance `head` over `n` samples that were lost; everything before is unreadable,
        so a reader that needs them gets SamplesLost instead of a silent gap."""
        if n > 0:
            self._head += n
            self._valid_from = self._head

    def push(self, samples: np.ndarray) -> None:
        """Append samples (int16, 1-D); the oldest are overwritten once the ring is full."""
        data = np.asarray(samples, dtype=np.int16).ravel()
        cap = len(self._buf)
        if len(data) >= cap:
            data = data[-cap:]
            skipped = len(samples) - cap
        else:
            skipped = 0
        pos = (self._head + skipped) % cap
        first = min(len(data), cap - pos)
        self._buf[pos : pos + first] = data[:first]
        self._buf[: len(data) - first] = data[first:]
        self._head += skipped + len(data)

    def read(self, start: int, end: int | None = None) -> np.ndarray:
        """A copy of samples [start, end) (end defaults to head).

        Raises:
            SamplesLost: start is older than `tail` (the samples were overwritten).
            ValueError: the range is reversed or reaches past `head`.
        """
        end = self._head if end is None else end
        if start < self.tail:
            raise SamplesLost(
                f"samples from {start!r} are gone: the ring keeps {self.tail!r}..{self._head!r}; "
                "read more often or raise audio.ring_ms"
            )
        if not start <= end <= self._head:
            raise ValueError(f"bad range {start!r}..{end!r} (head is {self._head!r})")
        cap = len(self._buf)
        a, b = start % cap, end % cap
        if end - start == 0:
            return np.zeros(0, dtype=np.int16)
        if a < b:
            return self._buf[a:b].copy()
        return np.concatenate((self._buf[a:], self._buf[:b]))
