"""espeak-ng speech for tests: right rate, cached, and the silence helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_agent.sim.speech import concat, resample, silence, speak


def test_speak_resamples_and_caches(tmp_path: Path) -> None:
    a16 = speak("hello there", rate_hz=16000, cache=tmp_path)
    a24 = speak("hello there", rate_hz=24000, cache=tmp_path)
    assert a16.dtype == np.int16 and a24.dtype == np.int16
    assert len(a24) / len(a16) == pytest.approx(1.5, rel=1e-3)
    assert 0.5 < len(a16) / 16000 < 3.0 and np.abs(a16).max() > 1000
    assert len(list(tmp_path.glob("*.npy"))) == 2
    np.testing.assert_array_equal(speak("hello there", rate_hz=16000, cache=tmp_path), a16)


def test_unknown_voice_fails(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        speak("hello", voice="xx-nope", cache=tmp_path)


def test_concat_and_silence() -> None:
    tone = np.full(100, 7, np.int16)
    out = concat(0.5, tone, 0.25, rate_hz=1000)
    assert len(out) == 500 + 100 + 250
    assert not out[:500].any() and (out[500:600] == 7).all()
    assert len(silence(1.5, 8000)) == 12000
    assert len(resample(np.zeros(22050, np.int16), 22050, 16000)) == 16000
