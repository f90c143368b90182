"""The wake word's end estimate: the pure rule on literal audio and VAD scores, then the real
detector on espeak-ng "hey jarvis" + pause + question (true ends known from the parts)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.config import WakeConfig
from edge_agent.sim.speech import concat
from edge_agent.sim.wakeset import speech_bounds
from edge_agent.wake.detector import Detection, WakeDetector
from edge_agent.wake.endpoint import (
    FRICATIVE_ENDS,
    VAD_CHUNK,
    Endpoint,
    EndpointRule,
    estimate_end,
)
from edge_agent.wake.models import ModelPaths
from tests.wake.conftest import RATE_HZ, say

MS = RATE_HZ // 1000


def _audio(*parts: tuple[int, int]) -> np.ndarray:
    """Literal audio: (milliseconds, amplitude) runs of a 1 kHz tone (0 = digital silence)."""
    t = np.arange(sum(ms for ms, _ in parts) * MS)
    amp = np.concatenate([np.full(ms * MS, a, np.float64) for ms, a in parts])
    return (amp * np.sin(2 * np.pi * 1000 * t / RATE_HZ)).astype(np.int16)


def _vad(*runs: tuple[int, float]) -> np.ndarray:
    """Literal VAD scores: (number of 40 ms chunks, score) runs."""
    return np.concatenate([np.full(n, p) for n, p in runs])


def test_speech_then_a_pause_ends_at_the_first_quiet_frame() -> None:
    # 1 s of speech, then 300 ms of silence up to the detection at 1.3 s; the audio starts at
    # absolute sample 5000.
    audio = _audio((1000, 8000), (300, 0))
    vad = _vad((25, 0.9), (7, 0.05))
    got = estimate_end(audio, 5000, 5000 + 1300 * MS, vad)
    assert got == Endpoint(5000 + 1000 * MS, "silence")


def test_a_question_begun_before_the_detection_is_not_the_wake_word() -> None:
    # wake word to 800 ms, 300 ms pause, question from 1100 ms; the detection comes at 1280 ms.
    audio = _audio((800, 8000), (300, 0), (180, 6000))
    vad = _vad((20, 0.9), (7, 0.05), (5, 0.9))
    got = estimate_end(audio, 0, 1280 * MS, vad)
    assert got == Endpoint(800 * MS, "silence")


def test_a_short_closure_inside_continuous_speech_is_not_a_pause() -> None:
    # one breath: the VAD dips where a 40 ms stop closure sits 100 ms before the detection;
    # a pause must stay quiet for pause_ms (or to the audio's end), so this falls back.
    audio = _audio((1140, 8000), (40, 0), (100, 8000))
    vad = _vad((28, 0.9), (1, 0.2), (3, 0.9))
    got = estimate_end(audio, 0, 1280 * MS, vad)
    assert got == Endpoint((1280 - 450) * MS, "fallback")


def test_a_word_that_ended_in_the_last_chunk_is_found() -> None:
    # a short latency: the speech stopped 60 ms before the detection; the VAD is dropping.
    audio = _audio((400, 0), (820, 8000), (60, 0))
    vad = _vad((10, 0.05), (21, 0.9), (1, 0.4))
    assert estimate_end(audio, 0, 1280 * MS, vad) == Endpoint(1220 * MS, "silence")


def test_the_dip_rule_when_on_picks_the_quietest_frame_minus_the_margin() -> None:
    audio = _audio((900, 8000), (20, 500), (360, 8000))
    vad = _vad((22, 0.9), (1, 0.4), (9, 0.9))
    rule = EndpointRule(dip=0.6)
    assert estimate_end(audio, 0, 1280 * MS, vad, rule) == Endpoint(890 * MS, "dip")
    assert estimate_end(audio, 0, 1280 * MS, vad).method == "fallback"  # off by default


def test_a_floor_as_loud_as_speech_gives_no_pause() -> None:
    # no chunk the VAD calls non-speech: the floor cannot be measured, so no pause is trusted.
    audio = _audio((1000, 8000), (280, 7000))
    vad = _vad((25, 0.9), (7, 0.3))
    assert estimate_end(audio, 0, 1280 * MS, vad).method == "fallback"


def test_without_vad_scores_or_audio_it_falls_back() -> None:
    audio = _audio((1280, 8000))
    assert estimate_end(audio, 0, 1280 * MS, np.zeros(0)) == Endpoint(830 * MS, "fallback")
    assert estimate_end(audio[:0], 100, 100, np.zeros(0)) == Endpoint(100, "fallback")


def _sounds(*parts: tuple[int, int, int]) -> np.ndarray:
    """Literal audio: (milliseconds, amplitude, hz) runs of tones; a 6 kHz tone is a hiss (all
    its energy above 3.5 kHz), a 1 kHz tone a voice (runs are whole 10 ms frames)."""
    out = []
    for ms, amp, hz in parts:
        t = np.arange(ms * MS)
        out.append(amp * np.sin(2 * np.pi * hz * t / RATE_HZ))
    return np.concatenate(out).astype(np.int16)


VOICE, HISS = 1000, 6000
# one breath: 320 ms of silence (VAD 0.05), then speech to the detection at 1280 ms (VAD 0.9)
ONE_BREATH_VAD = _vad((8, 0.05), (24, 0.9))


def test_one_breath_ends_at_the_fricatives_onset_plus_the_cap() -> None:
    # "hey jarvi" to 920 ms, its /s/ 920-1020 ms, the question from 1020 ms
    audio = _sounds((320, 0, 0), (600, 8000, VOICE), (100, 3000, HISS), (260, 8000, VOICE))
    got = estimate_end(audio, 0, 1280 * MS, ONE_BREATH_VAD, ends_in_fricative=True)
    assert got == Endpoint((920 + 60) * MS, "fricative")


def test_a_fricative_shorter_than_the_cap_ends_where_it_ends() -> None:
    audio = _sounds((320, 0, 0), (650, 8000, VOICE), (50, 3000, HISS), (260, 8000, VOICE))
    got = estimate_end(audio, 0, 1280 * MS, ONE_BREATH_VAD, ends_in_fricative=True)
    assert got == Endpoint(1020 * MS, "fricative")


def test_a_question_that_starts_with_a_hiss_is_not_cut() -> None:
    # "...jarvis set a timer": the /s/ (920-1020 ms) runs on into the question's /s/ (to 1100
    # ms): one 180 ms run; the cap keeps the estimate inside the wake word's part of it.
    audio = _sounds((320, 0, 0), (600, 8000, VOICE), (180, 3000, HISS), (180, 8000, VOICE))
    got = estimate_end(audio, 0, 1280 * MS, ONE_BREATH_VAD, ends_in_fricative=True)
    assert got == Endpoint(980 * MS, "fricative")
    assert got.end_16k <= 1020 * MS


def test_the_first_fricative_is_the_wake_words_not_the_questions() -> None:
    # the question ("what's...") has its own /s/ at 1150-1230 ms, before the detection
    audio = _sounds(
        (320, 0, 0), (600, 8000, VOICE), (100, 3000, HISS), (130, 8000, VOICE),
        (80, 3000, HISS), (50, 8000, VOICE),
    )  # fmt: skip
    got = estimate_end(audio, 0, 1280 * MS, ONE_BREATH_VAD, ends_in_fricative=True)
    assert got == Endpoint(980 * MS, "fricative")


def test_a_fricative_begun_before_the_search_window_keeps_its_onset() -> None:
    # a late detection: the /s/ began at 600 ms, 680 ms before it (the window is 640 ms)
    audio = _sounds((320, 0, 0), (280, 8000, VOICE), (100, 3000, HISS), (580, 8000, VOICE))
    got = estimate_end(audio, 0, 1280 * MS, ONE_BREATH_VAD, ends_in_fricative=True)
    assert got == Endpoint(660 * MS, "fricative")


def test_a_faint_or_brief_hiss_is_not_the_fricative() -> None:
    faint = _sounds((320, 0, 0), (600, 8000, VOICE), (100, 100, HISS), (260, 8000, VOICE))
    brief = _sounds((320, 0, 0), (600, 8000, VOICE), (30, 3000, HISS), (330, 8000, VOICE))
    for audio in (faint, brief):
        got = estimate_end(audio, 0, 1280 * MS, ONE_BREATH_VAD, ends_in_fricative=True)
        assert got == Endpoint((1280 - 450) * MS, "fallback")


def test_the_fricative_rule_is_only_for_words_that_end_in_one() -> None:
    audio = _sounds((320, 0, 0), (600, 8000, VOICE), (100, 3000, HISS), (260, 8000, VOICE))
    got = estimate_end(audio, 0, 1280 * MS, ONE_BREATH_VAD)  # e.g. "alexa", "okay nabu"
    assert got == Endpoint((1280 - 450) * MS, "fallback")
    assert "hey_jarvis" in FRICATIVE_ENDS
    assert FRICATIVE_ENDS.isdisjoint({"alexa", "okay_nabu", "hey_rhasspy"})


def test_a_pause_wins_over_the_fricative() -> None:
    # the /s/ ends at 1020 ms, then 260 ms of silence to the detection: the silence rule
    audio = _sounds((320, 0, 0), (600, 8000, VOICE), (100, 3000, HISS), (260, 0, 0))
    vad = _vad((8, 0.05), (18, 0.9), (6, 0.05))
    got = estimate_end(audio, 0, 1280 * MS, vad, ends_in_fricative=True)
    assert got == Endpoint(1020 * MS, "silence")


def test_a_closure_in_the_question_at_the_detection_is_not_the_pause() -> None:
    # one breath, "...jarvis swi|tch": the /s/ 920-1020 ms, the question's voice to 1200 ms,
    # then an 80 ms stop closure up to the detection. A pause cut short by the detection that
    # follows voice, not hiss, is not the pause after "jarvis": its /s/ gives the end.
    audio = _sounds(
        (320, 0, 0), (600, 8000, VOICE), (100, 3000, HISS), (180, 8000, VOICE), (80, 0, 0)
    )
    vad = _vad((8, 0.05), (23, 0.9), (1, 0.4))
    got = estimate_end(audio, 0, 1280 * MS, vad, ends_in_fricative=True)
    assert got == Endpoint(980 * MS, "fricative")
    assert estimate_end(audio, 0, 1280 * MS, vad) == Endpoint(1200 * MS, "silence")  # alexa


def test_a_short_pause_right_after_the_fricative_is_the_pause() -> None:
    # a short latency: the /s/ ends at 1200 ms, 80 ms of silence to the detection
    audio = _sounds((320, 0, 0), (780, 8000, VOICE), (100, 3000, HISS), (80, 0, 0))
    vad = _vad((8, 0.05), (23, 0.9), (1, 0.4))
    got = estimate_end(audio, 0, 1280 * MS, vad, ends_in_fricative=True)
    assert got == Endpoint(1200 * MS, "silence")


def test_vad_chunk_is_silero_40_ms() -> None:
    assert VAD_CHUNK == 40 * MS


def _run(detector: WakeDetector, pcm: np.ndarray) -> list[Detection]:
    out: list[Detection] = []
    for start in range(0, len(pcm), 1280):
        out.extend(detector.process(pcm[start : start + 1280]))
    return out


def _trim(pcm: np.ndarray) -> np.ndarray:
    start, end = speech_bounds(pcm)
    return pcm[start:end]


@pytest.mark.parametrize("pause_s", [0.3, 0.8, 1.5])
@pytest.mark.parametrize(("voice", "wpm"), [("en-us", 130), ("en-gb", 160), ("en-us+m3", 150)])
def test_after_a_pause_the_stream_holds_little_wake_word_and_all_the_question(
    detector: WakeDetector, pause_s: float, voice: str, wpm: int
) -> None:
    wake, question = _trim(say("hey jarvis", voice, wpm)), _trim(say("what time is it", voice))
    lead = RATE_HZ
    noise = np.random.default_rng(0).standard_normal(lead + len(wake) + 5 * RATE_HZ) * 30
    pcm = concat(1.0, wake, pause_s, question, 2.0, rate_hz=RATE_HZ)
    pcm = np.clip(pcm + noise[: len(pcm)].astype(np.int16), -32768, 32767).astype(np.int16)
    wake_end = lead + len(wake)
    question_start = wake_end + round(pause_s * RATE_HZ)
    [hit] = _run(detector, pcm)
    assert hit.end_method == "silence"
    assert wake_end - 100 * MS <= hit.end_sample_16k <= question_start
    assert hit.end_sample_16k <= hit.sample_16k


def test_a_detection_within_50_ms_of_the_end_finds_the_fricative(detector: WakeDetector) -> None:
    # en-us at 150 wpm is detected ~45 ms after the word: too little quiet to tell it from a
    # closure, so no pause; "jarvis"'s /s/ gives the end — early, never into the question.
    wake, question = _trim(say("hey jarvis")), _trim(say("what time is it"))
    pcm = concat(1.0, wake, 0.3, question, 2.0, rate_hz=RATE_HZ)
    wake_end = RATE_HZ + len(wake)
    [hit] = _run(detector, pcm)
    assert hit.sample_16k - wake_end < 80 * MS
    assert hit.end_method == "fricative"
    assert wake_end - 100 * MS <= hit.end_sample_16k <= wake_end


@pytest.mark.parametrize(
    "question",
    ["what's the weather in toronto", "set a timer for ten minutes", "turn on the light"],
)
def test_one_breath_streams_little_wake_word_and_never_cuts_the_question(
    detector: WakeDetector, question: str
) -> None:
    # the question right after "jarvis": a voiced start, a hiss that merges with the /s/, a burst
    wake, asked = _trim(say("hey jarvis")), _trim(say(question))
    pcm = concat(1.0, wake, asked, 2.0, rate_hz=RATE_HZ)
    wake_end = RATE_HZ + len(wake)  # the question starts there
    [hit] = _run(detector, pcm)
    assert hit.end_method == "fricative"
    assert wake_end - 100 * MS <= hit.end_sample_16k <= wake_end


def test_without_the_vad_model_the_estimate_falls_back(model_paths: ModelPaths) -> None:
    paths = ModelPaths(model_paths.melspectrogram, model_paths.embedding, model_paths.wake)
    det = WakeDetector(WakeConfig(vad_threshold=0.0), paths)
    [hit] = _run(det, concat(1.0, say("hey jarvis"), 2.0, rate_hz=RATE_HZ))
    assert (hit.end_method, hit.sample_16k - hit.end_sample_16k) == ("fallback", 450 * MS)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 257])
def test_the_median_is_numpys(n: int) -> None:
    from edge_agent.wake.endpoint import _median

    values = np.random.default_rng(n).random(n)
    assert _median(values) == float(np.median(values))


def test_the_spectrum_is_numpys_rfft() -> None:
    from edge_agent.wake.endpoint import _spectrum

    frames = np.random.default_rng(1).standard_normal((12, 160)) * 3000
    want = np.abs(np.fft.rfft(frames * np.hanning(160), axis=1)) ** 2
    np.testing.assert_allclose(_spectrum(frames), want[:, 1:], rtol=1e-9, atol=1e-6)
