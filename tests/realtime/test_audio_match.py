"""locate(): where a PCM excerpt sits in a reference recording, and how well it matches."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.sim.audio_match import Match, locate

RNG = np.random.default_rng(1234)
REF = (RNG.standard_normal(24_000 * 3) * 3000).astype("<i2")  # 3 s of noise "speech"


def test_an_exact_slice_is_found_sample_exact():
    excerpt = REF[31_337 : 31_337 + 4800]
    assert locate(excerpt.tobytes(), REF.tobytes()) == Match(31_337, pytest.approx(1.0), 4800)


def test_a_quieter_copy_matches_at_the_same_offset():
    excerpt = (REF[50_000:60_000] * 0.25).astype("<i2")
    m = locate(excerpt, REF)
    assert m.offset == 50_000 and m.quality > 0.999


def test_a_noisy_copy_matches_with_lower_quality():
    clean = REF[10_000:22_000].astype(np.float64)
    noisy = (clean + RNG.standard_normal(len(clean)) * 3000).astype("<i2")  # 0 dB SNR
    m = locate(noisy, REF)
    assert m.offset == 10_000 and 0.6 < m.quality < 0.8  # ~1/sqrt(2)


def test_unrelated_audio_has_low_quality():
    other = (RNG.standard_normal(4800) * 3000).astype("<i2")
    assert locate(other, REF).quality < 0.1


def test_silence_matches_nowhere():
    ref = np.concatenate([np.zeros(1000, "<i2"), REF[:2000], np.zeros(1000, "<i2")])
    assert locate(np.zeros(500, "<i2"), ref).quality == 0.0
    m = locate(REF[:2000], ref)  # the silent windows around it do not divide by zero
    assert (m.offset, m.end) == (1000, 3000) and m.quality == pytest.approx(1.0)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="cannot be located"):
        locate(b"", REF.tobytes())
    with pytest.raises(ValueError, match="cannot be located"):
        locate(REF.tobytes(), REF[:100].tobytes())
