"""A labelled wake-word set made with espeak-ng at run time, for benchmarks and verifier training.

Positives ("hey jarvis", alone or followed by a question after a short pause) and negatives (near
misses, ordinary speech, noise, silence) are laid out in long 16 kHz streams over a faint noise
floor, the way a mic hears them: the detector runs over each stream without resets. Every
positive carries the sample span of its wake word so a detection can be matched to it.
Two disjoint splits exist — "eval" and "train" (other voices, other sentences) — so a verifier
trained on one is measured on the other. Generated audio lives only in memory and the speech
cache (git-ignored).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from edge_agent.sim.speech import speak

__all__ = [
    "PAUSES_S",
    "RATE_HZ",
    "PauseItem",
    "PauseStream",
    "Span",
    "Stream",
    "WakeSet",
    "build_pauseset",
    "build_wakeset",
    "speech_bounds",
]

RATE_HZ: Final = 16000
WAKE_TEXT: Final = "hey jarvis"

VOICES: Final = {
    "eval": [
        "en-us", "en-gb", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-us-nyc",
        "en-us+f3", "en-us+Andrea", "en-us+m3", "en-gb+f2", "en-gb-x-gbclan", "en-us+Alex",
    ],
    "train": [
        "en-us+f2", "en-us+f4", "en-gb+m4", "en-us+klatt", "en-gb+Annie", "en-us+michel",
        "en-029+f3", "en-gb-x-gbcwmd", "en-us+m1", "en-gb+f1",
    ],
}  # fmt: skip
SPEEDS_WPM: Final = (130, 160, 190)
QUESTIONS: Final = {
    "eval": [
        "what's the weather in toronto", "turn on the kitchen light", "set a timer for ten minutes",
        "what time is it", "play some music", "how tall is mount everest",
    ],
    "train": [
        "is it going to rain tomorrow", "switch off the lamp", "what's on my calendar",
        "tell me a joke", "how far away is the moon", "dim the bedroom lights",
    ],
}  # fmt: skip
NEAR_MISSES: Final = {
    "eval": [
        "hey travis", "jarvis", "hey jar", "hey jasmine", "hey darling", "hey service",
        "hey marvin", "hey java", "harvest", "hey garvis", "hey jarvik", "hi jarvis",
        "hey jarred", "a jar of this", "hey charles", "carvings",
    ],
    "train": [
        "hey javier", "jervis", "hey jarvy", "hey harvey", "hey jazz", "hey carvers",
        "jarvis is here", "hey mavis", "hey davis", "hey, jar", "hey jervis", "starvis",
    ],
}  # fmt: skip
SENTENCES: Final = {
    "eval": [
        "good morning, did you sleep well", "can you pass me the salt please",
        "i think the meeting starts at three", "we should go for a walk later",
        "the train was late again this morning", "have you seen my keys anywhere",
        "let's order pizza tonight", "the weather has been lovely this week",
        "i need to call my sister", "what are you reading these days",
        "the kids are playing in the garden", "don't forget to water the plants",
        "my phone battery is almost empty", "hey, how was your day",
        "this soup needs a little more salt", "the football match starts at eight",
        "could you turn the music down a bit", "i'll be home in twenty minutes",
        "hey there, nice to see you", "the car needs new tyres",
    ],
    "train": [
        "where did you put the remote", "dinner is almost ready", "the cat is sleeping again",
        "we are out of milk", "i'm going to the shop", "hey, look at this",
        "what a beautiful sunset", "the printer is jammed again", "let's watch a film",
        "my back hurts today", "it's your turn to cook", "hey, are you coming",
    ],
}  # fmt: skip
Kind = Literal["wake", "near", "speech", "noise", "silence"]
# The pauses people leave between "hey jarvis" and the question (None: no question at all).
PAUSES_S: Final = (None, 0.0, 0.3, 0.8, 1.5)


@dataclass(frozen=True, slots=True)
class Span:
    """One labelled item inside a stream; samples are 16 kHz indices into the stream."""

    kind: Kind
    text: str
    voice: str
    speed_wpm: int
    start: int
    end: int  # for "wake": the end of the wake word itself (speech only, no padding)


@dataclass
class Stream:
    """A long 16 kHz stream and the items laid out in it."""

    name: str
    pcm: np.ndarray
    spans: list[Span] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / RATE_HZ


@dataclass
class WakeSet:
    positives: list[Stream]
    negatives: list[Stream]

    @property
    def negative_s(self) -> float:
        return sum(s.seconds for s in self.negatives)

    @property
    def n_positives(self) -> int:
        return sum(1 for s in self.positives for sp in s.spans if sp.kind == "wake")


def speech_bounds(pcm: np.ndarray, level: int = 300) -> tuple[int, int]:
    """First and one-past-last sample louder than `level` (espeak pads with silence)."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > level)
    return (int(loud[0]), int(loud[-1]) + 1) if len(loud) else (0, 0)


def _noise(kind: str, seconds: float, rms: float, rng: np.random.Generator) -> np.ndarray:
    n = round(seconds * RATE_HZ)
    white = rng.standard_normal(n)
    if kind == "white":
        out = white
    else:  # pink (1/f) or brown (1/f^2) by shaping the spectrum
        spec = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n, 1 / RATE_HZ), 20.0)
        spec /= np.sqrt(f) if kind == "pink" else f
        out = np.fft.irfft(spec, n)
    out *= rms / (np.sqrt(np.mean(out**2)) + 1e-12)
    return np.clip(out, -32768, 32767).astype(np.int16)


class _Layout:
    """Appends clips with gaps to one stream and records their spans."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.parts: list[np.ndarray] = []
        self.spans: list[Span] = []
        self.length = 0

    def gap(self, seconds: float) -> None:
        self.add(np.zeros(round(seconds * RATE_HZ), np.int16))

    def add(self, pcm: np.ndarray, span: Span | None = None) -> None:
        if span is not None:
            self.spans.append(span)
        self.parts.append(pcm)
        self.length += len(pcm)

    def stream(self, floor_rms: float, rng: np.random.Generator) -> Stream:
        pcm = np.concatenate(self.parts).astype(np.int32)
        pcm += _noise("pink", len(pcm) / RATE_HZ, floor_rms, rng)
        return Stream(self.name, np.clip(pcm, -32768, 32767).astype(np.int16), self.spans)


def _speak_all(
    items: Sequence[tuple[str, str, int]], workers: int
) -> dict[tuple[str, str, int], np.ndarray]:
    unique = sorted(set(items))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        audio = pool.map(lambda it: speak(it[0], it[1], it[2], RATE_HZ), unique)
        return dict(zip(unique, audio, strict=True))


def build_wakeset(
    split: Literal["eval", "train"] = "eval",
    *,
    min_negative_s: float = 1800.0,
    seed: int = 0,
    workers: int = 4,
    floor_rms: float = 30.0,
    stream_s: float = 120.0,
) -> WakeSet:
    """Generate the labelled set (about a minute of espeak-ng on 2 cores the first time).

    Args:
        split: "eval" or "train": disjoint voices, questions, near misses and sentences.
        min_negative_s: lay out negatives until there is at least this much negative audio.
        seed: the layout (gaps, pauses, noise) is a function of the seed.
        workers: parallel espeak-ng processes.
        floor_rms: the faint pink-noise floor under everything (int16 RMS).
        stream_s: roughly how long each stream is.
    """
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    voices, questions = VOICES[split], QUESTIONS[split]
    wake_items = [(v, s) for v in voices for s in SPEEDS_WPM]
    texts = [(WAKE_TEXT, v, s) for v, s in wake_items]
    texts += [(q, v, 160) for q in questions for v in voices]
    neg_items = [("near", t, v, s) for t in NEAR_MISSES[split] for v in voices for s in (140, 180)]
    neg_items += [("speech", t, v, s) for t in SENTENCES[split] for v in voices for s in (150,)]
    pyrng.shuffle(neg_items)
    texts += [(t, v, s) for _, t, v, s in neg_items]
    audio = _speak_all(texts, workers)

    positives = _layout_positives(wake_items, questions, audio, rng, pyrng, floor_rms, stream_s)
    negatives = _layout_negatives(neg_items, audio, rng, floor_rms, stream_s, min_negative_s)
    return WakeSet(positives, negatives)


def _layout_positives(
    wake_items: list[tuple[str, int]],
    questions: list[str],
    audio: dict[tuple[str, str, int], np.ndarray],
    rng: np.random.Generator,
    pyrng: random.Random,
    floor_rms: float,
    stream_s: float,
) -> list[Stream]:
    """Each voice x speed twice: the wake word alone, and followed by a question."""
    streams: list[Stream] = []
    lay = _Layout("pos-0")
    lay.gap(2.0)
    for voice, wpm in wake_items:
        for with_question in (False, True):
            clip = audio[(WAKE_TEXT, voice, wpm)]
            start, end = speech_bounds(clip)
            lay.gap(float(rng.uniform(2.5, 3.5)))
            base = lay.length
            lay.add(clip[start:end], Span("wake", WAKE_TEXT, voice, wpm, base, base + end - start))
            if with_question:
                q = pyrng.choice(questions)
                qclip = audio[(q, voice, 160)]
                qs, qe = speech_bounds(qclip)
                lay.gap(float(rng.uniform(0.2, 0.6)))
                lay.add(qclip[qs:qe])
            if lay.length > stream_s * RATE_HZ:
                lay.gap(3.0)
                streams.append(lay.stream(floor_rms, rng))
                lay = _Layout(f"pos-{len(streams)}")
                lay.gap(2.0)
    if lay.spans:
        lay.gap(3.0)
        streams.append(lay.stream(floor_rms, rng))
    return streams


def _layout_negatives(
    items: list[tuple[str, str, str, int]],
    audio: dict[tuple[str, str, int], np.ndarray],
    rng: np.random.Generator,
    floor_rms: float,
    stream_s: float,
    min_negative_s: float,
) -> list[Stream]:
    """Near misses and sentences with short gaps, then noise and silence, up to min_negative_s."""
    streams: list[Stream] = []
    lay = _Layout("neg-0")
    total = 0

    def flush() -> None:
        nonlocal lay, total
        lay.gap(1.0)
        streams.append(lay.stream(floor_rms, rng))
        total += lay.length
        lay = _Layout(f"neg-{len(streams)}")
        lay.gap(1.0)

    lay.gap(1.0)
    for kind, text, voice, wpm in items:
        clip = audio[(text, voice, wpm)]
        start, end = speech_bounds(clip)
        lay.gap(float(rng.uniform(0.4, 1.5)))
        base = lay.length
        lay.add(clip[start:end], Span(kind, text, voice, wpm, base, base + end - start))  # type: ignore[arg-type]
        if lay.length > stream_s * RATE_HZ:
            flush()
    noises = [("white", 800.0), ("pink", 1500.0), ("brown", 3000.0), ("pink", 300.0)]
    i = 0
    while total + lay.length < min_negative_s * RATE_HZ:
        kind, rms = noises[i % len(noises)]
        seconds = float(rng.uniform(10, 30))
        base = lay.length
        if i % 5 == 4:
            lay.gap(seconds)
            lay.spans.append(Span("silence", "", "", 0, base, lay.length))
        else:
            lay.add(
                _noise(kind, seconds, rms, rng),
                Span("noise", kind, "", 0, base, base + round(seconds * RATE_HZ)),
            )
        i += 1
        if lay.length > stream_s * RATE_HZ:
            flush()
    if lay.length > RATE_HZ:
        flush()
    return streams


@dataclass(frozen=True, slots=True)
class PauseItem:
    """ "hey jarvis", a pause, a question: the parts' true bounds (16 kHz indices)."""

    voice: str
    speed_wpm: int
    pause_s: float | None  # None: the wake word alone
    wake_start: int
    wake_end: int  # the wake word's speech ends here (generated separately: exact)
    question_start: int | None
    question_end: int | None


@dataclass
class PauseStream:
    name: str
    pcm: np.ndarray
    items: list[PauseItem]


def build_pauseset(
    split: Literal["eval", "train"] = "eval",
    *,
    pauses: Sequence[float | None] = PAUSES_S,
    seed: int = 0,
    workers: int = 4,
    floor_rms: float = 30.0,
) -> list[PauseStream]:
    """One stream per voice x speed: "hey jarvis" followed by each pause and a question (the
    parts generated separately, trimmed to their speech and concatenated, so the wake word's end
    and the question's start are known to the sample), items 3-3.5 s apart over a noise floor."""
    rng = np.random.default_rng(seed)
    voices, questions = VOICES[split], QUESTIONS[split]
    texts = [(WAKE_TEXT, v, s) for v in voices for s in SPEEDS_WPM]
    texts += [(q, v, 160) for v in voices for q in questions]
    audio = _speak_all(texts, workers)

    def trimmed(key: tuple[str, str, int]) -> np.ndarray:
        start, end = speech_bounds(audio[key])
        return audio[key][start:end]

    streams = []
    for voice in voices:
        for wpm in SPEEDS_WPM:
            lay = _Layout(f"pause-{voice}@{wpm}")
            lay.gap(2.0)
            items = []
            for k, pause in enumerate(pauses):
                wake = trimmed((WAKE_TEXT, voice, wpm))
                start = lay.length
                lay.add(wake)
                q_start = q_end = None
                if pause is not None:
                    lay.gap(pause)
                    q_start = lay.length
                    lay.add(trimmed((questions[(k + wpm) % len(questions)], voice, 160)))
                    q_end = lay.length
                items.append(PauseItem(voice, wpm, pause, start, start + len(wake), q_start, q_end))
                lay.gap(float(rng.uniform(3.0, 3.5)))
            stream = lay.stream(floor_rms, rng)
            streams.append(PauseStream(stream.name, stream.pcm, items))
    return streams
