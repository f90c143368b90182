"""The wake word's end estimate: the pure rule on literal audio and VAD scores, then the real
detector on espeak-ng "hey jarvis" + pause + question (true ends known from the parts)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.config import WakeConfig
from edge_agent.sim.speech import concat
from edge_agent.sim.wakeset import speech_bounds
from edge_agent.wake.detector import Detection, WakeDetector
from edge_agent.wake.endpoint import VAD_CHUNK, Endpoint, EndpointRule, estimate_end
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


def test_a_detection_within_50_ms_of_the_end_falls_back_early(detector: WakeDetector) -> None:
    # en-us at 150 wpm is detected ~45 ms after the word: too little quiet to tell it from a
    # closure, so the estimate falls back — early (wake word streamed), never into the question.
    wake, question = _trim(say("hey jarvis")), _trim(say("what time is it"))
    pcm = concat(1.0, wake, 0.3, question, 2.0, rate_hz=RATE_HZ)
    [hit] = _run(detector, pcm)
    assert hit.sample_16k - (RATE_HZ + len(wake)) < 80 * MS
    assert (hit.end_method, hit.sample_16k - hit.end_sample_16k) == ("fallback", 450 * MS)


def test_one_breath_never_cuts_into_the_question(detector: WakeDetector) -> None:
    wake, question = _trim(say("hey jarvis")), _trim(say("what's the weather in toronto"))
    pcm = concat(1.0, wake, question, 2.0, rate_hz=RATE_HZ)
    [hit] = _run(detector, pcm)
    assert hit.end_sample_16k <= RATE_HZ + len(wake)  # the question starts there
    assert hit.end_sample_16k >= RATE_HZ  # ...and never before the wake word itself


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
