"""Where the wake word's speech ended: the sample a turn's audio should start from.

A detector fires 35-580 ms (p50 ~200 ms) after the wake word ends, so "the detection minus a
pre-roll" lands inside the word: the server's VAD then hears "…vis", the user's pause after the
earcon ends that turn, and the question is lost. This module looks back from the detection at
the audio the detector kept and at Silero VAD's per-40 ms speech probabilities over it:

1. ``silence``: the latest place in the search window where speech (VAD >= `speech`) is
   followed by a chunk below `silence` — the pause after "hey jarvis" — confirmed and refined
   to 10 ms with the frames' energy: the first frame at the room's floor (measured on the
   chunks VAD calls non-speech) that starts >= 50 ms of quiet lasting `pause_ms` or up to the
   detection (a stop consonant's closure is shorter). After a word that ends in a fricative,
   a pause cut short by the detection must follow hiss: one that follows voice is a closure
   inside a question said in one breath ("hey jarvis swi|tch..."), which once cut 260 ms.
2. ``fricative``: no pause, and the wake word ends in a fricative (`FRICATIVE_ENDS`: "hey
   jarvis" ends in /s/; the caller says, by the model's name): the first run of
   >= `fricative_min_ms` of 10 ms frames with most of their energy above 3.5 kHz (hiss, not
   voice), clearly above the floor, that ends in the search window is the word's last sound;
   the estimate is its onset plus at most `fricative_cap_ms` (or its end, if shorter). The cap
   makes it safe: a question that itself starts with a hiss or a burst ("set a timer", "turn
   on") merges with the /s/ into one run whose end is inside the question, while a wake-word
   /s/ lasts longer than the cap. The first run, not the last: one picked too early (a /dʒ/)
   only streams more wake word, the question's own /s/ ("what's") would cut it. On the
   synthetic one-breath sets (docs/wake.md) it streams 31-92 ms of the wake word, none cut.
3. ``dip`` (off by default): in continuous speech, the earliest VAD dip below `dip` no earlier
   than `fallback_ms` before the detection, refined to the quietest 10 ms frame around it. It
   put 16 of 20 one-breath estimates within 100 ms of the end but cut 218 ms into one
   question, so it stays off.
4. ``fallback``: none of these: the detection minus `fallback_ms` (early rather than late: a
   little of the wake word before a question said in one breath costs little, a cut question
   is lost).

Pure: numpy in, an `Endpoint` out; no models (the caller runs the VAD), no clock. One estimate
costs ~0.5 ms of CPU (bench/wake_endpoint.py prints it), once per detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

__all__ = ["FRICATIVE_ENDS", "VAD_CHUNK", "Endpoint", "EndpointRule", "estimate_end"]

VAD_CHUNK: Final = 640  # 40 ms at 16 kHz: the chunk Silero VAD scores, as openWakeWord feeds it
_FRAME: Final = 160  # 10 ms energy frames for the refinement

_HISS_HZ: Final = 3500  # a fricative's energy is mostly above this; a voice's below
_HISS_BEFORE_PAUSE: Final = 5  # 10 ms frames before a short pause that must hold some hiss
# The built-in wake words whose last sound is a fricative (the `fricative` rule applies to
# them only): "hey jarvis" ends in /s/; alexa, okay_nabu and hey_rhasspy end in a vowel, and
# hey_mycroft in /ft/ (a weak /f/ and a burst: not measured, so not listed).
FRICATIVE_ENDS: Final = frozenset({"hey_jarvis"})

Method = Literal["silence", "fricative", "dip", "fallback"]


@dataclass(frozen=True, slots=True)
class EndpointRule:
    """The knobs (measured on the synthetic sets with bench/wake_accuracy.py)."""

    speech: float = 0.5  # a chunk at or above this VAD score is speech
    silence: float = 0.35  # a chunk below this one is not
    dip: float = 0.0  # a dip in continuous speech must go below this (0 = off: see docs)
    search_ms: int = 640  # the wake word ends at most this long before the detection
    fallback_ms: int = 450  # no silence and no dip: assume it ended this long before
    dip_margin_ms: int = 10
    quiet_frames: int = 3  # a pause starts with this many 10 ms frames at the floor
    tail_frames: int = 5  # ...or this many, when the audio ends before `pause_ms` is over
    pause_ms: int = 200  # ...and stays (90 %) quiet this long, or to the end of the audio  # a dip's estimate is this much before its quietest frame
    floor_ratio: float = 3.0  # "louder than the floor": this many times the floor's RMS
    peak_ratio: float = 0.02  # ...and at least this fraction of the speech's peak RMS
    speech_ratio: float = 0.25  # a floor whose level passes this x the speech's: no pauses
    hiss_ratio: float = 0.5  # a fricative frame has this share of its energy above 3.5 kHz
    hiss_peak_ratio: float = 0.03  # ...and at least this fraction of the window's peak RMS
    fricative_min_ms: int = 40  # a fricative is at least this long
    fricative_cap_ms: int = 60  # the estimate is at most this far past the fricative's onset


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The estimated end of the wake word (absolute 16 kHz sample index) and how it was found."""

    end_16k: int
    method: Method


def _frame_rms(pcm: np.ndarray) -> np.ndarray:
    n = len(pcm) // _FRAME
    frames = pcm[: n * _FRAME].astype(np.float64).reshape(n, _FRAME)
    rms: np.ndarray = np.sqrt(np.mean(frames**2, axis=1))
    return rms


def estimate_end(
    audio: np.ndarray,
    audio_start_16k: int,
    detection_16k: int,
    vad_chunks: np.ndarray,
    rule: EndpointRule = EndpointRule(),  # frozen: a shared default is safe
    *,
    ends_in_fricative: bool = False,
) -> Endpoint:
    """The sample where the wake word's speech ended, looking back from the detection.

    Args:
        audio: 16 kHz int16 audio the detector kept, ending at or after the detection.
        audio_start_16k: the absolute sample index of ``audio[0]``.
        detection_16k: the detection's sample index (the end of the step that fired).
        vad_chunks: Silero VAD's speech probability of each whole 640-sample chunk of
            ``audio``, from its start (``vad_chunks[k]`` scores ``audio[640k:640(k+1)]``).
        rule: the thresholds.
        ends_in_fricative: the wake word ends in a fricative (its name is in
            `FRICATIVE_ENDS`): in one breath, look for it.

    Returns:
        An index between ``detection_16k - rule.search_ms`` (or the audio's start) and
        ``detection_16k``.
    """
    pcm = np.asarray(audio, np.int16).reshape(-1)
    probs = np.asarray(vad_chunks, np.float64).reshape(-1)
    det = detection_16k - audio_start_16k  # relative to the audio
    fallback = detection_16k - rule.fallback_ms * 16
    n_chunks = min(len(probs), len(pcm) // VAD_CHUNK, det // VAD_CHUNK)
    if det <= 0 or n_chunks < 2:
        return Endpoint(max(audio_start_16k, fallback), "fallback")
    probs = probs[:n_chunks]
    lo = max(0, (det - rule.search_ms * 16) // VAD_CHUNK)
    rms = _frame_rms(pcm[: n_chunks * VAD_CHUNK])

    level = _loud_level(rms, probs, rule)
    # 1. speech then quiet: the latest end of a speech run (hysteresis) in the window.
    edge = _last_speech_end(probs, lo, rule)
    if edge is None and probs[-1] >= rule.speech:
        edge = n_chunks - 1  # the word may have ended in the last chunk (a short latency)
    end = (
        None
        if edge is None or level is None
        else _first_quiet(rms, edge, level, rule, probs[-1] < rule.speech)
    )
    if end is None and level is not None:
        end = _energy_pause(rms, probs, level, lo * VAD_CHUNK // _FRAME, rule)
    if ends_in_fricative:
        lo_frame = max(0, (det - rule.search_ms * 16) // _FRAME)
        first = max(0, lo_frame - rule.fricative_cap_ms // 10 - 20)  # a run begun before it
        hiss = _hiss_frames(pcm[:det], first, lo_frame, level, rule)
        if end is not None and end // _FRAME + rule.pause_ms // 10 > len(rms):
            # a pause cut short by the detection may be a closure inside the question ("swi|tch"):
            # after a word that ends in a fricative, a pause begins where hiss ends
            k = end // _FRAME - first
            if not hiss[max(0, k - _HISS_BEFORE_PAUSE) : max(0, k)].any():
                end = None
        if end is None:
            end = _fricative_end(hiss, first, lo_frame, rule)
            if end is not None:
                return Endpoint(audio_start_16k + end, "fricative")
    if end is not None:
        return Endpoint(audio_start_16k + min(end, det), "silence")
    # 3. continuous speech: the earliest clear dip that is late enough to follow the word.
    earliest = max(lo, (det - rule.fallback_ms * 16) // VAD_CHUNK)
    for k in range(earliest, n_chunks - 1):
        if probs[k] < rule.dip and probs[k] <= probs[k - 1] and probs[k] <= probs[k + 1]:
            first, last = (k - 1) * VAD_CHUNK // _FRAME, (k + 2) * VAD_CHUNK // _FRAME
            quietest = first + int(np.argmin(rms[first:last]))
            end = max(0, quietest * _FRAME - rule.dip_margin_ms * 16)
            return Endpoint(audio_start_16k + end, "dip")
    return Endpoint(max(audio_start_16k, fallback), "fallback")


_BASIS: tuple[np.ndarray, np.ndarray] | None = None


def _spectrum(frames: np.ndarray) -> np.ndarray:
    """|rfft|^2 of each Hann-windowed 10 ms frame, bins 1..80 (100 Hz steps), as a product with
    a fixed cos/sin basis: the same values as `np.fft.rfft`, without importing numpy.fft on
    the first wake word (+0.9 MB of RSS, kept; docs/pipeline.md "Idle memory")."""
    global _BASIS
    if _BASIS is None:
        n = np.arange(_FRAME)[:, None]
        angle = 2 * np.pi * n * np.arange(1, _FRAME // 2 + 1)[None, :] / _FRAME
        window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_FRAME) / (_FRAME - 1)))[:, None]
        _BASIS = (window * np.cos(angle), window * np.sin(angle))  # np.hanning(_FRAME)
    cos, sin = _BASIS
    power: np.ndarray = (frames @ cos) ** 2 + (frames @ sin) ** 2
    return power


def _hiss_frames(
    pcm: np.ndarray, first: int, lo: int, level: float | None, rule: EndpointRule
) -> np.ndarray:
    """Which 10 ms frames from frame `first` to the end of `pcm` are hiss: `hiss_ratio` of their
    energy above 3.5 kHz, louder than `hiss_peak_ratio` of the peak from frame `lo` on and
    (when the floor could be measured) than its `level`."""
    n = len(pcm) // _FRAME
    if n - first < 1:
        return np.zeros(0, bool)
    frames = pcm[first * _FRAME : n * _FRAME].astype(np.float64).reshape(-1, _FRAME)
    power = _spectrum(frames)  # bins 1..80: 100 Hz..8 kHz
    total = power.sum(axis=1)
    hiss = power[:, _HISS_HZ // 100 - 1 :].sum(axis=1) / np.maximum(total, 1e-9)
    rms = np.sqrt(total / _FRAME)  # the Hann window's loss is the same for every frame
    loud = rms >= rule.hiss_peak_ratio * rms[min(max(0, lo - first), n - first - 1) :].max()
    if level is not None:
        loud &= _frame_rms(pcm[first * _FRAME : n * _FRAME]) > level
    found: np.ndarray = (hiss >= rule.hiss_ratio) & loud
    return found


def _fricative_end(hiss: np.ndarray, first: int, lo: int, rule: EndpointRule) -> int | None:
    """The wake word's closing fricative in one breath: the onset (in samples) of the first run
    of >= `fricative_min_ms` of hiss frames (`hiss[k]` is frame `first + k`) that ends after
    frame `lo`, plus its length capped at `fricative_cap_ms`. None when there is none."""
    min_frames, cap = rule.fricative_min_ms // 10, rule.fricative_cap_ms // 10
    i = 0
    while i < len(hiss):
        if not hiss[i]:
            i += 1
            continue
        j = i
        while j < len(hiss) and hiss[j]:
            j += 1
        if j - i >= min_frames and first + j > lo:
            return (first + i + min(j - i, cap)) * _FRAME
        i = j
    return None


def _energy_pause(
    rms: np.ndarray, probs: np.ndarray, level: float, lo: int, rule: EndpointRule
) -> int | None:
    """The earliest pause (as `_first_quiet` defines it) from frame `lo` on that follows sound
    the VAD calls speech: for a VAD that holds "speech" for a while after it ends (microVAD
    does for ~0.5 s), so its edge comes after the detection."""
    per_chunk = VAD_CHUNK // _FRAME
    for i in range(max(lo, 1), len(rms)):
        if rms[i - 1] > level and rms[i] <= level:
            chunk = (i - 1) // per_chunk
            if probs[max(0, chunk - 1) : chunk + 1].max() >= rule.speech:
                start = _first_quiet(rms, i // per_chunk, level, rule, True, first_frame=i)
                if start is not None:
                    return start
    return None


def _loud_level(rms: np.ndarray, probs: np.ndarray, rule: EndpointRule) -> float | None:
    """The RMS above which a 10 ms frame is sound, not the room's floor; None when it cannot
    be told (no non-speech chunk to measure the floor on, or a floor too close to the speech)."""
    per_chunk = VAD_CHUNK // _FRAME
    frame_probs = np.repeat(probs, per_chunk)[: len(rms)]
    floor_frames, speech_frames = rms[frame_probs < rule.silence], rms[frame_probs >= rule.speech]
    if len(floor_frames) < per_chunk or len(speech_frames) == 0:
        return None
    floor, speech = _median(floor_frames), _median(speech_frames)
    level = max(rule.floor_ratio * floor, rule.peak_ratio * float(rms.max()))
    return level if level <= rule.speech_ratio * speech else None


def _median(values: np.ndarray) -> float:
    """np.median's value, without its first call importing numpy.ma (+1.7 MB of RSS, kept)."""
    ordered = np.sort(values)
    n = len(ordered)
    return float((ordered[(n - 1) // 2] + ordered[n // 2]) / 2)


def _last_speech_end(probs: np.ndarray, lo: int, rule: EndpointRule) -> int | None:
    """The last chunk of the latest speech run that ended (a chunk below `silence`, or the
    audio's end while below `speech`, came after it) at or after chunk `lo`."""
    last_end: int | None = None
    in_speech, last_speech = False, -1
    for k, p in enumerate(probs):
        if p >= rule.speech:
            in_speech, last_speech = True, k
        elif in_speech and p < rule.silence:
            in_speech = False
            if last_speech >= lo:
                last_end = last_speech
    if in_speech and last_speech < len(probs) - 1 and last_speech >= lo:
        last_end = last_speech  # the audio ends below `speech` after it: a short latency
    return last_end


def _first_quiet(
    rms: np.ndarray,
    k: int,
    level: float,
    rule: EndpointRule,
    vad_dropping: bool,
    *,
    first_frame: int | None = None,
) -> int | None:
    """The start (in samples) of the first pause that begins within chunks k-1..k+1 (Silero
    lags the sound by up to a chunk): where the speech run ending in chunk k went quiet.

    A pause is `quiet_frames` 10 ms frames at or below `level` that stay (90 %) quiet for
    `pause_ms`; one cut short by the end of the audio needs `tail_frames` (a stop consonant's
    closure just before the detection is shorter) and a dropping VAD (`vad_dropping`).
    None when there is none (no pause: one breath).
    """
    per_chunk = VAD_CHUNK // _FRAME
    first = max(0, k - 1) * per_chunk if first_frame is None else first_frame
    last = (k + 2) * per_chunk if first_frame is None else first_frame + 1
    quiet = rms <= level
    hold = rule.pause_ms // 10
    for i in range(first, min(len(rms), last)):
        if i + rule.quiet_frames > len(rms) or not quiet[i : i + rule.quiet_frames].all():
            continue
        if i + hold > len(rms) and (not vad_dropping or i + rule.tail_frames > len(rms)):
            continue
        if quiet[i : i + hold].mean() >= 0.9:
            return i * _FRAME
    return None
