"""Speech stops the ringing: the mic through a local speech VAD while a timer or alarm rings.

`SpeechGate` (pure) turns per-40 ms speech probabilities into one "heard" once
`min_speech_ms` of consecutive chunks reach `threshold` (once per stretch of speech). `RingSpeechWatch` is its shell, an
App component: on `Ring(on=True)` it reads the mic from that moment (the listener's capture
ring, 24 kHz), resamples to 16 kHz, scores it with microVAD (`pymicro-vad`: a 160 kB native
library, already a dependency; no onnxruntime, no second Silero session), and posts
`RingSpeechHeard` for each stretch of speech; `Ring(on=False)` ends the watch. The turn core decides what it does
(stops the ringing while no announcement is playing; never opens a turn).

Why a speech VAD and not the energy detector of `audio/echo.py`: the ringing itself reaches the
mic in a real room, and an energy detector would stop the ring with its own sound. microVAD
scores the ringing earcon below 0.02 and speech over it near 1.0
(tests/assistant/test_ring_stop.py measures both on the real earcon).

Must not: decide whether ringing stops (the turn core and `RingPolicy` do).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final, Protocol

import numpy as np

from edge_agent.app import Handlers
from edge_agent.audio.resample import Resampler
from edge_agent.audio.ring import SamplesLost
from edge_agent.turn.actions import Ring
from edge_agent.turn.events import RingSpeechHeard

__all__ = ["RingSpeechWatch", "SpeechGate"]

log = logging.getLogger(__name__)

CHUNK_MS: Final = 40  # the VAD's chunk (`edge_agent.wake.endpoint.VAD_CHUNK` at 16 kHz)
_BLOCK_24K: Final = 1920  # 80 ms of the capture: one VAD call per block
_CHUNK_16K: Final = 16 * CHUNK_MS


class SpeechGate:
    """Consecutive speech chunks → heard, once per stretch of speech. Pure."""

    def __init__(self, threshold: float = 0.5, min_speech_ms: int = 200) -> None:
        self.threshold = threshold
        self.min_chunks = max(1, min_speech_ms // CHUNK_MS)
        self.run = 0
        self.stretches = 0

    def feed(self, scores: np.ndarray) -> bool:
        """Add the next chunks' probabilities; True when a stretch of speech reached
        `min_speech_ms` in them (a stretch counts once, however long it goes on)."""
        heard = False
        for score in np.asarray(scores, np.float32).ravel():
            self.run = self.run + 1 if score >= self.threshold else 0
            if self.run == self.min_chunks:
                self.stretches += 1
                heard = True
        return heard


class Vad(Protocol):
    def reset(self) -> None: ...
    def chunk_scores(self, pcm: np.ndarray) -> np.ndarray: ...


class Capture(Protocol):
    """What the watch needs of `edge_agent.audio.capture.Capture`."""

    @property
    def head(self) -> int: ...
    def reader(self, start_sample: int | None = None, *, min_samples: int = 1) -> Any: ...


def micro_vad() -> Vad:
    from edge_agent.wake.vad import MicroVad

    return MicroVad()


class RingSpeechWatch:
    """While it rings, the mic through the speech gate; `RingSpeechHeard` when someone speaks."""

    name = "ring-speech"

    def __init__(
        self,
        capture: Capture,
        *,
        vad_factory: Callable[[], Vad] = micro_vad,
        gate: Callable[[], SpeechGate] = SpeechGate,
    ) -> None:
        self.capture = capture
        self._vad_factory = vad_factory
        self._gate = gate
        self._vad: Vad | None = None
        self._post: Callable[[Any], None] = lambda e: None
        self._task: asyncio.Task[None] | None = None

    async def start(self, post: Callable[[Any], None]) -> None:
        self._post = post

    def handlers(self) -> Handlers:
        return {Ring: self._ring}

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        await self._stop()

    def _ring(self, action: Ring) -> None:
        if action.on:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._watch(self.capture.head), name="ring-vad")
        elif self._task is not None:
            task, self._task = self._task, None
            task.cancel()

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, start: int) -> None:
        if self._vad is None:
            self._vad = await asyncio.to_thread(self._vad_factory)
        vad = self._vad
        vad.reset()
        gate = self._gate()
        resampler = Resampler(24000, 16000)
        pending = np.zeros(0, np.int16)
        try:
            async for chunk in self.capture.reader(start, min_samples=_BLOCK_24K):
                pending = np.concatenate((pending, resampler.process(chunk)))
                whole = len(pending) // _CHUNK_16K * _CHUNK_16K  # the VAD scores whole chunks
                block, pending = pending[:whole], pending[whole:]
                if not whole:
                    continue
                scores = await asyncio.to_thread(vad.chunk_scores, block)
                if gate.feed(scores):  # the core ignores it while the label is being said
                    log.debug("speech heard while ringing")
                    self._post(RingSpeechHeard())
        except SamplesLost:
            log.warning("ring speech watch fell behind the mic", extra={"ERROR_CODE": "overrun"})
        except Exception as exc:  # a broken VAD must not end more than this watch
            log.warning(
                "ring speech watch stopped: %s (the wake word and the talk button still stop "
                "the ringing)",
                exc,
                extra={"ERROR_CODE": "ring_vad"},
            )
