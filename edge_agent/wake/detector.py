"""The wake-word detector: 16 kHz int16 audio in, `Detection`s out.

It is pure apart from onnxruntime: no audio devices, no clocks, no asyncio. Time is counted in
input samples. Audio of any length is buffered into openWakeWord's 80 ms (1280-sample) steps;
each step yields one score per model, and a model fires when its score stays at or above its
threshold for `patience_frames` consecutive steps (once per run of such steps), outside the
refractory period after its last detection, and — if VAD gating is on — when Silero VAD heard
speech shortly before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from edge_agent.config import WakeConfig
from edge_agent.wake.features import STEP_SAMPLES, FeatureStream, VadStream, open_session
from edge_agent.wake.models import ModelPaths

__all__ = ["SAMPLE_RATE_HZ", "WARMUP_STEPS", "Detection", "WakeDetector"]

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ: Final = 16000
WARMUP_STEPS: Final = 5  # openWakeWord zeroes the first 5 scores after a (re)start
# openWakeWord's VAD gate looks at the steps 4..6 back: the speech of the wake word itself.
_VAD_LOOKBACK: Final = slice(-7, -4)


@dataclass(frozen=True, slots=True)
class Detection:
    """A wake word was heard.

    `sample_16k` is the absolute 16 kHz input sample index (counted since the detector was
    built) at the end of the 80 ms step that fired; the wake word ended shortly before it.
    """

    model: str
    score: float
    sample_16k: int


class _WakeModel:
    """One wake-word ONNX model and its per-model decision state."""

    def __init__(self, name: str, path: object, threshold: float) -> None:
        self.name = name
        self.session = open_session(path)  # type: ignore[arg-type]
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.n_frames = int(inp.shape[1])
        self.threshold = threshold
        self.run_steps = 0  # consecutive steps at or above the threshold
        self.last_fire_16k: int | None = None

    def score(self, features: FeatureStream) -> float:
        out = self.session.run(None, {self.input_name: features.window(self.n_frames)})[0]
        return float(np.asarray(out).reshape(-1)[0])


class WakeDetector:
    """Streaming openWakeWord detector with threshold, patience, refractory and VAD gate."""

    def __init__(
        self,
        cfg: WakeConfig,
        model_paths: ModelPaths,
        *,
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        """Load the configured models (only those) from explicit paths.

        Args:
            cfg: the [wake] config: threshold, patience_frames, refractory_s, vad_threshold.
            model_paths: from `resolve_models`; `vad` must be set when vad_threshold > 0.
            thresholds: per-model thresholds overriding cfg.threshold, by model name.
        """
        self.cfg = cfg
        self._features = FeatureStream(model_paths.melspectrogram, model_paths.embedding)
        per_model = dict(thresholds or {})
        self._models = [
            _WakeModel(name, path, per_model.get(name, cfg.threshold))
            for name, path in model_paths.wake.items()
        ]
        self._vad: VadStream | None = None
        if cfg.vad_threshold > 0:
            if model_paths.vad is None:
                raise ValueError("vad_threshold > 0 needs model_paths.vad (silero_vad)")
            self._vad = VadStream(model_paths.vad)
        self._pending = np.zeros(0, np.int16)
        self._refractory_samples = round(cfg.refractory_s * SAMPLE_RATE_HZ)
        self.samples_in = 0  # every input sample since construction
        self.samples_stepped = 0  # samples consumed by whole steps
        self._steps_since_reset = 0
        self.last_scores: dict[str, float] = {m.name: 0.0 for m in self._models}

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self._models]

    def reset(self) -> None:
        """Clear the audio state after a turn; the sample counter keeps counting."""
        self._features.reset()
        if self._vad is not None:
            self._vad.reset()
        self._steps_since_reset = 0
        for model in self._models:
            model.run_steps = 0
        self.last_scores = dict.fromkeys(self.last_scores, 0.0)

    def process(self, pcm16k: np.ndarray) -> list[Detection]:
        """Feed 16 kHz mono int16 audio of any length; returns the detections it caused."""
        pcm = np.asarray(pcm16k, dtype=np.int16).reshape(-1)
        self.samples_in += len(pcm)
        buffered = np.concatenate((self._pending, pcm)) if len(self._pending) else pcm
        n_steps = len(buffered) // STEP_SAMPLES
        detections: list[Detection] = []
        for i in range(n_steps):
            detections.extend(self._step(buffered[i * STEP_SAMPLES : (i + 1) * STEP_SAMPLES]))
        self._pending = buffered[n_steps * STEP_SAMPLES :].copy()
        return detections

    def scores(self, pcm16k: np.ndarray) -> list[dict[str, float]]:
        """Feed audio and return the raw per-step scores instead of decisions (for tuning)."""
        out: list[dict[str, float]] = []
        pcm = np.asarray(pcm16k, dtype=np.int16).reshape(-1)
        for i in range(len(pcm) // STEP_SAMPLES):
            self._step(pcm[i * STEP_SAMPLES : (i + 1) * STEP_SAMPLES])
            out.append(dict(self.last_scores))
        return out

    def _step(self, step: np.ndarray) -> list[Detection]:
        self._features.step(step)
        if self._vad is not None:
            self._vad.step(step)
        self.samples_stepped += STEP_SAMPLES
        self._steps_since_reset += 1
        warming = self._steps_since_reset <= WARMUP_STEPS
        detections = []
        for model in self._models:
            score = 0.0 if warming else model.score(self._features)
            self.last_scores[model.name] = score
            if self._decide(model, score):
                detections.append(Detection(model.name, score, self.samples_stepped))
        return detections

    def _decide(self, model: _WakeModel, score: float) -> bool:
        """Fire once per run of `patience_frames` steps at or above the threshold."""
        model.run_steps = model.run_steps + 1 if score >= model.threshold else 0
        if model.run_steps != self.cfg.patience_frames:
            return False
        now = self.samples_stepped
        if model.last_fire_16k is not None and now - model.last_fire_16k < self._refractory_samples:
            return False
        if self._vad is not None:
            recent = self._vad.scores[_VAD_LOOKBACK]
            if not recent or max(recent) < self.cfg.vad_threshold:
                return False
        model.last_fire_16k = now
        log.info("wake word %s (score %.3f)", model.name, score, extra={"MODEL": model.name})
        return True
