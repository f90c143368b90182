"""The openWakeWord engine: mel spectrogram → speech embedding → one classifier per wake word,
each an ONNX model run with onnxruntime, scored once per 80 ms step."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np

from edge_agent.wake.features import FeatureStream, open_session

__all__ = ["WARMUP_STEPS", "OwwScorer"]

WARMUP_STEPS: Final = 5  # openWakeWord zeroes the first 5 scores after a (re)start


class _Classifier:
    def __init__(self, path: Path) -> None:
        self.session = open_session(path)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.n_frames = int(inp.shape[1])

    def score(self, features: FeatureStream) -> float:
        out = self.session.run(None, {self.input_name: features.window(self.n_frames)})[0]
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
