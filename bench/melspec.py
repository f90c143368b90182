"""The mel front end: numpy (`edge_agent.wake.melspec`) vs melspectrogram.onnx, side by side.

    PYTHONPATH=. python bench/melspec.py [--rounds 3] [--steps 200]

Each round runs both variants, each in a fresh process, alternating which goes first (this
machine's noise then hits both alike): a bare process imports numpy and onnxruntime, builds a
`FeatureStream` (numpy: as shipped; onnx: the same class with the mel spectrogram run by an
onnxruntime session, as before) and feeds it `--steps` 80 ms steps of noise. It reports VmRSS
(/proc/self/status) after the imports, after building and after the steps, VmHWM, and CPU time
(time.process_time) per step of the mel front end alone and of the whole `FeatureStream.step`.
The figures printed are the median over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith(key + ":"))
import numpy as np
import onnxruntime
from pathlib import Path
from edge_agent.wake.features import FeatureStream, open_session
from edge_agent.wake.models import default_models_dir, fetch_models
which, steps = sys.argv[1], int(sys.argv[2])
folder = default_models_dir()
fetch_models(folder, ["melspectrogram", "embedding_model"])
mel_path, emb_path = folder / "melspectrogram.onnx", folder / "embedding_model.onnx"

class OnnxMel:
    def __init__(self) -> None:
        self.session = open_session(mel_path)
    def __call__(self, pcm):
        return np.squeeze(self.session.run(None, {"input": pcm.astype(np.float32)[None]})[0])

class OnnxFeatureStream(FeatureStream):
    def __init__(self, melspectrogram, embedding):
        self._mel = OnnxMel()
        self._emb = open_session(embedding)
        self._initial = self._prime()
        self.reset()

rng = np.random.default_rng(1)
audio = (rng.standard_normal(1280 * steps) * 1000).astype(np.int16)
rss = {"imports": status("VmRSS")}
cls = FeatureStream if which == "numpy" else OnnxFeatureStream
features = cls(mel_path, emb_path)
rss["built"] = status("VmRSS")
t = time.process_time()
for i in range(steps):
    features.step(audio[i * 1280 : (i + 1) * 1280])
step_ms = (time.process_time() - t) / steps * 1000
rss["stepped"] = status("VmRSS")
windows = [audio[i * 1280 : i * 1280 + 1760] for i in range(steps - 1)]
t = time.process_time()
for _ in range(3):
    for w in windows:
        features._mel(w)
mel_ms = (time.process_time() - t) / (3 * len(windows)) * 1000
print(json.dumps({**rss, "hwm": status("VmHWM"), "step_ms": step_ms, "mel_ms": mel_ms}))
"""

VARIANTS = ("onnx", "numpy")
FIELDS = ("imports", "built", "stepped", "hwm", "step_ms", "mel_ms")


def child(which: str, steps: int) -> dict[str, float]:
    """One variant in a fresh interpreter (so neither inherits the other's arena or imports)."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, which, str(steps)],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for which in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
            res = child(which, args.steps)
            runs[which].append(res)
            row = "  ".join(f"{k} {res[k]:.2f}" for k in FIELDS)
            print(f"round {r + 1} {which:5s}  {row}", flush=True)
    med = {v: {k: statistics.median(x[k] for x in runs[v]) for k in FIELDS} for v in VARIANTS}
    print("\nmedian over rounds (RSS in MB, CPU in ms per 80 ms step):")
    print(f"{'':6s}" + "".join(f"{k:>10s}" for k in FIELDS))
    for v in VARIANTS:
        print(f"{v:6s}" + "".join(f"{med[v][k]:10.2f}" for k in FIELDS))
    saved = med["onnx"]["stepped"] - med["numpy"]["stepped"]
    print(f"::metric melspec | RSS saved by the numpy mel (after {args.steps} steps) | "
          f"{saved:.1f} MB | >= 1 MB")  # fmt: skip
    print(f"::metric melspec | mel CPU per step numpy / onnx | {med['numpy']['mel_ms']:.3f} / "
          f"{med['onnx']['mel_ms']:.3f} ms | not worse")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
