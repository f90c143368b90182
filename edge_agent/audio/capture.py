"""Microphone capture: PyAudio callback stream -> ring buffer -> contiguous async readers.

Owns: the input stream (24 kHz mono int16 when the device offers it, else the nearest format,
converted in-process: `audio.formats`, `audio.convert`), frames of `audio.frame_ms`, the
optional echo canceller between the device and the ring (`audio.aec`), the pre-roll ring, the
overflow and frame counters, noticing a dead mic and reopening it every
`audio.reopen_interval_s`, and closing the stream for real while muted.
Must not: block the loop (PyAudio calls that may wait run in a worker thread) or let the audio
thread touch anything but `loop.call_soon_threadsafe`.

Sample indices are absolute (sample 0 is the first captured sample) and keep counting across
mute and device loss, so a reader never sees a duplicated sample; a gap in wall-clock time
(muted, unplugged) is simply not in the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edge_agent.audio.convert import CaptureConverter
from edge_agent.audio.devices import AudioDevice, find_device, format_checker, open_pyaudio
from edge_agent.audio.formats import (
    FormatChoice,
    candidate_formats,
    choose_format,
    open_error,
    probe_formats,
)
from edge_agent.audio.ring import SampleRing
from edge_agent.config import AudioConfig
from edge_agent.errors import AudioDeviceError

if TYPE_CHECKING:
    import pyaudio  # type: ignore[import-untyped]

__all__ = ["RATE_HZ", "Capture", "CaptureReader", "MicProcessor", "negotiate"]

RATE_HZ = 24000
log = logging.getLogger(__name__)

_PA_INPUT_OVERFLOW = 0x2  # paInputOverflow in PortAudio's callback status flags
_PA_CONTINUE, _PA_COMPLETE = 0, 1
Checker = Callable[[Any, AudioDevice, str], Callable[[int, int], bool]]


class MicProcessor(Protocol):
    """Sits between the device and the ring (the echo canceller): 24 kHz mono in and out.

    `adc_time_s` is PortAudio's capture time of `samples[0]` (0.0 if unknown). It may hold
    samples back (a frame) but never drops or adds any over the stream's life.
    """

    def process(self, samples: np.ndarray, adc_time_s: float) -> np.ndarray: ...

    def reset(self) -> None: ...


def negotiate(
    pa: Any, device: AudioDevice, kind: str, input_channel: int | None, checker: Checker
) -> FormatChoice:
    """Ask the device what it takes and choose (blocking: PortAudio test-opens the PCM)."""
    max_ch = device.max_input_channels if kind == "input" else device.max_output_channels
    table = probe_formats(checker(pa, device, kind), candidate_formats(max_ch, input_channel))
    return choose_format(table, kind, device=device.name, input_channel=input_channel)  # type: ignore[arg-type]


class CaptureReader:
    """Async iterator over the mic from `position` on: contiguous int16 chunks, no gaps, no repeats.

    Each chunk holds at least `min_samples` (except the last, at close) and everything
    captured so far. Raises `ring.SamplesLost` if it falls more than `audio.ring_ms` behind.
    """

    def __init__(self, capture: Capture, start_sample: int, min_samples: int = 1) -> None:
        self._capture = capture
        self.position = start_sample  # absolute index of the next sample this reader yields
        self.min_samples = max(1, min_samples)

    def __aiter__(self) -> CaptureReader:
        return self

    async def __anext__(self) -> np.ndarray:
        cap = self._capture
        while True:
            cap._drain_inbox()
            head = cap.head
            if head >= self.position + self.min_samples or (cap.is_closed and self.position < head):
                chunk = cap._ring.read(self.position, head)
                self.position = head
                return chunk
            if cap.is_closed:
                raise StopAsyncIteration
            await cap._wait_for(self.position + self.min_samples)


class Capture:
    """The microphone. Use ``await start()`` ... ``await aclose()``, then ``reader()``."""

    def __init__(
        self,
        config: AudioConfig,
        *,
        pa_factory: Callable[[], pyaudio.PyAudio] = open_pyaudio,
        loop: asyncio.AbstractEventLoop | None = None,
        checker: Checker = format_checker,
        processor: MicProcessor | None = None,
    ) -> None:
        self._config = config
        self._pa_factory = pa_factory
        self._loop = loop
        self._checker = checker
        self.processor = processor
        self.frame_samples = RATE_HZ * config.frame_ms // 1000
        self.format: FormatChoice | None = None  # what the device was opened at, and why
        self._convert: CaptureConverter | None = None
        self._device_frames = 0  # device frames converted so far (loop side)
        self._rate_hz = RATE_HZ  # the device's rate (audio thread reads it)
        self._ring = SampleRing(RATE_HZ * config.ring_ms // 1000)
        self._pa: pyaudio.PyAudio | None = None
        self._stream: Any = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        # hand-over from the audio thread: it appends, the loop pops (deque ops are atomic)
        # bounded: if the loop stalls longer than the ring, the oldest frames are dropped
        # (counted as overflows, and readers that needed them get SamplesLost)
        self._inbox: deque[tuple[int, bytes, int, float, int, CaptureConverter | None]] = deque(
            maxlen=max(2, self._ring.capacity // self.frame_samples)
        )
        self._scheduled = False  # a _drain_inbox call is pending on the loop
        self._captured = 0  # samples the audio thread has handed over (audio thread only)
        self._idle_batch = min(self._ring.capacity // 4, RATE_HZ // 4)
        self._wake_head = self._idle_batch  # wake the loop once _captured reaches this
        self._monitor: asyncio.Task[None] | None = None
        self._last_frame_s = 0.0
        self._closed = False
        self._muted = False
        self.device: AudioDevice | None = None
        self.overflows = 0
        self.frames_received = 0
        self.lost = asyncio.Event()  # set while the mic is gone; cleared once reopened
        self.last_error = ""
        self.stall_s = max(1.0, 10 * config.frame_ms / 1000)

    # -- public -----------------------------------------------------------------------------

    @property
    def head(self) -> int:
        """Absolute 24 kHz index of the next sample to arrive (= samples captured so far)."""
        return self._ring.head

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_muted(self) -> bool:
        return self._muted

    def reader(self, start_sample: int | None = None, *, min_samples: int = 1) -> CaptureReader:
        """Everything from `start_sample` on (None: from now), e.g. ``head - preroll`` for pre-roll.

        `min_samples` batches the hand-over: the loop is only woken once that much is
        captured (the wake detector wants 80 ms = 1920 samples), which saves CPU.
        """
        start = self.head if start_sample is None else start_sample
        return CaptureReader(self, start, min_samples)

    async def start(self) -> None:
        """Open the mic and start capturing.

        Raises:
            DeviceNotFound: `audio.input_device` names no capture device.
            AudioDeviceError: the device exists but does not open.
        """
        self._loop = self._loop or asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._open_blocking)
        except BaseException:
            await asyncio.to_thread(self._close_blocking, True)
            raise
        self._monitor = asyncio.create_task(self._watch(), name="capture-watch")

    async def aclose(self) -> None:
        """Stop capturing; readers finish after yielding what is buffered."""
        self._closed = True
        if self._monitor:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        await asyncio.to_thread(self._close_blocking, True)
        self._drain_inbox()
        self._wake_readers(everyone=True)

    async def close_mic(self) -> None:
        """Mute: close the input stream for real (the mic LED of a USB mic goes off)."""
        self._muted = True
        await asyncio.to_thread(self._close_blocking, False)
        log.info("mic closed (muted)", extra={"DEVICE": self._device_name})

    async def open_mic(self) -> None:
        """Unmute: reopen the stream; if that fails the mic counts as lost and is retried."""
        self._muted = False
        try:
            await asyncio.to_thread(self._open_blocking)
        except AudioDeviceError as exc:
            self._mark_lost(str(exc))
        else:
            log.info("mic open (unmuted)", extra={"DEVICE": self._device_name})

    # -- audio thread -----------------------------------------------------------------------

    def _on_input(
        self, data: bytes | None, count: int, info: object, flags: int
    ) -> tuple[None, int]:
        """Runs on the PyAudio thread: queue the (already copied) bytes, wake the loop if due."""
        loop = self._loop
        if loop is None or data is None:
            return None, _PA_COMPLETE
        adc = info.get("input_buffer_adc_time", 0.0) if isinstance(info, dict) else 0.0
        self._inbox.append((self._captured, data, flags, float(adc), count, self._convert))
        self._captured += count
        due = self._captured * RATE_HZ // self._rate_hz >= self._wake_head
        if not self._scheduled and (due or flags):
            self._scheduled = True
            try:
                loop.call_soon_threadsafe(self._drain_inbox)
            except RuntimeError:  # the loop is closed: stop the stream
                return None, _PA_COMPLETE
        return None, _PA_CONTINUE

    # -- loop side --------------------------------------------------------------------------

    def _drain_inbox(self) -> None:
        """Move handed-over frames into the ring and wake the readers that have enough."""
        self._scheduled = False  # before popping: a frame appended after this re-schedules
        if not self._inbox:
            return
        assert self._loop is not None
        while self._inbox:
            start, data, flags, adc, count, conv = self._inbox.popleft()
            if start > self._device_frames:  # the loop stalled and the inbox dropped frames
                flags |= _PA_INPUT_OVERFLOW
                gap = start - self._device_frames
                self._ring.skip(conv.out_samples(gap) if conv is not None else gap)
                self._device_frames = start
                if self.processor is not None:
                    self.processor.reset()
            self._device_frames += count
            samples = conv.process(data) if conv is not None else np.frombuffer(data, np.int16)
            if self.processor is not None:
                samples = self.processor.process(samples, adc)
            self._ring.push(samples)
            self.frames_received += 1
            if flags & _PA_INPUT_OVERFLOW:
                self.overflows += 1
                log.warning(
                    "mic overflow: audio was lost before it reached us (%d so far)",
                    self.overflows,
                    extra={"DEVICE": self._device_name, "ERROR_CODE": "mic_overflow"},
                )
        self._last_frame_s = self._loop.time()
        self._wake_readers()

    def _wake_readers(self, everyone: bool = False) -> None:
        head = self.head
        waiting = []
        for target, fut in self._waiters:
            if fut.done():
                continue
            if everyone or target <= head:
                fut.set_result(None)
            else:
                waiting.append((target, fut))
        self._waiters = waiting
        self._set_wake_head()

    def _set_wake_head(self) -> None:
        targets = [t for t, _ in self._waiters]
        self._wake_head = min([*targets, self.head + self._idle_batch])

    async def _wait_for(self, target: int) -> None:
        """Sleep until `head` reaches `target` (or the capture closes)."""
        assert self._loop is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append((target, fut))
        self._set_wake_head()
        await fut

    @property
    def _device_name(self) -> str:
        return self.device.name if self.device else self._config.input_device

    def _mark_lost(self, why: str) -> None:
        if not self.lost.is_set():
            self.last_error = why
            self.lost.set()
            log.error(
                "mic lost: %s; retrying every %.1f s",
                why,
                self._config.reopen_interval_s,
                extra={"DEVICE": self._device_name, "ERROR_CODE": "mic_lost"},
            )

    async def _watch(self) -> None:
        """Notice a dead stream (inactive, or no frame for `stall_s`) and reopen it."""
        assert self._loop is not None
        while True:
            if self.lost.is_set():
                await asyncio.sleep(self._config.reopen_interval_s)
                if self._muted:
                    continue
                try:
                    await asyncio.to_thread(self._reopen_blocking)
                except AudioDeviceError as exc:
                    self.last_error = str(exc)
                    continue
                self.lost.clear()
                log.info("mic back", extra={"DEVICE": self._device_name})
                continue
            await asyncio.sleep(min(0.25, self.stall_s / 4))
            if self._muted or self._stream is None:
                continue
            stalled_s = self._loop.time() - self._last_frame_s
            if not self._stream.is_active():
                self._mark_lost("the capture stream stopped")
            elif stalled_s > self.stall_s:
                self._mark_lost(f"no audio for {stalled_s:.1f} s")
            if self.lost.is_set():
                await asyncio.to_thread(self._close_blocking, True)

    # -- blocking PyAudio calls (worker thread only) ----------------------------------------

    def _open_blocking(self) -> None:
        """Runs in a worker thread: (re)create PyAudio if needed, find the device, open."""
        import pyaudio

        if self._stream is not None:
            return
        if self._pa is None:
            self._pa = self._pa_factory()
        device = find_device(self._pa, self._config.input_device, "input")
        channel = self._config.input_channel if self._config.input_channel >= 0 else None
        choice = negotiate(self._pa, device, "input", channel, self._checker)
        self._rate_hz = choice.rate_hz  # the old stream (if any) is closed: no callback runs
        self._convert = None if choice.native else CaptureConverter(choice)
        try:
            stream = self._pa.open(
                rate=choice.rate_hz,
                channels=choice.channels,
                format=pyaudio.paInt16,
                input=True,
                input_device_index=device.index,
                frames_per_buffer=choice.rate_hz * self._config.frame_ms // 1000,
                stream_callback=self._on_input,
                start=False,
            )
            assert self._loop is not None
            self._last_frame_s = self._loop.time()
            stream.start_stream()
        except OSError as exc:
            raise open_error("capture", device.name, choice, exc) from exc
        self.device = device
        self.format = choice
        self._stream = stream
        if choice.native:
            log.info("mic %r opened at 24000 Hz mono", device.name)
        else:
            log.info("mic %r opened at %s: %s", device.name, choice.describe(), choice.reason)

    def _reopen_blocking(self) -> None:
        """Runs in a worker thread: a fresh PyAudio (re-enumerates if no other instance lives)."""
        self._close_blocking(True)
        self._open_blocking()

    def _close_blocking(self, terminate: bool) -> None:
        """Runs in a worker thread: close the stream, optionally PyAudio too."""
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.stop_stream()
            with contextlib.suppress(OSError):
                stream.close()
        if terminate and self._pa is not None:
            pa, self._pa = self._pa, None
            pa.terminate()
