"""The wake-word detector: 16 kHz int16 audio in, `Detection`s out, whichever the engine.

It is pure apart from the engines' inference: no audio devices, no clocks, no asyncio. Time is
counted in input samples. The engine (`wake.engine`: openWakeWord in `oww`, microWakeWord in
`micro`) only turns each 80 ms step into one score per model; thresholds, patience, refractory
period, VAD gate, end estimate and `wake-test` are shared. Engines and VADs are imported only
when chosen, so a microWakeWord daemon never loads onnxruntime. Audio of any length is buffered into openWakeWord's 80 ms (1280-sample) steps;
each step yields one score per model, and a model fires when its score stays at or above its
threshold for `patience_frames` consecutive steps (once per run of such steps), outside the
refractory period after its last detection, and — if VAD gating is on — when Silero VAD heard
speech shortly before. The VAD only runs when it can change a decision: the detector keeps the
last ~2.5 s of steps and scores them with Silero VAD (from a fresh state) only on a step that
would otherwise fire, instead of running a second model on every step as openWakeWord does.
On a detection the same kept audio and VAD scores give the wake word's estimated end
(`edge_agent.wake.endpoint`): where a turn's audio should start.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from edge_agent.config import WakeConfig
from edge_agent.errors import WakeModelError
from edge_agent.wake.decision import DecisionRule, WakeDecision
from edge_agent.wake.endpoint import FRICATIVE_ENDS, Endpoint, EndpointRule, estimate_end
from edge_agent.wake.models import ModelPaths
from edge_agent.wake.verifier import Verifier

if TYPE_CHECKING:
    from edge_agent.wake.micro import MicroScorer
    from edge_agent.wake.oww import OwwScorer
    from edge_agent.wake.vad import Vad

__all__ = ["REFINE_STEPS", "SAMPLE_RATE_HZ", "Detection", "WakeDetector"]

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ: Final = 16000
REFINE_STEPS: Final = 2  # a `fricative` end is looked at again this many steps on (`refine_end`)
STEP_SAMPLES: Final = 1280  # 80 ms: the step every engine is scored on (openWakeWord's)
# openWakeWord's VAD gate looks at the steps 4..6 back: the speech of the wake word itself.
_VAD_SKIP_NEWEST: Final = 4
_VAD_LOOKBACK_STEPS: Final = 3
# Steps the lazy VAD gate re-scores when a step passes the threshold: the lookback plus ~2 s
# before it to settle Silero's recurrent state (measured with bench/wake_accuracy.py: the same
# decisions as a VAD run on every step).
_VAD_HISTORY_STEPS: Final = 32
# After this much audio without a step that ran the VAD, its session is released (Silero: ~5 MB
# back to the system; reopening costs the next candidate ~17 ms on x86-64). A conversation's
# wake words and follow-ups come well within it; a daemon left alone drops back to the memory
# it had before its first wake word (docs/pipeline.md, "Idle memory").
VAD_RELEASE_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class Detection:
    """A wake word was heard.

    `sample_16k` is the absolute 16 kHz input sample index (counted since the detector was
    built) at the end of the 80 ms step that fired; the wake word ended 35-530 ms before it.
    `end_sample_16k` (same counter) is the estimated end of the wake word's speech: stream a
    turn from there, not from before the detection (that would start inside the word).
    `end_method` says how it was found ("silence", "fricative", "dip" or "fallback", see
    `endpoint`).
    """

    model: str
    score: float
    sample_16k: int
    end_sample_16k: int
    end_method: str = "fallback"


class _Model:
    """One wake word's decision state and optional verifier."""

    def __init__(self, name: str, rule: DecisionRule) -> None:
        self.name = name
        self.decision = WakeDecision(rule)
        self.verifier: Verifier | None = None


def _scorer(cfg: WakeConfig, paths: ModelPaths) -> OwwScorer | MicroScorer:
    if cfg.engine == "microwakeword":
        from edge_agent.wake.micro import MicroScorer

        return MicroScorer(paths.wake, cutoff=cfg.micro_cutoff, window=cfg.micro_window)
    from edge_agent.wake.oww import OwwScorer

    if paths.melspectrogram is None or paths.embedding is None:
        raise WakeModelError("openWakeWord needs the melspectrogram and embedding models")
    return OwwScorer(paths.melspectrogram, paths.embedding, paths.wake)


def _vad(cfg: WakeConfig, paths: ModelPaths) -> Vad | None:
    kind = cfg.vad_model
    if kind == "auto":
        kind = "micro" if cfg.engine == "microwakeword" else "silero"
    if kind == "micro":
        from edge_agent.wake.vad import MicroVad

        return MicroVad()
    if paths.vad is None:
        if cfg.vad_threshold > 0:
            raise WakeModelError("vad_threshold > 0 needs the silero_vad model; pass its path")
        return None  # no VAD: the end estimate falls back
    from edge_agent.wake.vad import SileroVad

    return SileroVad(paths.vad)


class WakeDetector:
    """Streaming wake-word detector with threshold, patience, refractory and VAD gate."""

    def __init__(
        self,
        cfg: WakeConfig,
        model_paths: ModelPaths,
        *,
        thresholds: Mapping[str, float] | None = None,
        verifier: Verifier | None = None,
        endpoint: EndpointRule | None = None,
    ) -> None:
        """Load the configured models (only those) from explicit paths.

        Args:
            cfg: the [wake] config: engine, thresholds, patience, refractory, VAD.
            model_paths: from `resolve_models`.
            thresholds: per-model thresholds overriding the configured/manifest ones, by name.
            verifier: overrides cfg.verifier_model (a loaded verifier; openWakeWord only).
            endpoint: the wake word's end estimate's knobs (default: EndpointRule()).

        Raises:
            WakeModelError: a model, the VAD or the verifier cannot be loaded.
        """
        self.cfg = cfg
        self._scorer = _scorer(cfg, model_paths)
        per_model = dict(getattr(self._scorer, "thresholds", {}))
        if cfg.engine == "openwakeword":
            per_model = dict.fromkeys(self._scorer.names, cfg.threshold)
        per_model.update(thresholds or {})
        refractory_16k = round(cfg.refractory_s * SAMPLE_RATE_HZ)
        self._models = [
            _Model(
                name,
                DecisionRule(
                    threshold=per_model[name],
                    patience_frames=cfg.patience_frames,
                    refractory_16k=refractory_16k,
                    vad_threshold=cfg.vad_threshold,
                    verifier_threshold=cfg.verifier_threshold,
                ),
            )
            for name in self._scorer.names
        ]
        if verifier is None and cfg.verifier_model:
            verifier = Verifier.load(Path(cfg.verifier_model).expanduser())
        if verifier is not None:
            matching = [m for m in self._models if m.name == verifier.model]
            if cfg.engine != "openwakeword" or not matching:
                raise WakeModelError(
                    f"the verifier is for openWakeWord model {verifier.model!r}, which is not in "
                    f"wake.models {self.model_names}; fix wake.verifier_model or wake.models"
                )
            matching[0].verifier = verifier
        self._vad = _vad(cfg, model_paths)
        self._endpoint = endpoint or EndpointRule()
        self._recent_steps: deque[np.ndarray] = deque(maxlen=_VAD_HISTORY_STEPS)
        self._vad_chunks: np.ndarray | None = None  # this step's chunk scores, once computed
        self._pending = np.zeros(0, np.int16)
        self.samples_in = 0  # every input sample since construction
        self.samples_stepped = 0  # samples consumed by whole steps
        self.last_scores: dict[str, float] = {m.name: 0.0 for m in self._models}
        self.vad_runs = 0  # steps on which the VAD gate was evaluated
        self.vad_releases = 0  # times the VAD's session was released after a quiet spell
        self._vad_used_at = 0  # samples_stepped when the VAD last ran
        self._vad_release_after = round(VAD_RELEASE_S * SAMPLE_RATE_HZ)

    @property
    def thresholds(self) -> dict[str, float]:
        """Each model's effective threshold (configured, or its manifest's cutoff)."""
        return {m.name: m.decision.rule.threshold for m in self._models}

    def _oww(self) -> OwwScorer:
        from edge_agent.wake.oww import OwwScorer

        if not isinstance(self._scorer, OwwScorer):
            raise TypeError("speech embeddings exist only with the openWakeWord engine")
        return self._scorer

    @property
    def last_embedding(self) -> np.ndarray:
        """The speech embedding (96,) of the last step, for benchmarks and verifier training."""
        newest: np.ndarray = self._oww().features.embeddings[-1]
        return newest

    def embedding_window(self, n_frames: int = 16) -> np.ndarray:
        """The last n_frames embeddings (n_frames, 96): what a verifier sees at this step."""
        window: np.ndarray = self._oww().features.window(n_frames)[0]
        return window

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self._models]

    def reset(self) -> None:
        """Clear the audio state after a turn; the sample counter keeps counting."""
        self._scorer.reset()
        self._recent_steps.clear()
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
        for start in range(0, len(pcm), STEP_SAMPLES):
            stepped = self.samples_stepped
            self.process(pcm[start : start + STEP_SAMPLES])
            if self.samples_stepped != stepped:
                out.append(dict(self.last_scores))
        return out

    def _step(self, step: np.ndarray) -> list[Detection]:
        scores = self._scorer.step(step)
        self._recent_steps.append(step)
        self._vad_chunks = None
        self.samples_stepped += STEP_SAMPLES
        vad_recent: float | None = None
        detections = []
        for model in self._models:
            score = scores[model.name]
            self.last_scores[model.name] = score
            verified = None
            if model.verifier is not None and score >= model.decision.rule.threshold:
                window = self._oww().features.window(model.verifier.n_frames)
                verified = float(model.verifier.probability(window)[0])
            if (
                vad_recent is None
                and self._vad is not None
                and model.decision.needs_vad(score, self.samples_stepped, verified)
            ):
                vad_recent = self._vad_recent()
            if model.decision.update(
                score, self.samples_stepped, vad_recent=vad_recent, verifier_score=verified
            ):
                log.info(
                    "wake word %s (score %.3f)", model.name, score, extra={"MODEL": model.name}
                )
                end = self._estimate_end(model.name)
                detections.append(
                    Detection(model.name, score, self.samples_stepped, end.end_16k, end.method)
                )
        if (
            self._vad is not None
            and self._vad_chunks is None
            and self.samples_stepped - self._vad_used_at >= self._vad_release_after
            and self._vad.release()
        ):
            self.vad_releases += 1
        return detections

    def _chunk_scores(self) -> np.ndarray:
        """Silero VAD's score of every 40 ms chunk of the kept steps, from a fresh state (once
        per step: the gate and the end estimate share it)."""
        assert self._vad is not None
        if self._vad_chunks is None:
            self.vad_runs += 1
            self._vad_used_at = self.samples_stepped
            self._vad.reset()
            self._vad_chunks = self._vad.chunk_scores(np.concatenate(self._recent_steps))
        return self._vad_chunks

    def _vad_recent(self) -> float:
        """The highest Silero VAD score around the wake word (steps 4..6 back, each the mean of
        its two chunks); Silero is causal, so scoring the newest steps too changes nothing."""
        chunks = self._chunk_scores()
        per_step = chunks[: len(chunks) // 2 * 2].reshape(-1, 2).mean(axis=1)
        lookback = per_step[-_VAD_SKIP_NEWEST - _VAD_LOOKBACK_STEPS : -_VAD_SKIP_NEWEST]
        return float(lookback.max()) if len(lookback) else 0.0

    def refine_end(self, detection: Detection) -> Detection:
        """`detection` again, its end looked at once more `REFINE_STEPS` steps after it fired.

        A `fricative` estimate is made when the detector fires so soon after the word that no
        pause is visible yet; it keeps up to `fricative_cap_ms` of the /s/, which is harmless
        before a question said in one breath but, followed by the user's pause, is a "speech"
        of its own to the service's VAD: a turn that ends on the pause before the question is
        asked (a CI run committed one so). So: if the pause has shown since, and it began
        before the detection (a later one is a closure inside the question: "...s stop"), the
        turn starts at the pause; otherwise the estimate stands. Other methods are returned
        as they are."""
        if detection.end_method != "fricative":
            return detection
        end = self._estimate_end(detection.model)
        if (
            end.method == "silence"
            and detection.end_sample_16k <= end.end_16k <= detection.sample_16k
        ):
            return replace(detection, end_sample_16k=end.end_16k, end_method="silence")
        return detection

    def _estimate_end(self, model: str) -> Endpoint:
        """Where the wake word `model` just fired on ended (see `endpoint.estimate_end`)."""
        audio = np.concatenate(self._recent_steps)
        start = self.samples_stepped - len(audio)
        chunks = self._chunk_scores() if self._vad is not None else np.zeros(0)
        return estimate_end(
            audio,
            start,
            self.samples_stepped,
            chunks,
            self._endpoint,
            ends_in_fricative=model in FRICATIVE_ENDS,
        )
