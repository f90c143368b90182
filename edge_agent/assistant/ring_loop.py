"""The ringing sound on a loop: the shell for `StartRinging` / `StopRinging` (ringing.py).

Writes one cycle of the ``ringing`` earcon to the speaker, waits until it has played, and writes
the next, until stopped. Audio written meanwhile (the model announcing the label) queues behind
the current cycle, so ring and speech alternate without mixing. Each finished cycle calls
`on_cycle` (the turn core turns it into a `Tick` for the give-up rule). Through
`Playback.write`, the ring follows the volume set by `set_volume` like every earcon.

Must not: decide when to ring or stop (`RingPolicy` does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol

import numpy as np

__all__ = ["RingLoop"]


class Speaker(Protocol):
    """What the loop needs of `edge_agent.audio.playback.Playback`."""

    def write(self, pcm: bytes | np.ndarray) -> None: ...
    def end_of_stream(self) -> None: ...
    async def drain(self) -> None: ...
    def stop(self) -> None: ...


class RingLoop:
    """Rings until `stop`; `cycle` None (earcons off) rings silently (the LED alone)."""

    def __init__(
        self,
        playback: Speaker,
        cycle: np.ndarray | None,
        *,
        on_cycle: Callable[[], None] | None = None,
    ) -> None:
        self.playback = playback
        self.cycle = cycle
        self.on_cycle = on_cycle
        self.cycles = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start ringing (no-op while it rings)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ringing")

    async def stop(self) -> None:
        """Stop within one speaker period: the loop ends and queued ringing is dropped."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.playback.stop()

    async def _run(self) -> None:
        if self.cycle is None:
            await asyncio.Event().wait()  # until cancelled
        while True:
            self.playback.write(self.cycle)
            self.playback.end_of_stream()
            await self.playback.drain()
            self.cycles += 1
            if self.on_cycle is not None:
                self.on_cycle()
