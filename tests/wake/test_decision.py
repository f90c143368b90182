"""The pure decision rule: scores in, fire/no-fire out (no models)."""

from __future__ import annotations

from edge_agent.wake.decision import DecisionRule, WakeDecision

STEP = 1280


def feed(rule: DecisionRule, scores: list[float], **kw: list[float | None]) -> list[int]:
    """Step indices that fired."""
    decision = WakeDecision(rule)
    fired = []
    for i, score in enumerate(scores):
        extra = {k: v[i] for k, v in kw.items()}
        if decision.update(score, (i + 1) * STEP, **extra):  # type: ignore[arg-type]
            fired.append(i)
    return fired


def test_fires_once_per_run_at_the_patience_step() -> None:
    scores = [0.1, 0.6, 0.9, 0.95, 0.7, 0.2, 0.1]
    assert feed(DecisionRule(patience_frames=1, refractory_16k=0), scores) == [1]
    assert feed(DecisionRule(patience_frames=3, refractory_16k=0), scores) == [3]
    assert feed(DecisionRule(patience_frames=5, refractory_16k=0), scores) == []


def test_refractory_blocks_a_second_run_close_behind() -> None:
    scores = [0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9]
    assert feed(DecisionRule(refractory_16k=0), scores) == [0, 2, 6]
    assert feed(DecisionRule(refractory_16k=4 * STEP), scores) == [0, 6]


def test_vad_gate_and_verifier() -> None:
    scores = [0.9, 0.1, 0.9, 0.1, 0.9]
    rule = DecisionRule(refractory_16k=0, vad_threshold=0.5, verifier_threshold=0.8)
    vad = [0.2, 0.2, 0.9, 0.9, 0.9]
    verified = [0.99, None, 0.99, None, 0.3]
    assert feed(rule, scores, vad_recent=vad) == [2, 4]
    assert feed(rule, scores, vad_recent=vad, verifier_score=verified) == [2]


def test_reset_forgets_the_run_but_not_the_last_fire() -> None:
    decision = WakeDecision(DecisionRule(patience_frames=2, refractory_16k=10 * STEP))
    assert not decision.update(0.9, STEP)
    decision.reset()
    assert not decision.update(0.9, 2 * STEP)
    assert decision.update(0.9, 3 * STEP)
    decision.reset()
    assert not decision.update(0.9, 4 * STEP) and not decision.update(0.9, 5 * STEP)
    assert decision.last_fire_16k == 3 * STEP


def test_needs_vad_only_where_the_gate_decides() -> None:
    """The lazy VAD is computed only on steps where it can change the outcome: wherever
    update() would fire with a passing VAD score, and nowhere else."""
    rule = DecisionRule(patience_frames=2, refractory_16k=5 * STEP, vad_threshold=0.5)
    scores = [0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9]
    decision = WakeDecision(rule)
    asked, fired = [], []
    for i, score in enumerate(scores):
        if decision.needs_vad(score, (i + 1) * STEP):
            asked.append(i)
        if decision.update(score, (i + 1) * STEP, vad_recent=0.9):
            fired.append(i)
    assert asked == fired == [1, 10]  # step 5 is in the refractory period, 2 past patience
    assert not WakeDecision(DecisionRule()).needs_vad(0.9, STEP)  # no gate: never
