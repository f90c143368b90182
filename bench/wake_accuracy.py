"""Wake-word accuracy: bare openWakeWord vs our detector, on one espeak-ng set, in one run.

    PYTHONPATH=. python bench/wake_accuracy.py [--quick] [--workers 2] [--save-verifier V.npz]

Generates (and caches the speech of) a labelled set with edge_agent.sim.wakeset: "hey jarvis"
in 12 voices x 3 speeds, alone and followed by a question after 0.2-0.6 s, and >= 30 min of
negatives (near misses, everyday sentences, noise, silence) in long streams. Then, on the same
audio in the same run:

- bare: openwakeword 0.5.1 `Model.predict` (onnx), 1280-sample frames, a detection at each
  rising edge of score >= 0.5 (the kindest reading of "score > 0.5 means wake");
- ours: `WakeDetector` at the WakeConfig defaults (Silero VAD gate), and the same with
  `wake.vad_model = "micro"` (the microVAD gate, no Silero session: ~4 MB less RSS);
- microWakeWord, bare (pymicro-wakeword 2.5.0's hey_jarvis on 10 ms chunks, a detection at each
  rising edge of a window mean >= its manifest cutoff 0.97) and ours with
  `wake.engine = "microwakeword"` at its defaults (cutoff 0.97, microVAD gate);
- steps: the same recorded scores, VAD scores and embeddings replayed through the detector's
  own `WakeDecision` with one knob changed at a time, and a verifier trained on the "train"
  split (other voices, other sentences and near misses) — what each step changes.

Then the wake word's end estimate (bench/wake_endpoint.py): its error against the true end
with pauses of 0-1.5 s before a question. `--endpoint-only` runs just that part.

A positive counts as found when a detection falls between its start and 1 s after its end.
False accepts/hour = detections in the negative streams / their duration.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import types
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from edge_agent.config import WakeConfig
from edge_agent.sim.wakeset import RATE_HZ, Stream, build_wakeset
from edge_agent.wake.decision import DecisionRule, WakeDecision
from edge_agent.wake.detector import WakeDetector
from edge_agent.wake.features import VadStream
from edge_agent.wake.micro_models import fetch_micro_models, resolve_micro_models
from edge_agent.wake.models import ModelPaths, default_models_dir, fetch_models
from edge_agent.wake.verifier import Verifier, train_verifier

STEP = 1280
MATCH_AFTER_S = 1.0


@dataclasses.dataclass
class Trace:
    """Per-step recordings of one stream."""

    bare_scores: np.ndarray | None
    scores: np.ndarray  # our raw wake scores (equal to bare's after warm-up)
    vad: np.ndarray
    embeddings: np.ndarray  # (steps, 96)
    detections: list[int]  # our detector at defaults: sample indices
    micro_bare: np.ndarray | None = None  # bare pymicro-wakeword: best probability per step
    micro_detections: list[int] | None = None  # ours with microWakeWord at its defaults
    microvad_detections: list[int] | None = None  # ours, openWakeWord with wake.vad_model=micro


def model_paths() -> ModelPaths:
    folder = default_models_dir()
    fetch_models(folder)
    return ModelPaths(
        folder / "melspectrogram.onnx",
        folder / "embedding_model.onnx",
        {"hey_jarvis": folder / "hey_jarvis_v0.1.onnx"},
        folder / "silero_vad.onnx",
    )


def micro_models_dir() -> Path:
    folder = default_models_dir()
    fetch_micro_models(folder)
    return folder


def micro_detector(**wake: object) -> WakeDetector:
    """Our detector with microWakeWord's hey_jarvis (manifest cutoff, microVAD gate)."""
    cfg = WakeConfig(engine="microwakeword", **wake)  # type: ignore[arg-type]
    folder = micro_models_dir()
    return WakeDetector(cfg, ModelPaths(None, None, resolve_micro_models(cfg.models, folder)))


def bare_model(paths: ModelPaths) -> object:
    """openwakeword's Model without scipy/sklearn (they are not installed: stub their module)."""
    sys.modules.setdefault(
        "openwakeword.custom_verifier_model", types.SimpleNamespace(train_custom_verifier=None)
    )
    from openwakeword.model import Model

    np.random.seed(0)  # Model primes its features with random noise
    return Model(
        wakeword_models=[str(paths.wake["hey_jarvis"])],
        inference_framework="onnx",
        melspec_model_path=str(paths.melspectrogram),
        embedding_model_path=str(paths.embedding),
    )


def trace(job: tuple[np.ndarray, bool]) -> Trace:
    """Run bare (optional) and our default detector over one stream, step by step."""
    pcm, with_bare = job
    paths = model_paths()
    bare = bare_model(paths) if with_bare else None
    ours = WakeDetector(WakeConfig(), paths)
    microvad = WakeDetector(WakeConfig(vad_model="micro"), paths) if with_bare else None
    assert paths.vad is not None
    vad_stream = VadStream(paths.vad)  # every step's VAD score, for the replayed rules
    n = len(pcm) // STEP
    bare_scores = np.zeros(n, np.float32)
    scores, vad = np.zeros(n, np.float32), np.zeros(n, np.float32)
    embeddings = np.zeros((n, 96), np.float32)
    detections: list[int] = []
    microvad_dets: list[int] = []
    for i in range(n):
        frame = pcm[i * STEP : (i + 1) * STEP]
        if microvad is not None:
            microvad_dets += [d.sample_16k for d in microvad.process(frame)]
        if bare is not None:
            bare_scores[i] = bare.predict(frame)["hey_jarvis_v0.1"]  # type: ignore[attr-defined]
        detections += [d.sample_16k for d in ours.process(frame)]
        scores[i], vad[i] = ours.last_scores["hey_jarvis"], vad_stream.step(frame)
        embeddings[i] = ours.last_embedding
    micro_bare, micro_dets = micro_trace(pcm) if with_bare else (None, None)
    return Trace(
        bare_scores if with_bare else None, scores, vad, embeddings, detections,
        micro_bare, micro_dets, microvad_dets if with_bare else None,
    )  # fmt: skip


def micro_trace(pcm: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Bare pymicro-wakeword (10 ms chunks; the best window mean per 80 ms step) and our
    detector with microWakeWord at its defaults, over one stream."""
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures

    folder = micro_models_dir()
    bare = MicroWakeWord.from_config(folder / "micro" / "hey_jarvis.json")
    feats = MicroWakeWordFeatures()
    ours = micro_detector()
    n = len(pcm) // STEP
    best = np.zeros(n, np.float32)
    detections = []
    for i in range(n):
        frame = pcm[i * STEP : (i + 1) * STEP]
        for k in range(0, STEP, 160):
            for f in feats.process_streaming(frame[k : k + 160].tobytes()):
                best[i] = max(best[i], bare.process_streaming_prob(f) or 0.0)
        detections += [d.sample_16k for d in ours.process(frame)]
    return best, detections


def windows(embeddings: np.ndarray, steps: np.ndarray, n_frames: int = 16) -> np.ndarray:
    padded = np.concatenate((np.repeat(embeddings[:1], n_frames - 1, axis=0), embeddings))
    return (
        np.stack([padded[i : i + n_frames] for i in steps])
        if len(steps)
        else np.zeros((0, n_frames, 96))
    )


def rising_edges(scores: np.ndarray, threshold: float) -> list[int]:
    above = scores >= threshold
    starts = np.flatnonzero(above & ~np.concatenate(([False], above[:-1])))
    return [int(i + 1) * STEP for i in starts]


def replay(
    tr: Trace,
    rule: DecisionRule,
    *,
    smooth: int = 1,
    verifier: Verifier | None = None,
) -> list[int]:
    """Our decision rule over recorded scores (what the detector would have done)."""
    scores = (
        tr.scores
        if smooth == 1
        else np.convolve(tr.scores, np.ones(smooth) / smooth)[: len(tr.scores)]
    )
    vprob = np.full(len(scores), np.nan)
    if verifier is not None:
        cand = np.flatnonzero(scores >= rule.threshold)
        vprob[cand] = verifier.probability(windows(tr.embeddings, cand))
    decision = WakeDecision(rule)
    fired = []
    for i, score in enumerate(scores):
        lookback = tr.vad[max(0, i - 6) : max(0, i - 3)]
        vad_recent = float(lookback.max()) if len(lookback) else 0.0
        verified = None if np.isnan(vprob[i]) else float(vprob[i])
        if decision.update(
            float(score), (i + 1) * STEP, vad_recent=vad_recent, verifier_score=verified
        ):
            fired.append((i + 1) * STEP)
    return fired


@dataclasses.dataclass
class Result:
    recall: float
    fa_per_h: float
    extra: int
    latency_p50_s: float
    missed: Counter[str]
    false_accepts: Counter[str]


def score(streams: list[Stream], detections: list[list[int]]) -> Result:
    found = total = fa = extra = 0
    neg_s = 0.0
    latencies: list[float] = []
    missed: Counter[str] = Counter()
    fas: Counter[str] = Counter()
    for stream, dets in zip(streams, detections, strict=True):
        wakes = [sp for sp in stream.spans if sp.kind == "wake"]
        if not stream.name.startswith("pos"):
            neg_s += stream.seconds
            fa += len(dets)
            for d in dets:
                near = [sp for sp in stream.spans if sp.start <= d <= sp.end + RATE_HZ]
                fas[f"{near[-1].kind}:{near[-1].text}" if near else "gap"] += 1
            continue
        used = set()
        for sp in wakes:
            total += 1
            hits = [d for d in dets if sp.start <= d <= sp.end + MATCH_AFTER_S * RATE_HZ]
            if hits:
                found += 1
                used.add(hits[0])
                latencies.append((hits[0] - sp.end) / RATE_HZ)
            else:
                missed[f"{sp.voice}@{sp.speed_wpm}"] += 1
        extra += len([d for d in dets if d not in used])
    return Result(
        found / max(total, 1),
        fa / max(neg_s / 3600, 1e-9),
        extra,
        float(np.median(latencies)) if latencies else float("nan"),
        missed,
        fas,
    )


def train_split_verifier(streams: list[Stream], traces: list[Trace]) -> Verifier:
    """Positives: windows 0.1 s before to 0.5 s after each wake word's end that score >= 0.05;
    negatives: every other window scoring >= 0.01, plus 200 random windows per negative stream."""
    pos, neg = [], []
    rng = np.random.default_rng(0)
    for stream, tr in zip(streams, traces, strict=True):
        ends = (np.arange(len(tr.scores)) + 1) * STEP
        near_wake = np.zeros(len(ends), bool)
        is_pos = np.zeros(len(ends), bool)
        for sp in stream.spans:
            if sp.kind == "wake":
                is_pos |= (ends >= sp.end - 0.1 * RATE_HZ) & (ends <= sp.end + 0.5 * RATE_HZ)
                near_wake |= (ends >= sp.start - 0.3 * RATE_HZ) & (ends <= sp.end + 0.8 * RATE_HZ)
        pos.append(windows(tr.embeddings, np.flatnonzero(is_pos & (tr.scores >= 0.05))))
        hard = np.flatnonzero(~near_wake & (tr.scores >= 0.01))
        if not stream.name.startswith("pos"):
            hard = np.union1d(hard, rng.choice(len(ends), min(200, len(ends)), replace=False))
        neg.append(windows(tr.embeddings, hard))
    return train_verifier(np.concatenate(pos), np.concatenate(neg), l2=100.0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 positive and 3 negative streams"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="processes (default: all cores)"
    )
    parser.add_argument(
        "--save-verifier", metavar="PATH", help="write the trained verifier (.npz) here"
    )
    parser.add_argument(
        "--endpoint-only", action="store_true", help="only the wake word's end estimate"
    )
    args = parser.parse_args()
    from bench.wake_endpoint import measure

    if args.endpoint_only:
        print("\n".join(measure(args.workers)))
        return 0

    t0 = time.monotonic()
    neg_s = 300.0 if args.quick else 1800.0
    ev = build_wakeset("eval", min_negative_s=neg_s, workers=2 * args.workers)
    tr_set = build_wakeset("train", min_negative_s=300.0, seed=1, workers=2 * args.workers)
    t1 = time.monotonic()
    if args.quick:
        ev.positives, ev.negatives = ev.positives[:1], ev.negatives[:3]
        tr_set.negatives = tr_set.negatives[:2]
    eval_streams = ev.positives + ev.negatives
    train_streams = tr_set.positives + tr_set.negatives
    jobs = [(s.pcm, True) for s in eval_streams] + [(s.pcm, False) for s in train_streams]
    jobs_sorted = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))
    with Pool(args.workers) as pool:
        done = dict(
            zip(
                jobs_sorted,
                pool.map(trace, [jobs[i] for i in jobs_sorted], chunksize=1),
                strict=True,
            )
        )
    traces = [done[i] for i in range(len(jobs))]
    eval_tr, train_tr = traces[: len(eval_streams)], traces[len(eval_streams) :]
    t2 = time.monotonic()

    print(
        f"set: {ev.n_positives} positives ({len(ev.positives)} streams, "
        f"{sum(s.seconds for s in ev.positives):.0f} s), {ev.negative_s / 60:.1f} min negatives "
        f"({len(ev.negatives)} streams); train split: {tr_set.n_positives} positives, "
        f"{tr_set.negative_s / 60:.1f} min negatives"
    )
    print(
        f"time: generate {t1 - t0:.0f} s, run models {t2 - t1:.0f} s on {args.workers} processes\n"
    )

    cfg = WakeConfig()
    base = DecisionRule(0.5, 1, round(cfg.refractory_s * RATE_HZ), 0.0, cfg.verifier_threshold)
    verifier = train_split_verifier(train_streams, train_tr)
    if args.save_verifier:
        verifier.save(Path(args.save_verifier))
    rows: list[tuple[str, list[list[int]]]] = [
        ("bare Model.predict >= 0.5", [rising_edges(t.bare_scores, 0.5) for t in eval_tr]),  # type: ignore[arg-type]
        (f"ours, defaults (real detector): {describe(cfg)}", [t.detections for t in eval_tr]),
        (
            "ours, defaults but wake.vad_model = micro",
            [t.microvad_detections for t in eval_tr],  # type: ignore[misc]
        ),
        (
            "bare microWakeWord >= 0.97 (pymicro-wakeword)",
            [rising_edges(t.micro_bare, 0.97) for t in eval_tr],  # type: ignore[arg-type]
        ),
        (
            "ours, microWakeWord defaults (cutoff 0.97, microVAD)",
            [t.micro_detections for t in eval_tr],  # type: ignore[misc]
        ),
        ("step 0: t=0.5, no gate (replay)", [replay(t, base) for t in eval_tr]),
        (
            "step 1: + patience 2",
            [replay(t, dataclasses.replace(base, patience_frames=2)) for t in eval_tr],
        ),
        ("step 2: + smoothing (mean of 2)", [replay(t, base, smooth=2) for t in eval_tr]),
        (
            "step 3: + VAD gate 0.5",
            [replay(t, dataclasses.replace(base, vad_threshold=0.5)) for t in eval_tr],
        ),
        (
            "step 4: t=0.3 + VAD 0.5",
            [
                replay(t, dataclasses.replace(base, threshold=0.3, vad_threshold=0.5))
                for t in eval_tr
            ],
        ),
    ]
    for thr in (0.5, 0.3):
        for vthr in (0.5, 0.9):
            rule = dataclasses.replace(
                base, threshold=thr, vad_threshold=0.5, verifier_threshold=vthr
            )
            rows.append(
                (
                    f"step 5: t={thr} + VAD 0.5 + verifier {vthr}",
                    [replay(t, rule, verifier=verifier) for t in eval_tr],
                )
            )
    print(f"{'detector':58} {'recall':>7} {'FA/h':>7} {'extra':>5} {'lat p50':>8}")
    results = {}
    for name, dets in rows:
        r = score(eval_streams, dets)
        results[name] = r
        print(f"{name:58} {r.recall:7.3f} {r.fa_per_h:7.1f} {r.extra:5d} {r.latency_p50_s:7.2f}s")
    bare, ours = results[rows[0][0]], results[rows[1][0]]
    print(
        f"\nours vs bare: recall {ours.recall:.3f} vs {bare.recall:.3f}, "
        f"false accepts/h {ours.fa_per_h:.1f} vs {bare.fa_per_h:.1f} -> "
        f"{'BETTER OR EQUAL ON BOTH' if ours.recall >= bare.recall and ours.fa_per_h <= bare.fa_per_h else 'NOT better on both'}"
    )
    mvad = results[rows[2][0]]
    print(
        f"openWakeWord, Silero VAD (default) vs microVAD: recall {ours.recall:.3f} vs "
        f"{mvad.recall:.3f}, false accepts/h {ours.fa_per_h:.1f} vs {mvad.fa_per_h:.1f}, "
        f"latency p50 {ours.latency_p50_s:.2f} vs {mvad.latency_p50_s:.2f} s"
    )
    mbare, mours = results[rows[3][0]], results[rows[4][0]]
    print(
        f"microWakeWord ours vs bare: recall {mours.recall:.3f} vs {mbare.recall:.3f}, "
        f"false accepts/h {mours.fa_per_h:.1f} vs {mbare.fa_per_h:.1f}; "
        f"vs ours openWakeWord: recall {mours.recall:.3f} vs {ours.recall:.3f}, "
        f"false accepts/h {mours.fa_per_h:.1f} vs {ours.fa_per_h:.1f}"
    )
    named = (("openWakeWord ours", ours), ("openWakeWord ours microVAD", mvad))
    for name, r in (*named, ("microWakeWord ours", mours)):
        print(f"::metric wake_accuracy | recall, {name} | {r.recall:.3f} |")
        print(f"::metric wake_accuracy | false accepts/h, {name} | {r.fa_per_h:.1f} |")
    print(f"microWakeWord ours missed: {dict(mours.missed)}")
    print(f"microWakeWord ours false accepts: {dict(mours.false_accepts.most_common(12))}")
    print(f"bare missed: {dict(bare.missed)}")
    print(f"ours missed: {dict(ours.missed)}")
    print(f"bare false accepts: {dict(bare.false_accepts.most_common(12))}")
    print(f"ours false accepts: {dict(ours.false_accepts.most_common(12))}")
    print(f"ours microVAD missed: {dict(mvad.missed)}")
    print(f"ours microVAD false accepts: {dict(mvad.false_accepts.most_common(12))}\n")
    print("\n".join(measure(args.workers)))
    return 0


def describe(cfg: WakeConfig) -> str:
    return f"t={cfg.threshold} p={cfg.patience_frames} vad={cfg.vad_threshold}" + (
        " +verifier" if cfg.verifier_model else ""
    )


if __name__ == "__main__":
    sys.exit(main())
