"""The numpy logistic-regression verifier: it learns, it round-trips, the detector obeys it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.config import WakeConfig
from edge_agent.errors import WakeModelError
from edge_agent.sim.speech import concat
from edge_agent.wake.detector import WakeDetector
from edge_agent.wake.models import ModelPaths
from edge_agent.wake.verifier import Verifier, train_verifier
from tests.wake.conftest import RATE_HZ, say


def test_learns_a_separable_problem_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pos = rng.normal(1.0, 1.0, (200, 4, 96))
    neg = rng.normal(-1.0, 1.0, (400, 4, 96))
    verifier = train_verifier(pos, neg, l2=1.0)
    assert verifier.probability(pos).mean() > 0.95
    assert verifier.probability(neg).mean() < 0.05
    verifier.save(tmp_path / "v.npz")
    loaded = Verifier.load(tmp_path / "v.npz")
    np.testing.assert_allclose(loaded.probability(pos[:5]), verifier.probability(pos[:5]))
    assert (loaded.n_frames, loaded.model) == (4, "hey_jarvis")


def test_bad_verifier_file(tmp_path: Path) -> None:
    (tmp_path / "v.npz").write_bytes(b"nope")
    with pytest.raises(WakeModelError, match="verifier"):
        Verifier.load(tmp_path / "v.npz")


def test_detector_obeys_its_verifier(model_paths: ModelPaths, tmp_path: Path) -> None:
    """A verifier trained to reject this voice's windows stops it; one that accepts lets it by."""
    audio = concat(1.0, say("hey jarvis"), 2.0, rate_hz=RATE_HZ)
    recorder = WakeDetector(WakeConfig(), model_paths)
    windows, scores = [], []
    for start in range(0, len(audio) - 1279, 1280):
        recorder.process(audio[start : start + 1280])
        windows.append(recorder.embedding_window(16))
        scores.append(recorder.last_scores["hey_jarvis"])
    hot = np.array(windows)[np.array(scores) >= 0.5]
    cold = np.array(windows)[np.array(scores) < 0.01]
    rejecting = train_verifier(cold, hot, l2=1.0)
    accepting = train_verifier(hot, cold, l2=1.0)
    rejecting.save(tmp_path / "reject.npz")
    cfg = WakeConfig(verifier_model=str(tmp_path / "reject.npz"), verifier_threshold=0.5)
    assert WakeDetector(cfg, model_paths).process(audio) == []
    assert len(WakeDetector(cfg, model_paths, verifier=accepting).process(audio)) == 1
