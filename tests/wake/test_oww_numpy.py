"""The detector runs a wake classifier in numpy when npgraph supports its graph, else in
onnxruntime; a broken file still raises the models error."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from edge_agent.config import WakeConfig
from edge_agent.wake.detector import WakeDetector
from edge_agent.wake.models import ModelPaths
from edge_agent.wake.oww import open_classifier
from tests.wake import onnx_encode as enc


def _tanh_model(tmp_path: Path) -> Path:
    nodes = [
        enc.node("Flatten", ["x"], ["f"]),
        enc.node("Tanh", ["f"], ["t"]),
        enc.node("ReduceMean", ["t"], ["y"], axes=[1]),
    ]
    graph = enc.Graph(nodes, [enc.value_info("x", [1, 16, 96])], [enc.value_info("y", [1, 1])])
    path = tmp_path / "m.onnx"
    path.write_bytes(enc.model(graph))
    return path


def test_unsupported_op_falls_back_to_onnxruntime(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="edge_agent.wake.oww"):
        run, n_frames, runner = open_classifier(_tanh_model(tmp_path))
    assert (runner, n_frames) == ("onnxruntime", 16)
    assert "m.onnx runs in onnxruntime: op Tanh" in caplog.text
    x = np.random.default_rng(0).standard_normal((1, 16, 96)).astype(np.float32)
    np.testing.assert_allclose(run(x), np.tanh(x).mean().reshape(1, 1), rtol=1e-5)


def test_shipped_model_runs_in_numpy(
    model_paths: ModelPaths, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="edge_agent.wake.oww"):
        detector = WakeDetector(WakeConfig(), model_paths)
    assert "hey_jarvis_v0.1.onnx runs in numpy" in caplog.text
    assert detector._scorer._models["hey_jarvis"].runner == "numpy"  # type: ignore[union-attr]
