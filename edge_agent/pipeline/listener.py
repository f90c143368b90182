"""The microphone and wake-word component: capture → 16 kHz → openWakeWord → WakeDetected.

Owns: the `Capture` (24 kHz ring, the pre-roll source for the streamer), the soxr 24→16 kHz
resampler, the `WakeDetector` (run in a worker thread, 80 ms at a time, so ONNX inference never
blocks the loop), mapping a detection's 16 kHz sample index back to the absolute 24 kHz capture
index carried by `WakeDetected.sample`, mute (CloseMic/OpenMic close the stream for real) and
reporting a lost mic (Failure("mic_lost"), then Recovered once the capture reopened it).
Start-up returns only once the models are loaded and the mic delivered frames, so READY=1 means
the daemon can hear.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final

import numpy as np

from edge_agent.app import Handlers
from edge_agent.audio.capture import RATE_HZ, Capture
from edge_agent.audio.devices import open_pyaudio
from edge_agent.audio.resample import Resampler
from edge_agent.audio.ring import SamplesLost
from edge_agent.config import Config
from edge_agent.errors import AudioDeviceError
from edge_agent.states import CloseMic, Event, Failure, OpenMic, Recovered, WakeDetected
from edge_agent.wake.detector import REFINE_STEPS, Detection, WakeDetector
from edge_agent.wake.detector import SAMPLE_RATE_HZ as WAKE_RATE_HZ
from edge_agent.wake.models import ModelPaths, resolve_models

__all__ = ["Listener"]

log = logging.getLogger(__name__)

_STEP_16K: Final = 1280  # openWakeWord's 80 ms step: hand the detector whole steps
_STEP_24K: Final = 1920  # the same 80 ms at the capture rate: wake the loop once per step
_REFINE_16K: Final = REFINE_STEPS * _STEP_16K
_STALL_S: Final = 3.0  # no frame for this long while open (and not reported lost) = unhealthy


class Listener:
    """Mic + wake word as an App component; `capture` is shared with the streamer."""

    name = "mic"

    def __init__(
        self,
        config: Config,
        *,
        model_paths: ModelPaths | None = None,
        pa_factory: Callable[[], object] = open_pyaudio,
        first_frame_timeout_s: float = 5.0,
    ) -> None:
        self.config = config
        self.capture = Capture(config.audio, pa_factory=pa_factory)
        self._model_paths = model_paths
        self._first_frame_timeout_s = first_frame_timeout_s
        self.detector: WakeDetector | None = None
        self.last_wake_sample: int | None = None  # 24 kHz index of the last detection
        self.detections = 0
        self._post: Callable[[Event], None] = lambda e: None
        self._tasks: list[asyncio.Task[None]] = []
        self._mic_ops: asyncio.Task[None] | None = None
        self._frames_seen = 0
        self._frames_at_s = time.monotonic()

    @property
    def ring_samples(self) -> int:
        return RATE_HZ * self.config.audio.ring_ms // 1000

    async def start(self, post: Callable[[Event], None]) -> None:
        """Load the models, open the mic, wait for its first frames.

        Raises:
            WakeModelError: a model is missing or corrupt (run `edge-agent models fetch`).
            AudioDeviceError: the mic does not open or delivers nothing.
        """
        self._post = post
        paths = self._model_paths or resolve_models(self.config)
        self.detector = await asyncio.to_thread(WakeDetector, self.config.wake, paths)
        await self.capture.start()
        deadline = time.monotonic() + self._first_frame_timeout_s
        while self.capture.frames_received == 0:
            if time.monotonic() > deadline:
                raise AudioDeviceError(
                    f"mic {self.config.audio.input_device!r} opened but delivered no audio in "
                    f"{self._first_frame_timeout_s:g} s; check `edge-agent audio list` and the "
                    "device's mixer levels"
                )
            await asyncio.sleep(0.01)
        self._tasks = [
            asyncio.create_task(self._listen(), name="wake-listen"),
            asyncio.create_task(self._watch_mic(), name="mic-watch"),
        ]

    def handlers(self) -> Handlers:
        return {
            CloseMic: lambda a: self._run_mic_op(self.capture.close_mic()),
            OpenMic: lambda a: self._run_mic_op(self.capture.open_mic()),
        }

    def is_healthy(self) -> bool:
        """Frames keep arriving, or the mic is muted, or the capture is reopening a lost mic."""
        if any(t.done() for t in self._tasks):
            return False
        now = time.monotonic()
        if self.capture.frames_received != self._frames_seen:
            self._frames_seen, self._frames_at_s = self.capture.frames_received, now
            return True
        if self.capture.is_muted or self.capture.lost.is_set():
            self._frames_at_s = now
            return True
        return now - self._frames_at_s < _STALL_S

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._mic_ops is not None:
            with contextlib.suppress(Exception):
                await self._mic_ops
        await self.capture.aclose()

    # -- internals ------------------------------------------------------------------------------
    def _run_mic_op(self, op: object) -> None:
        """Mute/unmute in order: each waits for the previous one."""
        previous = self._mic_ops

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            await op  # type: ignore[misc]

        self._mic_ops = asyncio.create_task(run(), name="mic-mute")

    async def _listen(self) -> None:
        while True:
            try:
                await self._detect_from(self.capture.head)
                return  # capture closed
            except SamplesLost as exc:  # the loop stalled for longer than the ring
                log.warning("wake detector fell behind: %s", exc, extra={"ERROR_CODE": "overrun"})

    async def _detect_from(self, start: int) -> None:
        assert self.detector is not None
        detector = self.detector
        resampler = Resampler(RATE_HZ, WAKE_RATE_HZ)
        base_16k = detector.samples_in
        pending: list[np.ndarray] = []
        pending_n = 0
        held: list[Detection] = []  # `fricative` ends waiting REFINE_STEPS steps
        async for chunk in self.capture.reader(start, min_samples=_STEP_24K):
            pcm16 = resampler.process(chunk)
            pending.append(pcm16)
            pending_n += len(pcm16)
            if pending_n < _STEP_16K:
                continue
            block = np.concatenate(pending)
            pending, pending_n = [], 0
            found = await asyncio.to_thread(detector.process, block)
            # a `fricative` end is posted REFINE_STEPS steps later, looked at again (a pause
            # may follow: `WakeDetector.refine_end`); the wake latency grows by 160 ms for it
            due = [h for h in held if detector.samples_stepped >= h.sample_16k + _REFINE_16K]
            if due:
                held = [h for h in held if h not in due]
                for d in due:
                    self._post_detection(
                        await asyncio.to_thread(detector.refine_end, d), start, base_16k
                    )
            for d in found:
                if d.end_method == "fricative":
                    held.append(d)
                else:
                    self._post_detection(d, start, base_16k)

    def _post_detection(self, d: Detection, start: int, base_16k: int) -> None:
        sample = start + (d.sample_16k - base_16k) * RATE_HZ // WAKE_RATE_HZ
        # stream from the wake word's end: never inside it (its tail and the user's pause
        # would be a whole turn to the service's VAD)
        stream_from = start + (d.end_sample_16k - base_16k) * RATE_HZ // WAKE_RATE_HZ
        self.last_wake_sample = sample
        self.detections += 1
        self._post(WakeDetected(d.model, d.score, sample, stream_from))

    async def _watch_mic(self) -> None:
        lost = self.capture.lost
        while True:
            while not lost.is_set():
                await lost.wait()
            self._post(Failure("mic_lost"))
            while lost.is_set():
                await asyncio.sleep(0.1)
            self._post(Recovered())
