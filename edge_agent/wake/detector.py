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
from pathlib import Path
from typing import Final

import numpy as np

from edge_agent.config import WakeConfig
from edge_agent.wake.decision import DecisionRule, WakeDecision
from edge_agent.wake.features import STEP_SAMPLES, FeatureStream, VadStream, open_session
from edge_agent.wake.models import ModelPaths
from edge_agent.wake.verifier import Verifier

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
    """One wake-word ONNX model, its decision state and optional verifier."""

    def __init__(self, name: str, path: Path, rule: DecisionRule) -> None:
        self.name = name
        self.session = open_session(path)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.n_frames = int(inp.shape[1])
        self.decision = WakeDecision(rule)
        self.verifier: Verifier | None = None

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
        verifier: Verifier | None = None,
    ) -> None:
        """Load the configured models (only those) from explicit paths.

        Args:
            cfg: the [wake] config: threshold, patience_frames, refractory_s, vad_threshold.
            model_paths: from `resolve_models`; `vad` must be set when vad_threshold > 0.
            thresholds: per-model thresholds overriding cfg.threshold, by model name.
            verifier: overrides cfg.verifier_model (a loaded verifier).

        Raises:
            WakeModelError: a model or the verifier cannot be loaded.
        """
        self.cfg = cfg
        self._features = FeatureStream(model_paths.melspectrogram, model_paths.embedding)
        per_model = dict(thresholds or {})
        refractory_16k = round(cfg.refractory_s * SAMPLE_RATE_HZ)
        self._models = [
            _WakeModel(
                name,
                path,
                DecisionRule(
                    threshold=per_model.get(name, cfg.threshold),
                    patience_frames=cfg.patience_frames,
                    refractory_16k=refractory_16k,
                    vad_threshold=cfg.vad_threshold,
                    verifier_threshold=cfg.verifier_threshold,
                ),
            )
            for name, path in model_paths.wake.items()
        ]
        if verifier is None and cfg.verifier_model:
            verifier = Verifier.load(Path(cfg.verifier_model).expanduser())
        for model in self._models:
            if verifier is not None and verifier.model == model.name:
                model.verifier = verifier
        self._vad: VadStream | None = None
        if cfg.vad_threshold > 0:
            if model_paths.vad is None:
                raise ValueError("vad_threshold > 0 needs model_paths.vad (silero_vad)")
            self._vad = VadStream(model_paths.vad)
        self._pending = np.zeros(0, np.int16)
        self.samples_in = 0  # every input sample since construction
        self.samples_stepped = 0  # samples consumed by whole steps
        self._steps_since_reset = 0
        self.last_scores: dict[str, float] = {m.name: 0.0 for m in self._models}
        self.last_vad = 0.0  # Silero VAD score of the last step (0 when gating is off)

    @property
    def last_embedding(self) -> np.ndarray:
        """The speech embedding (96,) of the last step, for benchmarks and verifier training."""
        newest: np.ndarray = self._features.embeddings[-1]
        return newest

    def embedding_window(self, n_frames: int = 16) -> np.ndarray:
        """The last n_frames embeddings (n_frames, 96): what a verifier sees at this step."""
        window: np.ndarray = self._features.window(n_frames)[0]
        return window

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
            model.decision.reset()
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
        vad_recent = None
        if self._vad is not None:
            self.last_vad = self._vad.step(step)
            vad_recent = max(self._vad.scores[_VAD_LOOKBACK], default=0.0)
        self.samples_stepped += STEP_SAMPLES
        self._steps_since_reset += 1
        warming = self._steps_since_reset <= WARMUP_STEPS
        detections = []
        for model in self._models:
            score = 0.0 if warming else model.score(self._features)
            self.last_scores[model.name] = score
            verified = None
            if model.verifier is not None and score >= model.decision.rule.threshold:
                window = self._features.window(model.verifier.n_frames)
                verified = float(model.verifier.probability(window)[0])
            if model.decision.update(
                score, self.samples_stepped, vad_recent=vad_recent, verifier_score=verified
            ):
                log.info(
                    "wake word %s (score %.3f)", model.name, score, extra={"MODEL": model.name}
                )
                detections.append(Detection(model.name, score, self.samples_stepped))
        return detections
