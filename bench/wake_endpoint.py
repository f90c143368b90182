"""The wake word's end estimate: its error against the true end, on generated speech.

    PYTHONPATH=. python bench/wake_endpoint.py [--workers 2] [--split train] [--floor-rms 300]
    (the eval split at the faint floor is also part of wake_accuracy.py)

edge_agent.sim.wakeset.build_pauseset: "hey jarvis" (12 voices x 3 speeds) alone and followed
by a question after 0, 0.3, 0.8 and 1.5 s, each part generated separately and concatenated, so
the wake word's true end and the question's start are known to the sample. The detector runs
over each stream at its defaults; for each detection:

- error = estimated end - true end (ms): < 0 is early (that much of the wake word is streamed),
  > 0 late (with a question after a pause of p s, late by more than p cuts into the question);
- "wake > 100 ms": more than ~100 ms of the wake word would be streamed;
- "cut": the estimate is after the question's first sample (a lost word);

for our estimate at its defaults, the same as the daemon streams it (a `fricative` estimate made
again 160 ms on, `WakeDetector.refine_end`), the same without the fricative rule (the estimate before it:
detection - 450 ms in one breath), the same with the dip rule on (and no fricative rule), and
the old start (500 ms before the detection), on the same detections in the same run; then our
defaults with `wake.vad_model = "micro"` and with `wake.engine = "microwakeword"` (each its own
detector and detections). "0 s x6q" is a second one-breath set with every question after
"hey jarvis" (the main set's one-breath items all have "how tall is mount everest"): questions
that start with a hiss or a burst ("set a timer", "turn on the kitchen light") are the ones
the fricative rule could cut. Last, the CPU time of one estimate (thread CPU, this process).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from multiprocessing import Pool
from typing import Literal

import numpy as np

from edge_agent.config import WakeConfig
from edge_agent.sim.wakeset import PAUSES_S, RATE_HZ, PauseStream, build_pauseset
from edge_agent.wake.detector import REFINE_STEPS, Detection, WakeDetector
from edge_agent.wake.endpoint import EndpointRule, estimate_end
from edge_agent.wake.features import VadStream

KEPT = 32 * 1280  # the detector's kept audio (2.56 s)
MATCH_S = 1.0
Split = Literal["eval", "train"]
REFINED = "ours + refine_end (daemon)"
MICRO = "ours, vad_model=micro"
MWW = "ours, engine=microwakeword"
ONE_BREATH = "onebreath-"  # the name prefix of the every-question one-breath streams


@dataclasses.dataclass(frozen=True)
class Hit:
    group: str  # "alone", "0 s", ... or "0 s x6q"
    pause_s: float | None
    wake_end: int
    question_start: int | None
    detection: int
    ends: dict[str, int]  # estimator name -> estimated end
    cpu_ms: float  # one estimate's CPU time


def _estimators() -> dict[str, Callable[[np.ndarray, int, int, np.ndarray], int]]:
    dip = EndpointRule(dip=0.6)
    return {
        "before: no fricative rule": lambda a, s, d, c: estimate_end(a, s, d, c).end_16k,
        "dip rule on (dip=0.6)": lambda a, s, d, c: estimate_end(a, s, d, c, dip).end_16k,
        "today: detection - 500 ms": lambda a, s, d, c: d - RATE_HZ // 2,
    }


def run_stream(stream: PauseStream) -> list[Hit]:
    from bench.wake_accuracy import micro_detector, model_paths

    paths = model_paths()
    det = WakeDetector(WakeConfig(), paths)
    others = {
        MICRO: WakeDetector(WakeConfig(vad_model="micro"), paths),
        MWW: micro_detector(),
    }
    assert paths.vad is not None
    vad = VadStream(paths.vad)
    found: list[Detection] = []
    found_other: dict[str, list[Detection]] = {name: [] for name in others}
    held: list[Detection] = []  # `fricative` ends the daemon looks at again, as its listener
    refined: dict[int, int] = {}  # detection sample -> the end the daemon streams from
    for i in range(0, len(stream.pcm), 1280):
        new = det.process(stream.pcm[i : i + 1280])
        for h in [h for h in held if det.samples_stepped >= h.sample_16k + REFINE_STEPS * 1280]:
            refined[h.sample_16k] = det.refine_end(h).end_sample_16k
            held.remove(h)
        held += [d for d in new if d.end_method == "fricative"]
        found += new
        for name, other in others.items():
            found_other[name] += other.process(stream.pcm[i : i + 1280])
    hits = []
    for item in stream.items:
        mine = [d for d in found if item.wake_start <= d.sample_16k <= item.wake_end + RATE_HZ]
        if not mine:
            continue
        d = mine[0]
        start = d.sample_16k - KEPT
        audio = stream.pcm[start : d.sample_16k]
        vad.reset()
        chunks = vad.chunk_scores(audio)
        ends = {"ours (defaults)": d.end_sample_16k}
        ends[REFINED] = refined.get(d.sample_16k, d.end_sample_16k)
        ends.update({k: f(audio, start, d.sample_16k, chunks) for k, f in _estimators().items()})
        for name, dets in found_other.items():
            other = [m for m in dets if item.wake_start <= m.sample_16k <= item.wake_end + RATE_HZ]
            if other:  # its own detection (the gate may move it), its own end estimate
                ends[name] = other[0].end_sample_16k
        cpu = time.thread_time()
        estimate_end(audio, start, d.sample_16k, chunks, ends_in_fricative=True)
        cpu_ms = (time.thread_time() - cpu) * 1000
        group = "alone" if item.pause_s is None else f"{item.pause_s:g} s"
        group += " x6q" if stream.name.startswith(ONE_BREATH) else ""
        hits.append(
            Hit(group, item.pause_s, item.wake_end, item.question_start, d.sample_16k, ends, cpu_ms)
        )
    return hits


def report(hits: list[Hit], n_items: int) -> list[str]:
    """The table: per estimator and pause, error percentiles, early/late, wake > 100 ms, cuts."""
    lines = [
        f"wake word end estimate: {len(hits)} detections of {n_items} items "
        "(error = estimate - true end, ms; early < 0 streams that much of the wake word)",
        f"{'estimator':28} {'pause':>7} {'n':>3} {'err p50':>7} {'|err| p95':>9} "
        f"{'min':>5} {'max':>5} {'early':>5} {'late':>4} {'wake>100':>8} {'cut':>3}",
    ]
    names = list(hits[0].ends) if hits else []
    names += [n for n in (MICRO, MWW) if n not in names and any(n in h.ends for h in hits)]
    groups = ["alone" if p is None else f"{p:g} s" for p in PAUSES_S] + ["0 s x6q"]
    for name in names:
        for label in groups:
            sel = [h for h in hits if h.group == label and name in h.ends]
            if not sel:
                continue
            err = np.array([(h.ends[name] - h.wake_end) * 1000 / RATE_HZ for h in sel])
            cut = sum(
                1 for h in sel if h.question_start is not None and h.ends[name] > h.question_start
            )
            lines.append(
                f"{name:28} {label:>7} {len(sel):3d} {np.median(err):7.0f} "
                f"{np.percentile(np.abs(err), 95):9.0f} {err.min():5.0f} {err.max():5.0f} "
                f"{int((err < 0).sum()):5d} {int((err > 0).sum()):4d} "
                f"{int((err < -100).sum()):8d} {cut:3d}"
            )
    lat = np.array([(h.detection - h.wake_end) * 1000 / RATE_HZ for h in hits])
    if len(lat):
        lines.append(
            f"detection latency after the true end: p50 {np.median(lat):.0f} ms, "
            f"min {lat.min():.0f}, max {lat.max():.0f}"
        )
        cpu = np.array([h.cpu_ms for h in hits])
        lines.append(
            f"CPU of one estimate (fricative rule on): p50 {np.median(cpu):.2f} ms, "
            f"max {cpu.max():.2f} ms"
        )
    return lines


def measure(workers: int, split: Split = "eval", floor_rms: float = 30.0) -> list[str]:
    streams = build_pauseset(split, workers=2 * workers, floor_rms=floor_rms)
    one_breath = build_pauseset(split, pauses=(0.0,) * 6, workers=2 * workers, floor_rms=floor_rms)
    for stream in one_breath:
        stream.name = ONE_BREATH + stream.name
        streams.append(stream)
    with Pool(workers) as pool:
        hits = [h for hs in pool.map(run_stream, streams, chunksize=1) for h in hs]
    return report(hits, sum(len(s.items) for s in streams))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--split", choices=["eval", "train"], default="eval", help="other voices and questions"
    )
    parser.add_argument(
        "--floor-rms", type=float, default=30.0, help="the noise floor's RMS (default: faint)"
    )
    args = parser.parse_args()
    print(f"split {args.split}, floor RMS {args.floor_rms:g}")
    print("\n".join(measure(args.workers, args.split, args.floor_rms)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
