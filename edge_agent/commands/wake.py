"""`edge-agent wake-test FILE.wav`: run the wake-word detector on a file, to tune the threshold."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from edge_agent.commands.common import add_common, load

ORDER = 41


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_common(
        sub.add_parser(
            "wake-test",
            help="run the wake-word detector on a WAV file and print detections and max scores",
            description="Run the same detector as the daemon (same [wake] settings) over a WAV "
            "file of any rate/channels (resampled to 16 kHz mono), then print each detection "
            "(time in s, model, score) and the highest score per model. Use it to pick "
            "wake.threshold: record yourself and some everyday audio, and set the threshold "
            "between the wake word's max scores and the everyday audio's.",
        )
    )
    parser.add_argument("file", metavar="FILE.wav", help="audio file (PCM WAV)")
    parser.add_argument(
        "--model",
        action="append",
        metavar="NAME",
        help="model to run: built-in name or .onnx path; repeatable (default: wake.models)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="X",
        help="score threshold 0.0..1.0 (default: wake.threshold)",
    )
    parser.add_argument("--models-dir", metavar="DIR", help="models directory (default as daemon)")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    parser.set_defaults(func=_wake_test)


def _wake_test(args: argparse.Namespace) -> int:
    import numpy as np

    from edge_agent.cli import EX_UNAVAILABLE
    from edge_agent.config import EX_CONFIG
    from edge_agent.errors import WakeModelError
    from edge_agent.wake.audiofile import read_wav_16k
    from edge_agent.wake.detector import SAMPLE_RATE_HZ, WakeDetector
    from edge_agent.wake.models import resolve_models

    cfg = load(args)
    wake = cfg.wake
    if args.model:
        wake = dataclasses.replace(wake, models=tuple(args.model))
    if args.threshold is not None:
        if not 0.0 <= args.threshold <= 1.0:
            print(f"error: --threshold {args.threshold!r}: must be 0.0..1.0", file=sys.stderr)
            return EX_CONFIG
        wake = dataclasses.replace(wake, threshold=args.threshold)
    cfg = dataclasses.replace(cfg, wake=wake)
    try:
        pcm = read_wav_16k(Path(args.file))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        paths = resolve_models(cfg, Path(args.models_dir) if args.models_dir else None)
        detector = WakeDetector(cfg.wake, paths)
    except WakeModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    pcm = np.concatenate((pcm, np.zeros(SAMPLE_RATE_HZ, np.int16)))  # let a final word score
    best = {name: (0.0, 0.0) for name in detector.model_names}
    for start in range(0, len(pcm) - 1279, 1280):
        for det in detector.process(pcm[start : start + 1280]):
            _print_detection(det.model, det.score, det.sample_16k / SAMPLE_RATE_HZ, args.json)
        t_s = detector.samples_stepped / SAMPLE_RATE_HZ
        for name, score in detector.last_scores.items():
            if score > best[name][0]:
                best[name] = (score, t_s)
    for name, (score, t_s) in best.items():
        if args.json:
            print(
                json.dumps({"event": "max", "model": name, "score": round(score, 4), "time_s": t_s})
            )
        else:
            print(f"max {name}: {score:.3f} at {t_s:.2f} s")
    return 0


def _print_detection(model: str, score: float, time_s: float, as_json: bool) -> None:
    if as_json:
        record = {"event": "detection", "time_s": time_s, "model": model, "score": round(score, 4)}
        print(json.dumps(record), flush=True)
    else:
        print(f"{time_s:8.2f} s  {model}  {score:.3f}", flush=True)
