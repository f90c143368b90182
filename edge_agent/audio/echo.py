"""Echo cancellation in-process: what the speaker played, aligned with the mic, subtracted.

Owns these small pieces:
- `EchoReference`: the samples the speaker really played (Playback's tap: every period as
  handed to the device, silence included), on a 24 kHz time grid whose index is PortAudio's
  DAC time x 24000. Within a playback run the samples are contiguous (sample-accurate, keyed
  by the played counter); a new run (stream restarted) is re-anchored on its DAC time.
- `EchoCanceller`: a `capture.MicProcessor`. The mic is placed on the same grid by its ADC
  time (the measured output->input delay: PortAudio reports both from the devices' own
  delay), then by the sample count (a stamp that jumps is believed only once it lasts, or for
  a new stream: one block in ~250 comes stamped 20 ms early), the matching reference is read, and speexdsp's MDF filter removes the echo. The
  filter (`audio.echo_tail_ms`) absorbs the room and any error of that measurement up to the
  tail; `margin_ms` lets the measurement be that much late without the echo arriving before
  its reference. The delay beyond the stamps is measured from the signals (GCC-PHAT, 0.75 s
  windows) and followed when it moves by more than 5 ms (a small move shifts the reference
  read and keeps the filter; a large one re-learns, untrusted meanwhile: `converged`); a
  new playback run is re-measured before it is trusted, and `check_alignment` answers at
  once whether a VAD onset is moved echo.
- `LocalVad`: a cheap energy detector over the echo-cancelled signal, and `NearEndVad`, the
  full-duplex guard's word (is that speech_started the user, or our own reply?): the VAD's
  speech stretches (`SpeechStretches`) each judged against the canceller, at the onset and
  again while taken for echo: a moved echo path (`check_alignment`), or echo the filter
  left (`echo_left`: most of the mic removed, or the output still correlating with what was
  played, which needs no converged filter).

Threads: `EchoReference.write` runs on the playback audio thread (a lock around a copy);
everything else on the event loop.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from edge_agent.audio.resample import Resampler
from edge_agent.audio.speex import SpeexAec
from edge_agent.config import AudioConfig

__all__ = [
    "EchoCanceller",
    "EchoReference",
    "LocalVad",
    "NearEndVad",
    "SpeechStretches",
    "VadState",
    "echo_parts",
    "estimate_delay",
]

RATE_HZ: Final = 24000
_REANCHOR_SAMPLES: Final = 240  # 10 ms: a jump in DAC/ADC time larger than this is a new run
# a mic block's ADC time is an estimate (the sound server's reported latency): on the
# PulseAudio rig under load one block in ~250 is stamped 11-20 ms early and the next is back
# on line. The samples are contiguous (lost ones are reported: `reset`), so the grid follows
# the sample count and moves only when this many blocks in a row agree on a new offset, or at
# once for a jump of a new stream (`_NEW_STREAM_SAMPLES`); re-anchoring on the outlier put the
# reference 20 ms off for a block, the filter diverged and its residual passed for speech
_STAMP_AGREE_BLOCKS: Final = 3
_NEW_STREAM_SAMPLES: Final = 12000  # 0.5 s
# GCC-PHAT, only in this band (speech; the TTS's band: see `estimate_delay`); a second peak
# this far from the highest (beyond the room's early reflections) and at least this high
# relative to it makes the delay ambiguous
_BAND_HZ: Final = (200.0, 7000.0)
_AMBIGUITY_SAMPLES: Final = 480  # 20 ms
_AMBIGUITY_RATIO: Final = 0.6
# a VAD onset's mic window must show a moved echo this clearly to be followed (a talker's
# onset just after a reply, the earcon and the reply's tail in the reference, reached 26)
_MOVED_PROMINENCE: Final = 30
# what the filter left is echo if it removed more than this ...
_ECHO_REMOVED_DB: Final = 6.0
# ... or if the output correlates with the reply this clearly (`residual_echo`), searched this
# far either side of the measured lag (wider, a talker's synthetic voice found a match with
# the synthetic reply somewhere, 20-34; larger moves are `check_alignment`'s)
_RESIDUAL_ECHO: Final = 12.0
_RESIDUAL_SEARCH_SAMPLES: Final = 1200  # 50 ms
_ONSET_SAMPLES: Final = 7200  # 300 ms of output judged at a VAD onset
_FRAME: Final = 480  # 20 ms: the local VAD's frame
_RELEARN_SAMPLES: Final = 36000  # 1.5 s: the filter re-learns the room after a reset
# a measured echo lag this close to the one in use is left to the adaptive filter (slow clock
# drift: 2-3 samples a minute on the rig); moving the reference read by a few samples would
# cost more echo than it saves (the filter's phase at high frequencies jumps)
_FOLLOW_SAMPLES: Final = 120  # 5 ms


class EchoReference:
    """Played audio on the 24 kHz DAC-time grid; zeros where nothing played."""

    def __init__(self, capacity_s: float = 4.0) -> None:
        self._buf = np.zeros(int(capacity_s * RATE_HZ), np.int16)
        self._head: int | None = None  # grid index after the last written sample
        self._expect_s: float | None = None  # DAC time the next write continues the run at
        self._lock = threading.Lock()
        self._rs: Resampler | None = None
        self._rs_rate = RATE_HZ
        self.runs = 0  # playback runs seen (re-anchors)
        self.run_start: int | None = None  # grid index where the latest run began

    @property
    def head(self) -> int | None:
        return self._head

    def write(self, samples: np.ndarray, dac_time_s: float, rate_hz: int = RATE_HZ) -> None:
        """Playback's tap (audio thread): `samples` (mono, device rate) start at `dac_time_s`."""
        if len(samples) == 0:
            return
        idx = round(dac_time_s * RATE_HZ)
        # a run continues while the DAC time follows on from the last write (in device time:
        # a resampler's output lags its input, the device's clock does not)
        new_run = self._expect_s is None or abs(dac_time_s - self._expect_s) * RATE_HZ > (
            _REANCHOR_SAMPLES
        )
        self._expect_s = dac_time_s + len(samples) / rate_hz
        if rate_hz != RATE_HZ:
            if new_run or self._rs is None or self._rs_rate != rate_hz:
                self._rs, self._rs_rate = Resampler(rate_hz, RATE_HZ, quality="LQ"), rate_hz
            samples = self._rs.process(samples)
        with self._lock:
            if new_run:
                self.runs += 1
                if self._head is not None and 0 < idx - self._head < len(self._buf):
                    self._put(self._head, np.zeros(idx - self._head, np.int16))
                self._head = self.run_start = idx
            assert self._head is not None
            self._put(self._head, samples)
            self._head += len(samples)

    def _put(self, start: int, data: np.ndarray) -> None:
        cap = len(self._buf)
        data = data[-cap:]
        pos = start % cap
        first = min(len(data), cap - pos)
        self._buf[pos : pos + first] = data[:first]
        self._buf[: len(data) - first] = data[first:]

    def read(self, start: int, n: int) -> np.ndarray:
        """Grid samples [start, start + n); zeros for what was never played or is too old."""
        out = np.zeros(n, np.int16)
        with self._lock:
            head = self._head
            if head is None:
                return out
            lo, hi = max(start, head - len(self._buf)), min(start + n, head)
            if lo >= hi:
                return out
            cap = len(self._buf)
            idx = np.arange(lo, hi) % cap
            out[lo - start : hi - start] = self._buf[idx]
        return out


class EchoCanceller:
    """Mic in, mic minus the speaker's echo out (a `capture.MicProcessor`), 20 ms frames.

    Output lags input by one to two frames (the residual-echo suppressor adds one); nothing is
    dropped or added. `suppress_db` None: the linear filter only (about 10 dB less ERLE, the
    same speech distortion: bench/echo.py).
    """

    def __init__(
        self,
        reference: EchoReference,
        *,
        tail_ms: int = 200,
        frame_ms: int = 20,
        margin_ms: int = 20,
        delay_ms: int = 0,
        suppress_db: int | None = -40,
        measure_s: float = 0.75,
        max_delay_ms: int = 1000,
        rerun_s: float = 0.6,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.reference = reference
        self.frame = RATE_HZ * frame_ms // 1000
        self._taps = RATE_HZ * (tail_ms + margin_ms) // 1000
        self._aec = SpeexAec(self.frame, self._taps, RATE_HZ, suppress_db=suppress_db)
        self._margin = RATE_HZ * margin_ms // 1000
        self.delay = RATE_HZ * delay_ms // 1000  # bulk output->input delay beyond the stamps
        self._clock = clock
        self._pending = np.zeros(0, np.int16)
        self._next: int | None = None  # grid index of _pending[0]
        self._stamp_offsets: list[int] = []  # recent blocks' ADC offsets off the sample count
        self.stamp_outliers = 0  # blocks whose ADC time was off and not believed
        self.frames = 0
        # delay measurement: mic windows of `measure_s` against the reference before them
        self._window = int(measure_s * RATE_HZ)
        self._max_lag = RATE_HZ * max_delay_ms // 1000
        self._win: list[np.ndarray] = []
        self._win_start: int | None = None
        self._candidate: int | None = None
        self.measurements: list[tuple[int, float]] = []  # (lag, prominence) of each window
        self.samples_out = 0
        # each playback run (the speaker's stream restarted) may come with its own delay beyond
        # the stamps (a sound server's buffering: +-15 ms between runs on the PulseAudio rig);
        # the first `rerun_s` of its echo re-measure it, and until then the echo is not trusted
        self._rerun_window = int(rerun_s * RATE_HZ)
        self._runs_seen = reference.runs
        self._fresh_from: int | None = None  # grid index the current run's echo begins at
        self.realigned = 0  # small delay corrections (the filter kept)
        self.resets = 0  # large ones (the filter re-learns)
        self._mic_tail = np.zeros(int(0.5 * RATE_HZ), np.int16)  # the last 0.5 s of raw mic
        self._out_tail = np.zeros(int(0.5 * RATE_HZ), np.int16)  # ... and of output
        self._mic_end = 0  # grid index after its last sample
        # output sample count at which two windows agreed on the delay (None: not yet): before
        # that the echo is barely reduced, so a full-duplex guard should not trust the mic
        self.converged_at: int | None = None

    @property
    def converged(self) -> bool:
        """The output->input delay is measured, the filter has re-learnt the echo path since,
        and the current playback run's delay is confirmed: the echo is being cancelled."""
        learnt = self.converged_at is not None and self.samples_out >= self.converged_at
        return learnt and self._fresh_from is None

    @property
    def lead(self) -> int:
        """The reference is read this far ahead of the mic's grid time."""
        return self._margin - self.delay

    def process(self, samples: np.ndarray, adc_time_s: float) -> np.ndarray:
        if adc_time_s == 0.0 and self._clock is not None:  # the backend gave no timestamp
            adc_time_s = self._clock()
        idx = round(adc_time_s * RATE_HZ)
        expected = None if self._next is None else self._next + len(self._pending)
        if expected is None or self._stamp_moved(idx - expected):
            self._next = idx - len(self._pending)
        data = np.concatenate((self._pending, np.asarray(samples, np.int16)))
        n = len(data) // self.frame * self.frame
        out = np.empty(n, np.int16)
        assert self._next is not None
        if self.reference.runs != self._runs_seen:  # the speaker started again
            self._runs_seen = self.reference.runs
            run = self.reference.run_start
            if run is not None and self.converged_at is not None:
                self._fresh_from = run + self.delay - self._margin
        for i in range(0, n, self.frame):
            # run the filter on silence too: its state stays continuous across replies
            ref = self.reference.read(self._next + i + self.lead, self.frame)
            out[i : i + self.frame] = self._aec.process(data[i : i + self.frame], ref)
        self._measure(data[:n], self._next)
        if n:
            self._mic_tail = np.concatenate((self._mic_tail, data[:n]))[-len(self._mic_tail) :]
            self._out_tail = np.concatenate((self._out_tail, out))[-len(self._out_tail) :]
            self._mic_end = self._next + n
        self.frames += n // self.frame
        self.samples_out += n
        self._pending = data[n:]
        self._next += n
        return out

    def _stamp_moved(self, offset: int) -> bool:
        """Does a block stamped `offset` samples off the sample count move the grid? Only a
        new stream's jump, or an offset that several blocks in a row confirm (one outlier
        stamp is the sound server's latency estimate jittering, not the samples moving)."""
        if abs(offset) <= _REANCHOR_SAMPLES:
            self._stamp_offsets = []
            return False
        if abs(offset) > _NEW_STREAM_SAMPLES:
            self._stamp_offsets = []
            return True
        agree = [o for o in self._stamp_offsets if abs(o - offset) <= _REANCHOR_SAMPLES]
        self._stamp_offsets = [*agree, offset]
        if len(self._stamp_offsets) < _STAMP_AGREE_BLOCKS:
            self.stamp_outliers += 1
            return False
        self._stamp_offsets = []
        return True

    def _measure(self, mic: np.ndarray, start: int) -> None:
        """Collect mic windows; for each, find the echo's lag behind the played grid and
        follow it: a clear small move (a sound server's xrun, a restarted stream) shifts the
        reference read and keeps the filter (the room it learnt is still valid); a large one
        (two windows agreeing, or one clear window of a new run) replaces the delay and the
        filter starts afresh, untrusted until it has re-learnt (`converged`)."""
        fresh = self._fresh_from
        if fresh is not None and start + len(mic) <= fresh:
            self._win, self._win_start = [], None  # the new run's echo has not arrived yet
            return
        if self._win_start is None or start != self._win_start + sum(map(len, self._win)):
            self._win, self._win_start = [], start
        self._win.append(mic)
        got = sum(map(len, self._win))
        if got < (self._window if fresh is None else self._rerun_window):
            return
        window = np.concatenate(self._win)
        begin = self._win_start
        self._win, self._win_start = [], start + len(mic)
        ref = self.reference.read(begin - self._max_lag, got + self._max_lag)
        if np.abs(ref[self._max_lag // 2 :]).mean() < 30 or np.abs(window).mean() < 30:
            return  # nothing played (or the mic is dead): nothing to measure
        padded = np.concatenate((np.zeros(self._max_lag, np.int16), window))
        lag, prominence = estimate_delay(ref, padded, self._max_lag)
        self.measurements.append((lag, prominence))
        if lag >= self._max_lag - 48:
            return  # at the edge of the search (a reply's onset against silence): no answer
        shift = lag - self.delay
        small = abs(shift) <= self._taps // 8
        if fresh is not None:  # a new run: trusted again only once its delay is confirmed
            if prominence >= 20:
                self._fresh_from = None
                if abs(shift) > _FOLLOW_SAMPLES:
                    self._follow(lag, small)
            return
        if prominence < 8:
            self._candidate = None
            return
        if self.converged_at is not None and prominence >= 20 and small:
            if abs(shift) > _FOLLOW_SAMPLES:
                self._follow(lag, True)
            self._candidate = lag
            return
        agreed = self._candidate is not None and abs(lag - self._candidate) <= 48
        self._candidate = lag
        if not agreed:
            return
        if self.converged_at is None:  # the first measurement: align, learn afresh
            if shift:
                self.delay = lag
                self._aec.reset()
            self.converged_at = self.samples_out + len(mic) + _RELEARN_SAMPLES
        elif not small:
            self._follow(lag, False)

    def check_alignment(self) -> bool:
        """Is the echo in the last 0.5 s of mic where the filter expects it? Asked when the
        local VAD starts hearing speech during a reply: an echo path that just moved (a sound
        server's xrun) leaves the echo uncancelled and looks like speech; double talk does
        not move the echo. A clear move is followed at once (see `_measure`); False then."""
        n = len(self._mic_tail)
        ref = self.reference.read(self._mic_end - n - self._max_lag, n + self._max_lag)
        if self.converged_at is None or np.abs(ref[self._max_lag :]).mean() < 30:
            return True  # nothing played just now: no echo to mistake for speech
        padded = np.concatenate((np.zeros(self._max_lag, np.int16), self._mic_tail))
        lag, prominence = estimate_delay(ref, padded, self._max_lag)
        if (
            prominence < _MOVED_PROMINENCE
            or lag >= self._max_lag - 48
            or abs(lag - self.delay) <= _FOLLOW_SAMPLES
        ):
            return True
        self.measurements.append((lag, prominence))
        self._follow(lag, abs(lag - self.delay) <= self._taps // 8)
        self._candidate = lag
        return False

    def residual_echo(self, n: int = 7200) -> float:
        """How clearly the last `n` samples of output (up to 0.5 s) are still the reply:
        the GCC-PHAT prominence of the output against the reference, searched within
        `_RESIDUAL_SEARCH_SAMPLES` of the echo's lag (the output lags the mic by a frame).
        It needs no converged filter, only the delay: echo the filter failed to remove (it
        is re-adapting, or the path moved a little) is the reference through the room, so it
        correlates (20-65 at the five false barge-ins of one rig run, 12-45 offline after a
        move); a talker does not (4-10: noise, offline and the rig's questions). 0 when
        nothing was played or the delay is not known yet."""
        n = min(n, len(self._out_tail))
        if self.converged_at is None or n == 0:
            return 0.0
        expected = self.delay + self.frame
        lo = max(0, expected - _RESIDUAL_SEARCH_SAMPLES)
        hi = expected + _RESIDUAL_SEARCH_SAMPLES
        ref = self.reference.read(self._mic_end - n - hi, n + hi - lo)
        if np.abs(ref).mean() < 30:
            return 0.0
        out = self._out_tail[-n:].astype(np.float64)
        size = 1 << int(np.ceil(np.log2(len(ref) + 1)))
        cross = np.fft.rfft(ref.astype(np.float64), size) * np.conj(np.fft.rfft(out, size))
        cross /= np.maximum(np.abs(cross), 1e-9)
        cross[_out_of_band(size)] = 0
        corr = np.fft.irfft(cross, size)[: hi - lo + 1]
        return float(corr.max() / max(np.mean(np.abs(corr)), 1e-12))

    def echo_left(self, recent: np.ndarray) -> bool:
        """Is what the VAD hears in `recent` (the last output, up to 0.5 s) echo the filter
        left? Most of what the mic heard was removed (the filter is re-adapting: a talker
        comes through at about the mic's own level, 0-3 dB removed), or what is left still
        correlates with what was played (`residual_echo`: a talker's voice does not)."""
        return self.removed_db(recent) > _ECHO_REMOVED_DB or self.residual_echo() >= _RESIDUAL_ECHO

    def removed_db(self, recent: np.ndarray) -> float:
        """How much quieter `recent` (the last output, up to 0.5 s) is than the mic was over
        the same stretch, dB. A talker over the echo comes through at about the mic's level
        (0-3 dB removed); an echo the filter only partly cancels (re-adapting) is well below
        it (6-20 dB removed) and yet loud enough for a VAD."""
        n = min(len(recent), len(self._mic_tail))
        if n == 0:
            return 0.0
        mic = np.sum(self._mic_tail[-n:].astype(np.float64) ** 2)
        out = np.sum(np.asarray(recent[-n:], np.float64) ** 2)
        return float(10 * np.log10(max(mic, 1.0) / max(out, 1.0)))

    def _follow(self, lag: int, small: bool) -> None:
        if lag == self.delay:
            return
        self.delay = lag
        if small:
            self.realigned += 1
        else:
            self._aec.reset()
            self.converged_at = self.samples_out + _RELEARN_SAMPLES
            self.resets += 1

    def reset(self) -> None:
        """Samples were lost: restart the grid (the learnt echo path is kept)."""
        self._pending = np.zeros(0, np.int16)
        self._next = None
        self._stamp_offsets = []

    def close(self) -> None:
        self._aec.close()


@dataclass(frozen=True, slots=True)
class VadState:
    """The local detector's verdict after the last frame."""

    speaking: bool
    speech_ms: int  # speech in the recent window
    level_dbfs: float  # of the last frame


class LocalVad:
    """Energy VAD over echo-cancelled 24 kHz audio, 20 ms frames, with a sliding window.

    `speaking` once at least `min_speech_ms` of the last `window_ms` were above `threshold_dbfs`.
    Pure: feed samples, read `state`. Cheap (one RMS per frame), meant as the full-duplex guard:
    the server's speech_started during a reply counts as a barge-in only if this agrees.
    """

    def __init__(
        self, threshold_dbfs: float = -40.0, min_speech_ms: int = 120, window_ms: int = 400
    ) -> None:
        self.threshold_dbfs = threshold_dbfs
        self.min_frames = max(1, min_speech_ms // 20)
        self._window: list[bool] = []
        self._size = max(1, window_ms // 20)
        self._pending = np.zeros(0, np.int16)
        self.state = VadState(False, 0, float("-inf"))

    def feed(self, samples: np.ndarray) -> VadState:
        data = np.concatenate((self._pending, np.asarray(samples, np.int16)))
        n = len(data) // 480 * 480
        level = self.state.level_dbfs
        for i in range(0, n, 480):
            x = data[i : i + 480].astype(np.float32) / 32768.0
            rms = float(np.sqrt(np.mean(x * x)))
            level = 20 * float(np.log10(rms)) if rms > 0 else float("-inf")
            self._window.append(level >= self.threshold_dbfs)
            if len(self._window) > self._size:
                self._window.pop(0)
        self._pending = data[n:]
        speech = sum(self._window)
        self.state = VadState(speech >= self.min_frames, speech * 20, level)
        return self.state


class SpeechStretches:
    """The local VAD's speech stretches, each judged the user or the reply's echo; pure.

    `step(speaking)` per VAD step says which judgement is due: "onset" when a stretch begins
    (the caller checks the echo path and what is left, `EchoCanceller.check_alignment` and
    `echo_left`), "again" every `rejudge_steps` while the stretch is taken for echo (the user
    may start talking over it: `echo_left`), or None; `judged(echo)` gives the answer.
    `user_speaking`: a stretch is on and is not echo. A stretch taken for echo becomes speech
    once `agree` judgements in a row find no echo (one alone is too easily a quiet moment of
    the reply); one taken for speech stays speech to its end. Every 3 steps (60 ms) and 2 in a
    row: offline, every 2 steps let a moved echo through; every 5, a talker took 330 ms.
    """

    def __init__(self, rejudge_steps: int = 3, agree: int = 2) -> None:
        self.rejudge_steps = rejudge_steps
        self.agree = agree
        self._on = False  # the VAD is in a speech stretch
        self._echo = False  # ... judged echo
        self._steps = 0  # steps into it
        self._not_echo = 0  # judgements in a row that found no echo
        self.echo_stretches = 0  # stretches that began as echo
        self.talked_over = 0  # ... and became speech (the user talked over the echo)

    @property
    def user_speaking(self) -> bool:
        return self._on and not self._echo

    def step(self, speaking: bool) -> Literal["onset", "again"] | None:
        if not speaking:
            self._on = self._echo = False
            return None
        if not self._on:
            self._on, self._echo, self._steps, self._not_echo = True, False, 0, 0
            return "onset"
        if not self._echo:
            return None
        self._steps += 1
        return "again" if self._steps % self.rejudge_steps == 0 else None

    def judged(self, echo: bool) -> None:
        if not self._on:
            return
        if self._steps == 0:  # the onset
            self._echo = echo
            self.echo_stretches += echo
            return
        if not self._echo:
            return
        self._not_echo = 0 if echo else self._not_echo + 1
        if self._not_echo >= self.agree:
            self._echo = False
            self.talked_over += 1


class NearEndVad:
    """Is the user speaking, on the echo-cancelled signal? The local VAD (`LocalVad`) whose
    speech stretches are judged (`SpeechStretches`) against the canceller: a stretch that
    begins while the echo path just moved (`check_alignment`: followed at once) or with echo
    the filter left (`echo_left`) is the reply's echo, not the user. Pure: `feed` the
    canceller's output as it comes, read `user_speaking`.

    This is the full-duplex guard's word (`turn.guard`): the service's speech_started during
    a reply barges in only if it agrees. The canceller's filter alone is not enough: when the
    echo path moves its residual stays loud for a second or more, loud enough for any VAD.
    """

    def __init__(self, canceller: EchoCanceller, vad: LocalVad | None = None) -> None:
        self.canceller = canceller
        self.vad = vad or LocalVad()
        self.stretches = SpeechStretches()
        self._tail = np.zeros(0, np.int16)  # the last output the VAD read
        self._pending = np.zeros(0, np.int16)  # a part frame
        self.echo_onsets = 0  # stretches that began as echo
        self.moves = 0  # ... of them, because the echo path had moved

    @property
    def user_speaking(self) -> bool:
        return self.stretches.user_speaking

    def feed(self, out: np.ndarray) -> bool:
        """The canceller's next output (any length): is the user speaking now? Judged frame
        by frame (20 ms), however the capture delivered it."""
        data = np.concatenate((self._pending, np.asarray(out, np.int16)))
        n = len(data) // _FRAME * _FRAME
        self._pending = data[n:]
        for i in range(0, n, _FRAME):
            frame = data[i : i + _FRAME]
            self._tail = np.concatenate((self._tail, frame))[-_ONSET_SAMPLES:]
            due = self.stretches.step(self.vad.feed(frame).speaking)
            if due == "onset":
                self.stretches.judged(self._onset_is_echo())
            elif due == "again":
                self.stretches.judged(self.canceller.echo_left(self._tail))
        return self.stretches.user_speaking

    def _onset_is_echo(self) -> bool:
        c = self.canceller
        echo = False
        if not c.check_alignment():
            self.moves += 1
            echo = True
        elif c.echo_left(self._tail):
            echo = True
        self.echo_onsets += echo
        return echo


def echo_parts(config: AudioConfig) -> tuple[EchoReference, EchoCanceller] | None:
    """The reference (Playback's `tap`: ``Playback(cfg, tap=ref.write)``) and the canceller
    (Capture's `processor`) for `audio.echo_cancel`; None when it is 'off'.

    Raises:
        AudioDeviceError: 'speex' but libspeexdsp1 is missing (the message says what to install).
    """
    if config.echo_cancel == "off":
        return None
    ref = EchoReference()
    return ref, EchoCanceller(ref, tail_ms=config.echo_tail_ms)


@functools.cache
def _out_of_band(size: int) -> np.ndarray:
    f = np.fft.rfftfreq(size, 1 / RATE_HZ)
    return (f < _BAND_HZ[0]) | (f > _BAND_HZ[1])


def estimate_delay(reference: np.ndarray, mic: np.ndarray, max_lag: int) -> tuple[int, float]:
    """How many samples the echo in `mic` lags `reference` (0..max_lag), by FFT cross-
    correlation with phase transform (GCC-PHAT: sharp peaks despite the room's colouring);
    returns the lag and the peak's prominence (peak / mean |correlation|; > ~8 is clear).
    Only 200-7000 Hz count: PHAT gives every bin the same weight, and bins where neither
    signal has energy (above the TTS's band, near Nyquist) made a peak at lag 0 on the rig
    whenever the user spoke just after a reply.

    A peak that another one more than `_AMBIGUITY_SAMPLES` away nearly matches has prominence
    0 (no answer): a tonal reference (the earcons are sines) correlates at every period, and
    on the rig the first of those peaks (lag 0) was taken for a moved echo path at each
    earcon, resetting the filter before every reply."""
    n = len(mic)
    size = 1 << int(np.ceil(np.log2(n + max_lag + 1)))
    r = np.fft.rfft(np.asarray(reference, np.float64), size)
    m = np.fft.rfft(np.asarray(mic, np.float64), size)
    cross = m * np.conj(r)
    cross /= np.maximum(np.abs(cross), 1e-9)
    cross[_out_of_band(size)] = 0
    corr = np.fft.irfft(cross, size)[: max_lag + 1]
    lag = int(np.argmax(corr))
    peak = corr[lag]
    others = np.concatenate(
        (corr[: max(0, lag - _AMBIGUITY_SAMPLES)], corr[lag + _AMBIGUITY_SAMPLES + 1 :])
    )
    if len(others) and others.max() > _AMBIGUITY_RATIO * peak:
        return lag, 0.0
    return lag, float(peak / max(np.mean(np.abs(corr)), 1e-12))
