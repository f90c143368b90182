"""The numpy mel spectrogram against melspectrogram.onnx itself (the file it replaces at run time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edge_agent.wake.features import MEL_CONTEXT_SAMPLES, STEP_SAMPLES, FeatureStream, open_session
from edge_agent.wake.melspec import MelSpectrogram
from edge_agent.wake.models import ModelPaths
from tests.imports import loaded_after
from tests.wake.conftest import RATE_HZ, say

# After FeatureStream's x / 10 + 2. The numpy STFT runs in float64 (1.4e-6 from the graph's
# constants in float64), so these bound onnxruntime's own float32 error, measured on x86-64:
# <= 6e-5 on speech (the quiet bands near the -80 dB floor), <= 4e-6 on noise, tones and
# silence, 6.2e-4 on a chirp above 3.8 kHz (the quiet bands of a frame whose energy is out of
# band: cancellation in the float32 Conv).
ATOL = 1e-4
ATOL_ABOVE_BAND = 1e-3
WINDOW = STEP_SAMPLES + MEL_CONTEXT_SAMPLES  # what FeatureStream feeds per step

Mel = Callable[[np.ndarray], np.ndarray]


@pytest.fixture(scope="module")
def onnx_mel(model_paths: ModelPaths) -> Mel:
    assert model_paths.melspectrogram is not None
    session = open_session(model_paths.melspectrogram)

    def run(pcm: np.ndarray) -> np.ndarray:
        out = session.run(None, {"input": pcm.astype(np.float32)[None, :]})[0]
        spec: np.ndarray = out.reshape(-1, 32) / 10 + 2
        return spec

    return run


@pytest.fixture(scope="module")
def numpy_mel() -> Mel:
    mel = MelSpectrogram()
    return lambda pcm: mel(pcm) / 10 + 2


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(RATE_HZ) / RATE_HZ
    chirp = 8000 * np.sin(2 * np.pi * (30 * t + 3000 * t**2))  # 30 Hz .. 6 kHz in 1 s
    tone = np.r_[10000 * np.sin(2 * np.pi * 440 * t[:800]), np.zeros(960)]
    impulse = np.zeros(WINDOW)
    impulse[700] = 32767
    return {
        "silence": np.zeros(WINDOW, np.int16),
        "dither": rng.integers(-1, 2, WINDOW).astype(np.int16),
        "white 30": _int16(rng.standard_normal(RATE_HZ) * 30),
        "white 3000": _int16(rng.standard_normal(RATE_HZ) * 3000),
        "clipped noise": _int16(rng.standard_normal(RATE_HZ) * 30000),
        "chirp to 6 kHz": _int16(chirp),
        "tone then silence (-80 dB floor)": _int16(tone),
        "impulse": _int16(impulse),
        "speech": say("hey jarvis"),
        "speech en-gb": say("what's the weather in toronto", "en-gb"),
    }


def _steps(pcm: np.ndarray) -> list[np.ndarray]:
    """The windows FeatureStream feeds: the last 1280 + 480 samples of each step."""
    audio = np.r_[np.zeros(MEL_CONTEXT_SAMPLES, np.int16), pcm]
    return [audio[s : s + WINDOW] for s in range(0, len(audio) - WINDOW + 1, STEP_SAMPLES)]


@pytest.mark.parametrize("name", list(_inputs()))
def test_each_step_equals_the_onnx_model(onnx_mel: Mel, numpy_mel: Mel, name: str) -> None:
    windows = _steps(_inputs()[name])
    atol = ATOL_ABOVE_BAND if name.startswith("chirp") else ATOL
    assert windows
    for window in windows:
        want, got = onnx_mel(window), numpy_mel(window)
        assert got.shape == want.shape == (8, 32)
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def test_a_long_call_equals_the_onnx_model(onnx_mel: Mel, numpy_mel: Mel) -> None:
    """FeatureStream's priming: 4 s in one call (one -80 dB floor for all 397 frames)."""
    speech = say("hey jarvis").astype(np.int32)
    noise = np.random.default_rng(0).integers(-1000, 1000, 4 * RATE_HZ)
    noise[RATE_HZ : RATE_HZ + len(speech)] += speech
    pcm = _int16(noise)
    want, got = onnx_mel(pcm), numpy_mel(pcm)
    assert got.shape == want.shape == (397, 32)
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


def test_the_floor_is_the_calls_maximum_less_80_db(onnx_mel: Mel, numpy_mel: Mel) -> None:
    """The graph clips at max - 80 dB over the whole call (8 after / 10), not per frame."""
    pcm = _inputs()["tone then silence (-80 dB floor)"]
    want, got = onnx_mel(pcm), numpy_mel(pcm)
    assert want.min() == pytest.approx(want.max() - 8, abs=1e-5)  # silence sits on the floor
    assert got.min() == pytest.approx(got.max() - 8, abs=1e-5)
    silent = numpy_mel(np.zeros(WINDOW, np.int16))
    np.testing.assert_allclose(silent, -8.0, atol=1e-5)  # 10 * log10(1e-10) / 10 + 2


@pytest.mark.parametrize("n", [512, 671, 672, 831, 1760, 1761, 4000])
def test_frame_count_follows_the_unpadded_conv(onnx_mel: Mel, numpy_mel: Mel, n: int) -> None:
    pcm = _int16(np.random.default_rng(n).standard_normal(n) * 2000)
    want = onnx_mel(pcm)
    assert want.shape == ((n - 512) // 160 + 1, 32)
    np.testing.assert_allclose(numpy_mel(pcm), want, rtol=0, atol=ATOL)


def test_too_short_input_is_refused() -> None:
    with pytest.raises(ValueError, match="512"):
        MelSpectrogram()(np.zeros(511, np.int16))


def test_feature_stream_opens_no_mel_session(model_paths: ModelPaths) -> None:
    """The melspectrogram path is accepted (the signature is kept) but the file is not read."""
    assert model_paths.embedding is not None
    features = FeatureStream(Path("/nonexistent/melspectrogram.onnx"), model_paths.embedding)
    assert features.step(np.zeros(STEP_SAMPLES, np.int16)).shape == (96,)


def test_the_mel_spectrogram_does_not_import_numpy_fft() -> None:
    """numpy.fft costs ~0.9 MB of RSS for good; the daemon never imports it."""
    code = (
        "import numpy as np\n"
        "from edge_agent.wake.melspec import MelSpectrogram\n"
        "MelSpectrogram()(np.zeros(1760, np.int16))\n"
    )
    assert loaded_after(code, ["numpy.fft"]) == []
