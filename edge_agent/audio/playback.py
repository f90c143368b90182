"""Speaker playback: jitter buffer -> PyAudio callback stream, with a played-sample counter.

Owns: the output stream (24 kHz mono int16 when the device offers it, else the nearest format,
converted in-process: resampled on `write()`, copied to every channel per period), periods of
`audio.period_ms`, the played-audio tap (what the echo canceller subtracts), the queue of reply
audio, when playback starts (`audio.playback_start_ms` buffered, or end of stream), `stop()` for
barge-in, `drain()` for the end of a reply, the underrun counter and the volume.
Must not: block the loop (stream start/stop run in a worker thread) or hold the queue lock in
the audio thread for more than a copy.

`played_samples` counts samples handed to the device (silence we insert does not count);
`heard_samples` is what left the speaker: handed minus what the device still buffers (its
output latency), which is what ``conversation.item.truncate`` needs. PortAudio's ALSA backend
stops a stream with snd_pcm_drop, which discards what the device still buffers: `stop()` rewinds
`played_samples` to what was heard, and `drain()` keeps the stream running (feeding silence) for
the output latency plus a period before stopping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from edge_agent.audio.convert import PlaybackConverter, upmix
from edge_agent.audio.devices import AudioDevice, find_device, format_checker, open_pyaudio
from edge_agent.audio.formats import FormatChoice, open_error
from edge_agent.config import AudioConfig
from edge_agent.errors import AudioDeviceError

if TYPE_CHECKING:
    import pyaudio  # type: ignore[import-untyped]

__all__ = ["RATE_HZ", "Playback", "PlayedTap"]

RATE_HZ = 24000
log = logging.getLogger(__name__)

_PA_CONTINUE = 0
_PA_OUTPUT_UNDERFLOW = 0x4  # paOutputUnderflow: the device ran dry before this callback
PlayState = Literal["idle", "buffering", "playing", "stopping"]
# (mono samples at the device rate exactly as handed to the device, silence included;
#  PortAudio's DAC time of samples[0]; the device rate). Runs on the audio thread: be quick.
PlayedTap = Callable[[np.ndarray, float, int], None]


def scale(samples: np.ndarray, volume: float) -> np.ndarray:
    """int16 samples times `volume`, clipped; a copy."""
    if volume == 1.0:
        return samples.copy()
    scaled = np.rint(samples.astype(np.float32) * volume)
    out: np.ndarray = np.clip(scaled, -32768, 32767).astype(np.int16)
    return out


async def _device_call(fn: Callable[[], None]) -> None:
    """`fn` (a PortAudio call) in a worker thread, finished even if the caller is cancelled.

    A cancelled `to_thread` leaves its thread running; the next call (a close after a start
    was cancelled) then ran beside it on the same stream, and PortAudio aborted the process
    (a clean-clone run of the suite did so in tests/e2e/test_budget.py). Here a cancel waits
    for the call in flight, then goes on."""
    call = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        await asyncio.shield(call)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await call
        raise


class Playback:
    """The speaker. ``await start()``, then `write()` reply audio, `end_of_stream()`/`drain()`."""

    def __init__(
        self,
        config: AudioConfig,
        *,
        pa_factory: Callable[[], pyaudio.PyAudio] = open_pyaudio,
        checker: Any = format_checker,
        tap: PlayedTap | None = None,
        keep_running: bool = False,
    ) -> None:
        """`keep_running`: start the stream at `start()` and never stop it (silence between
        sounds), so the output->input delay an echo canceller learnt stays put (a restarted
        stream can come back with another one: +-15 ms on the PulseAudio rig). A barge-in
        then cannot drop the device's buffer: up to the output latency still plays."""
        self._config = config
        self.keep_running = keep_running
        self._pa_factory = pa_factory
        self._checker = checker
        self.tap = tap
        self.format: FormatChoice | None = None  # what the device was opened at, and why
        self._convert: PlaybackConverter | None = None
        self._rate_hz = RATE_HZ
        self._channels = 1
        self.period_samples = RATE_HZ * config.period_ms // 1000
        self.start_samples = RATE_HZ * config.playback_start_ms // 1000
        self.volume = config.volume
        self._lock = threading.Lock()  # guards _queue, _queued, _eos, _state with the callback
        self._queue: deque[np.ndarray] = deque()
        self._queued = 0
        self._eos = False
        self._state: PlayState = "idle"
        self._starved = False
        self._gen = 0  # bumped by write/stop so a late finish task knows it is stale
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pa: pyaudio.PyAudio | None = None
        self._stream: Any = None
        self._ctl = asyncio.Lock()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.device: AudioDevice | None = None
        self._played_frames = 0  # device frames of reply audio handed to the device
        self._played_at_start = 0  # played_samples when the stream last started
        self._latency_samples = 0  # the device's output buffer, from PortAudio (24 kHz samples)
        self.underruns = 0
        self.lost = asyncio.Event()  # set while the speaker fails to open or start
        self.last_error = ""

    # -- public -----------------------------------------------------------------------------

    @property
    def played_samples(self) -> int:
        """Reply samples handed to the device, in 24 kHz samples (exact at a 24 kHz device)."""
        return self._played_frames * RATE_HZ // self._rate_hz

    @property
    def state(self) -> PlayState:
        return self._state

    @property
    def queued_samples(self) -> int:
        return self._queued

    @property
    def is_idle(self) -> bool:
        return self._idle.is_set()

    @property
    def heard_samples(self) -> int:
        """Samples that have left the speaker (never more than were handed to the device)."""
        with self._lock:
            return self._heard_locked()

    def _heard_locked(self) -> int:
        if self._state not in ("playing", "stopping"):
            return self.played_samples
        in_device = min(self._latency_samples, self.played_samples - self._played_at_start)
        return self.played_samples - max(0, in_device)

    async def start(self) -> None:
        """Open the speaker (stream stays stopped until there is something to play).

        Raises:
            DeviceNotFound: `audio.output_device` names no playback device.
            AudioDeviceError: the device exists but does not open.
        """
        self._loop = asyncio.get_running_loop()
        try:
            await _device_call(self._open_blocking)
            if self.keep_running:
                await _device_call(self._start_blocking)
        except BaseException:
            await _device_call(self._close_blocking)
            raise

    async def aclose(self) -> None:
        """Drop what is queued and close the speaker."""
        self.stop()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._ctl:
            await _device_call(self._close_blocking)

    def set_volume(self, volume: float) -> None:
        """Set the gain of audio written from now on (any thread; e.g. the volume tool).

        Audio already queued keeps the gain it was written with (`write` scales on the way in
        and reads ``self.volume`` once, an atomic attribute read). Raises ValueError for a gain
        outside 0.0-2.0 or not finite (the range of ``audio.volume``).
        """
        if not (isinstance(volume, int | float) and 0.0 <= volume <= 2.0):  # NaN fails too
            raise ValueError(f"playback volume {volume!r} is not between 0.0 and 2.0")
        with self._lock:
            self.volume = float(volume)

    def write(self, pcm: bytes | np.ndarray) -> None:
        """Queue 24 kHz mono int16 audio (from the loop; never blocks)."""
        samples = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes) else pcm
        if len(samples) == 0:
            return
        samples = scale(np.asarray(samples, dtype=np.int16).ravel(), self.volume)
        if self._convert is not None:
            samples = self._convert.process(samples)
            if len(samples) == 0:
                return
        self._queue_samples(samples)

    def _queue_samples(self, samples: np.ndarray) -> None:
        with self._lock:
            self._queue.append(samples)
            self._queued += len(samples)
            self._eos = False
            self._gen += 1
            if self._state == "idle":
                self._state = "buffering"
            begin = self._state == "buffering" and self._queued >= self.start_samples
        self._idle.clear()
        if begin:
            self._begin()

    def end_of_stream(self) -> None:
        """No more audio for this reply: start even below the threshold, stop when played."""
        if self._convert is not None:
            tail = self._convert.flush()
            if len(tail):
                self._queue_samples(tail)
        with self._lock:
            self._eos = True
            begin = self._state == "buffering"
            nothing = self._state == "idle"
        if begin:
            self._begin()
        elif nothing:
            self._idle.set()

    async def drain(self) -> None:
        """Mark the end of the reply and return once its last sample has played."""
        self.end_of_stream()
        while not self._idle.is_set():
            try:
                async with asyncio.timeout(0.5):
                    await self._idle.wait()
            except TimeoutError:
                self._check_alive()

    def _check_alive(self) -> None:
        """A stream that died mid-reply (speaker unplugged) would never finish: fail it."""
        stream = self._stream
        dead = stream is None or not stream.is_active()
        if self._state == "playing" and not self._ctl.locked() and dead:
            self._fail("the playback stream stopped")

    def stop(self) -> None:
        """Barge-in: silence within one period and drop everything queued."""
        if self._convert is not None:
            self._convert.reset()
        with self._lock:
            self._queue.clear()
            self._queued = 0
            self._eos = False
            self._gen += 1
            # what the device still buffers is dropped by the stop: it was never heard (a
            # stream kept running plays it out: all of it is heard)
            heard = self.played_samples if self.keep_running else self._heard_locked()
            self._played_frames = heard * self._rate_hz // RATE_HZ
            self._played_at_start = heard
            was = self._state
            self._state = "stopping" if was in ("playing", "stopping") else "idle"
        if was in ("playing", "stopping"):
            self._spawn(self._stop_stream())
        else:
            self._idle.set()

    # -- audio thread -----------------------------------------------------------------------

    def _on_output(self, data: object, count: int, info: object, flags: int) -> tuple[bytes, int]:
        """Runs on the PyAudio thread: copy queued samples out (silence if none), return."""
        out = np.zeros(count, dtype=np.int16)
        filled = 0
        with self._lock:
            if self._state == "playing":
                while filled < count and self._queue:
                    head = self._queue[0]
                    take = min(count - filled, len(head))
                    out[filled : filled + take] = head[:take]
                    filled += take
                    if take == len(head):
                        self._queue.popleft()
                    else:
                        self._queue[0] = head[take:]
                self._queued -= filled
                self._played_frames += filled
                finished = self._eos and self._queued == 0
                starved = filled < count and not self._eos
                gen = self._gen
                device_late = bool(flags & _PA_OUTPUT_UNDERFLOW)
            else:
                finished = starved = device_late = False
        tap = self.tap
        if tap is not None:
            dac = info.get("output_buffer_dac_time", 0.0) if isinstance(info, dict) else 0.0
            tap(out, float(dac), self._rate_hz)
        if filled == count or finished:
            self._starved = False
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                if starved and not self._starved:
                    self._starved = True
                    loop.call_soon_threadsafe(self._on_underrun, "reply audio arrived late")
                if device_late:
                    loop.call_soon_threadsafe(self._on_underrun, "the audio thread was late")
                if finished:
                    loop.call_soon_threadsafe(self._on_finished, gen)
        return upmix(out, self._channels).tobytes(), _PA_CONTINUE

    # -- loop side --------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro, name="playback-control")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _begin(self) -> None:
        with self._lock:
            if self._state != "buffering":
                return
            self._state = "playing"
        self._spawn(self._start_stream())

    def _on_underrun(self, why: str) -> None:
        self.underruns += 1
        log.warning(
            "playback underrun: %s (%d so far)",
            why,
            self.underruns,
            extra={"DEVICE": self._device_name, "ERROR_CODE": "underrun"},
        )

    def _on_finished(self, gen: int) -> None:
        with self._lock:
            if gen != self._gen or self._state != "playing":
                return
            self._state = "stopping"
        self._spawn(self._finish(gen))

    async def _finish(self, gen: int) -> None:
        """Let the device play out its buffer (silence follows), then stop the stream."""
        latency_s = self._stream.get_output_latency() if self._stream is not None else 0.0
        await asyncio.sleep(latency_s + 2 * self._config.period_ms / 1000)
        with self._lock:
            if gen != self._gen:  # new audio or a stop() came in meanwhile
                if self._state == "stopping" and self._queued:
                    self._state = "playing"
                return
        await self._stop_stream()

    async def _start_stream(self) -> None:
        async with self._ctl:
            try:
                await _device_call(self._start_blocking)
            except AudioDeviceError as exc:
                self._fail(str(exc))
                return
            if self.lost.is_set():
                self.lost.clear()
                log.info("speaker back", extra={"DEVICE": self._device_name})

    async def _stop_stream(self) -> None:
        async with self._ctl:
            if not self.keep_running:
                await _device_call(self._stop_blocking)
            with self._lock:
                if self._state != "stopping":
                    return
                self._state = "buffering" if self._queued else "idle"
                begin = self._queued >= self.start_samples or self._eos
            if self._state == "idle":
                self._idle.set()
            elif begin:
                self._begin()

    def _fail(self, why: str) -> None:
        with self._lock:
            self._queue.clear()
            self._queued = 0
            self._state = "idle"
        self._idle.set()
        self.last_error = why
        if not self.lost.is_set():
            self.lost.set()
            log.error(
                "speaker failed: %s; reply audio dropped, retrying on the next reply",
                why,
                extra={"DEVICE": self._device_name, "ERROR_CODE": "speaker_lost"},
            )

    @property
    def _device_name(self) -> str:
        return self.device.name if self.device else self._config.output_device

    # -- blocking PyAudio calls (worker thread only) ----------------------------------------

    def _open_blocking(self) -> None:
        """Runs in a worker thread: find the device and open a stopped output stream."""
        import pyaudio

        if self._pa is None:
            self._pa = self._pa_factory()
        from edge_agent.audio.capture import negotiate

        device = find_device(self._pa, self._config.output_device, "output")
        choice = negotiate(self._pa, device, "output", None, self._checker)
        if self.format is None or self.format != choice:
            self._played_frames = self.played_samples * choice.rate_hz // RATE_HZ
            self._rate_hz, self._channels = choice.rate_hz, choice.channels
            self._convert = None if choice.rate_hz == RATE_HZ else PlaybackConverter(choice)
        try:
            self._stream = self._pa.open(
                rate=choice.rate_hz,
                channels=choice.channels,
                format=pyaudio.paInt16,
                output=True,
                output_device_index=device.index,
                frames_per_buffer=choice.rate_hz * self._config.period_ms // 1000,
                stream_callback=self._on_output,
                start=False,
            )
        except OSError as exc:
            raise open_error("playback", device.name, choice, exc) from exc
        self.device = device
        if self.format != choice:
            log.info("speaker %r opened at %s: %s", device.name, choice.describe(), choice.reason)
        self.format = choice

    def _start_blocking(self) -> None:
        """Runs in a worker thread: (re)open if needed, start the stream."""
        try:
            if self._stream is None:
                self._open_blocking()
            if not self._stream.is_active():
                if not self._stream.is_stopped():  # finished/aborted: reopen
                    self._close_stream_blocking()
                    self._open_blocking()
                latency = round(self._stream.get_output_latency() * RATE_HZ)
                with self._lock:
                    self._latency_samples = latency
                    self._played_at_start = self.played_samples
                self._stream.start_stream()
        except OSError as exc:
            self._close_stream_blocking()
            raise AudioDeviceError(f"cannot start playback: {exc}") from exc

    def _stop_blocking(self) -> None:
        """Runs in a worker thread: stop (drop) the stream; it can be restarted."""
        if self._stream is not None:
            try:
                if not self._stream.is_stopped():
                    self._stream.stop_stream()
            except OSError:
                self._close_stream_blocking()

    def _close_stream_blocking(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()

    def _close_blocking(self) -> None:
        self._stop_blocking()
        self._close_stream_blocking()
        if self._pa is not None:
            pa, self._pa = self._pa, None
            pa.terminate()
