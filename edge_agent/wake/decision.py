"""When a stream of per-step scores becomes a detection: the pure rule, shared by the detector
and the accuracy benchmark (which replays recorded scores through it).

No I/O and no models: it takes scores, the Silero VAD score of the recent past, the verifier's
probability and the current sample index, and answers "fire now?".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DecisionRule", "WakeDecision"]


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """The knobs of one model's decision (see WakeConfig for their meaning)."""

    threshold: float = 0.5
    patience_frames: int = 1
    refractory_16k: int = 32000
    vad_threshold: float = 0.0  # 0 = no VAD gate
    verifier_threshold: float = 0.0  # used only when a verifier score is given


class WakeDecision:
    """Per-model state: fire once per run of `patience_frames` passing steps, then rest."""

    def __init__(self, rule: DecisionRule) -> None:
        self.rule = rule
        self.run_steps = 0
        self.last_fire_16k: int | None = None

    def reset(self) -> None:
        """Forget the current run (after a turn); the refractory clock keeps its last fire."""
        self.run_steps = 0

    def passes(self, score: float, verifier_score: float | None = None) -> bool:
        """Does this step count towards a detection?"""
        if score < self.rule.threshold:
            return False
        return verifier_score is None or verifier_score >= self.rule.verifier_threshold

    def needs_vad(self, score: float, now_16k: int, verifier_score: float | None = None) -> bool:
        """Would this step fire but for the VAD gate? Only then is a VAD score worth computing."""
        if self.rule.vad_threshold <= 0 or not self.passes(score, verifier_score):
            return False
        if self.run_steps + 1 != self.rule.patience_frames:
            return False
        last = self.last_fire_16k
        return last is None or now_16k - last >= self.rule.refractory_16k

    def update(
        self,
        score: float,
        now_16k: int,
        *,
        vad_recent: float | None = None,
        verifier_score: float | None = None,
    ) -> bool:
        """Feed one step's score; True when it fires.

        Args:
            score: the wake model's score for this step.
            now_16k: the sample index at the end of this step.
            vad_recent: the highest VAD score around the wake word (None: no gate).
            verifier_score: the verifier's probability (None: no verifier).
        """
        self.run_steps = self.run_steps + 1 if self.passes(score, verifier_score) else 0
        if self.run_steps != self.rule.patience_frames:
            return False
        last = self.last_fire_16k
        if last is not None and now_16k - last < self.rule.refractory_16k:
            return False
        if self.rule.vad_threshold > 0 and (vad_recent or 0.0) < self.rule.vad_threshold:
            return False
        self.last_fire_16k = now_16k
        return True
