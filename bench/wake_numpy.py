"""The wake classifiers: numpy (`edge_agent.wake.npgraph`) vs an onnxruntime session each, side
by side.

    PYTHONPATH=. python bench/wake_numpy.py [--rounds 3] [--steps 200] [--models hey_jarvis,...]
    PYTHONPATH=. python bench/wake_numpy.py --scores [--workers 2]

Each round runs both variants, each in a fresh process, alternating which goes first (this
machine's noise then hits both alike): a bare process imports numpy, onnxruntime and the
detector, builds a `WakeDetector` at the WakeConfig defaults with `--models` (onnx: each
classifier an onnxruntime session, as edge_agent.wake.oww runs them; numpy: each run by
`edge_agent.wake.npgraph`) and feeds it `--steps` 80 ms steps of speech-like noise. It reports
VmRSS (/proc/self/status) after the imports, after building and after the steps, VmHWM, CPU
time (time.process_time) per `WakeDetector.process` step, and per step of the classifiers
alone (all `--models` once, 500 times on the window the steps left). The figures printed are
the median over rounds; `weights` is what the classifiers' float32 weights take (numpy holds
that copy as a session does, so the saving is the session's overhead beyond its weights).

`--scores` checks equality instead: over the eval wakeset (bench/wake_accuracy.py's, made
with edge_agent.sim.wakeset) two detectors at the defaults with all four built-in models,
one numpy and one onnxruntime, each over every stream; it prints the max |numpy - onnx|
score per model over every step, the steps on which a score is on different sides of the
threshold, and whether the detections are the same.

Measured on x86-64 (2 cores, 3 rounds, 200 steps): hey_jarvis alone saves 1.25 MB RSS built
and 1.50 MB after the steps (all four models: 1.71 / 1.98 MB; their weights are 1.21 / 3.03
MB), but the classifier costs 0.074 ms per step in numpy against 0.042 ms in onnxruntime
(four: 0.243 / 0.139 ms), a detector step 1.86 against 1.78 ms: numpy's ~1 us per call on
1 x 128 arrays times ~30 ops per net. Equal scores (<= 7.1e-6 on the eval wakeset, the same
124 detections). The daemon takes that trade (its memory goal is the tighter one): the
classifiers run in numpy, a declined graph in onnxruntime (edge_agent.wake.oww).
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

CLASSIFIERS = r"""
import numpy as np
from edge_agent.wake import oww
from edge_agent.wake.features import open_session
from edge_agent.wake.npgraph import load_graph

class OnnxClassifier:  # as edge_agent.wake.oww runs them: one onnxruntime session each
    runner = "onnxruntime"
    def __init__(self, path):
        session = open_session(path)
        inp = session.get_inputs()[0]
        self.n_frames, name = int(inp.shape[1]), inp.name
        self.run = lambda x: session.run(None, {name: x})[0]
    def score(self, features):
        return float(np.asarray(self.run(features.window(self.n_frames))).reshape(-1)[0])

class NumpyClassifier(OnnxClassifier):  # edge_agent.wake.npgraph
    runner = "numpy"
    def __init__(self, path):
        graph = load_graph(path)
        self.n_frames, self.run = graph.input_shape[1], graph.run

def use(which):
    oww._Classifier = NumpyClassifier if which == "numpy" else OnnxClassifier
"""

CHILD = (
    CLASSIFIERS
    + r"""
import json, sys, time
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith(key + ":"))
import onnxruntime
from edge_agent.config import WakeConfig
from edge_agent.wake.detector import WakeDetector
from edge_agent.wake.models import ModelPaths, default_models_dir, fetch_models, BUILTIN_MODELS
which, steps, names = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
folder = default_models_dir()
fetch_models(folder)
paths = ModelPaths(
    folder / "melspectrogram.onnx", folder / "embedding_model.onnx",
    {n: folder / BUILTIN_MODELS[n][0] for n in names}, folder / "silero_vad.onnx",
)
use(which)
rng = np.random.default_rng(1)
env = np.repeat(rng.uniform(200, 3000, steps * 4), 320)  # 20 ms loudness steps
audio = (rng.standard_normal(1280 * steps) * env).astype(np.int16)
rss = {"imports": status("VmRSS")}
det = WakeDetector(WakeConfig(models=tuple(names)), paths)
rss["built"] = status("VmRSS")
t = time.process_time()
for i in range(steps):
    det.process(audio[i * 1280 : (i + 1) * 1280])
step_ms = (time.process_time() - t) / steps * 1000
rss["stepped"] = status("VmRSS")
scorer = det._scorer
runners = sorted({m.runner for m in scorer._models.values()})
t = time.process_time()
for _ in range(500):
    for m in scorer._models.values():
        m.score(scorer.features)
clf_ms = (time.process_time() - t) / 500 * 1000
print(json.dumps({**rss, "hwm": status("VmHWM"), "step_ms": step_ms, "clf_ms": clf_ms,
                  "runners": runners}))
"""
)

VARIANTS = ("onnx", "numpy")
FIELDS = ("imports", "built", "stepped", "hwm", "step_ms", "clf_ms")


def child(which: str, steps: int, models: str) -> dict[str, float]:
    """One variant in a fresh interpreter (so neither inherits the other's arena or imports)."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, which, str(steps), models],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    if out.returncode:
        raise SystemExit(f"{which} child failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return result


def weights_mb(models: str) -> float:
    """The classifiers' weights (float32), as the numpy evaluator holds them."""
    from edge_agent.wake.models import BUILTIN_MODELS, default_models_dir
    from edge_agent.wake.onnxwire import read_model

    total = 0
    for name in models.split(","):
        graph = read_model(default_models_dir() / BUILTIN_MODELS[name][0]).graph
        total += sum(t.data.nbytes for t in graph.initializers.values() if t.data is not None)
    return total / 2**20


ALL_MODELS = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy")


def _score_stream(pcm: object) -> dict[str, object]:
    """Both detectors over one stream: per-model scores (steps, 4) and detections each."""
    import numpy as np

    from edge_agent.config import WakeConfig
    from edge_agent.wake.detector import WakeDetector
    from edge_agent.wake.models import BUILTIN_MODELS, ModelPaths, default_models_dir

    variants: dict[str, object] = {}
    exec(CLASSIFIERS, variants)
    folder = default_models_dir()
    paths = ModelPaths(
        folder / "melspectrogram.onnx", folder / "embedding_model.onnx",
        {n: folder / BUILTIN_MODELS[n][0] for n in ALL_MODELS}, folder / "silero_vad.onnx",
    )  # fmt: skip
    assert isinstance(pcm, np.ndarray)
    out: dict[str, object] = {}
    for which in VARIANTS:
        variants["use"](which)  # type: ignore[operator]
        det = WakeDetector(WakeConfig(models=ALL_MODELS), paths)
        runners = {m.runner for m in det._scorer._models.values()}  # type: ignore[union-attr]
        assert runners == {"numpy" if which == "numpy" else "onnxruntime"}, runners
        n = len(pcm) // 1280
        scores = np.zeros((n, len(ALL_MODELS)), np.float32)
        dets = []
        for i in range(n):
            step = pcm[i * 1280 : (i + 1) * 1280]
            dets += [(d.model, d.sample_16k, d.end_sample_16k) for d in det.process(step)]
            scores[i] = [det.last_scores[m] for m in ALL_MODELS]
        out[which] = (scores, dets)
    return out


def equality(workers: int) -> int:
    """Scores and detections of numpy vs onnxruntime classifiers over the eval wakeset."""
    from multiprocessing import Pool

    import numpy as np

    from edge_agent.config import WakeConfig
    from edge_agent.sim.wakeset import build_wakeset
    from edge_agent.wake.models import default_models_dir, fetch_models

    fetch_models(default_models_dir())
    ev = build_wakeset("eval", min_negative_s=1800.0, workers=2 * workers)
    streams = ev.positives + ev.negatives
    with Pool(workers) as pool:
        results = pool.map(_score_stream, [s.pcm for s in streams], chunksize=1)
    steps = sum(len(r["numpy"][0]) for r in results)  # type: ignore[index]
    print(f"eval wakeset: {ev.n_positives} positives, {ev.negative_s / 60:.1f} min negatives, "
          f"{len(streams)} streams, {steps} steps; WakeDetector defaults, all four models")  # fmt: skip
    threshold = WakeConfig().threshold
    a = np.concatenate([r["numpy"][0] for r in results])  # type: ignore[index]
    b = np.concatenate([r["onnx"][0] for r in results])  # type: ignore[index]
    same = all(r["numpy"][1] == r["onnx"][1] for r in results)  # type: ignore[index]
    for j, name in enumerate(ALL_MODELS):
        diff = float(np.abs(a[:, j] - b[:, j]).max())
        flips = int(np.sum((a[:, j] >= threshold) != (b[:, j] >= threshold)))
        n_det = sum(sum(1 for d in r["onnx"][1] if d[0] == name) for r in results)  # type: ignore[index]
        print(f"{name:12s} max |numpy - onnx| {diff:.2e}  steps >= {threshold} on one side "
              f"only {flips}  detections (onnx) {n_det}")  # fmt: skip
        print(f"::metric wake_numpy | max score diff, {name} | {diff:.2e} | < 1e-4")
    print(
        f"detections: {'the same' if same else 'DIFFERENT'} "
        f"({sum(len(r['numpy'][1]) for r in results)} numpy, "  # type: ignore[index]
        f"{sum(len(r['onnx'][1]) for r in results)} onnx)"
    )  # type: ignore[index]
    print(f"::metric wake_numpy | detections changed | {0 if same else 'some'} | 0")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--models", default="hey_jarvis", help="comma-separated built-in names")
    parser.add_argument("--scores", action="store_true", help="equality on the eval wakeset")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if args.scores:
        return equality(args.workers)
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for which in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
            res = child(which, args.steps, args.models)
            runs[which].append(res)
            row = "  ".join(f"{k} {res[k]:.3f}" for k in FIELDS)
            print(f"round {r + 1} {which:5s}  {row}  ({','.join(res['runners'])})", flush=True)  # type: ignore[arg-type]
    med = {v: {k: statistics.median(x[k] for x in runs[v]) for k in FIELDS} for v in VARIANTS}
    print(f"\n{args.models}: median over rounds (RSS in MB, CPU in ms per 80 ms step):")
    print(f"{'':6s}" + "".join(f"{k:>10s}" for k in FIELDS))
    for v in VARIANTS:
        print(f"{v:6s}" + "".join(f"{med[v][k]:10.3f}" for k in FIELDS))
    print(f"classifier weights (float32, held by either): {weights_mb(args.models):.2f} MB")
    built = med["onnx"]["built"] - med["numpy"]["built"]
    saved = med["onnx"]["stepped"] - med["numpy"]["stepped"]
    print(f"::metric wake_numpy | RSS saved by numpy classifiers ({args.models}, built) | "
          f"{built:.2f} MB |")  # fmt: skip
    print(f"::metric wake_numpy | RSS saved by numpy classifiers ({args.models}, after "
          f"{args.steps} steps) | {saved:.2f} MB | >= 0.7 MB")  # fmt: skip
    print(f"::metric wake_numpy | classifier CPU per step numpy / onnx | "
          f"{med['numpy']['clf_ms']:.3f} / {med['onnx']['clf_ms']:.3f} ms | the price (+0.04 % of a core)")  # fmt: skip
    print(f"::metric wake_numpy | detector CPU per step numpy / onnx | "
          f"{med['numpy']['step_ms']:.3f} / {med['onnx']['step_ms']:.3f} ms | <= 1.1x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
