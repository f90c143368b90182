"""The openWakeWord engine: mel spectrogram → speech embedding → one classifier per wake word,
scored once per 80 ms step.

A classifier runs in numpy (`edge_agent.wake.npgraph`: the shipped ones, no onnxruntime
session and its memory) when its graph uses only what that evaluator supports, else in an
onnxruntime session (a custom model by path with other ops); which one is logged at debug.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

import numpy as np

from edge_agent.wake.features import FeatureStream, open_session
from edge_agent.wake.npgraph import UnsupportedModel, load_graph
from edge_agent.wake.onnxwire import OnnxFormatError

__all__ = ["WARMUP_STEPS", "OwwScorer", "open_classifier"]

log = logging.getLogger(__name__)

WARMUP_STEPS: Final = 5  # openWakeWord zeroes the first 5 scores after a (re)start


def _onnxruntime(path: Path) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    session = open_session(path)  # WakeModelError (with the fix) for a missing/corrupt file
    inp = session.get_inputs()[0]
    name = inp.name

    def run(window: np.ndarray) -> np.ndarray:
        out: np.ndarray = session.run(None, {name: window})[0]
        return out

    return run, int(inp.shape[1])


def open_classifier(
    path: Path, *, numpy: bool = True
) -> tuple[Callable[[np.ndarray], np.ndarray], int, str]:
    """(run, n_frames, runner): `run` maps a (1, n_frames, 96) float32 window to the score
    array; `runner` is "numpy" or "onnxruntime".

    The numpy evaluator is tried first (`numpy=False` skips it: benchmarks); a file it cannot
    read or a graph it declines goes to onnxruntime, so a missing or corrupt file raises the
    same WakeModelError as before and a custom model with other ops still runs.
    """
    if numpy:
        try:
            graph = load_graph(path)
        except (OSError, OnnxFormatError, UnsupportedModel) as exc:
            log.debug("wake model %s runs in onnxruntime: %s", path.name, exc)
        else:
            log.debug("wake model %s runs in numpy", path.name)
            return graph.run, graph.input_shape[1], "numpy"
    run, n_frames = _onnxruntime(path)
    return run, n_frames, "onnxruntime"


class _Classifier:
    def __init__(self, path: Path) -> None:
        self.run, self.n_frames, self.runner = open_classifier(path)

    def score(self, features: FeatureStream) -> float:
        out = self.run(features.window(self.n_frames))
        return float(np.asarray(out).reshape(-1)[0])


class OwwScorer:
    """Scores 1280-sample steps for each configured openWakeWord model."""

    def __init__(self, melspectrogram: Path, embedding: Path, wake: Mapping[str, Path]) -> None:
        self.features = FeatureStream(melspectrogram, embedding)
        self._models = {name: _Classifier(path) for name, path in wake.items()}
        self._steps = 0

    @property
    def names(self) -> list[str]:
        return list(self._models)

    def reset(self) -> None:
        self.features.reset()
        self._steps = 0

    def step(self, pcm: np.ndarray) -> dict[str, float]:
        self.features.step(pcm)
        self._steps += 1
        if self._steps <= WARMUP_STEPS:
            return dict.fromkeys(self._models, 0.0)
        return {name: model.score(self.features) for name, model in self._models.items()}
