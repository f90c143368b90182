"""Wake-word cost: both engines, ours and bare, on the same audio, in one run.

    PYTHONPATH=. python bench/wake.py [--rounds 3]

- CPU seconds per audio second (time.process_time, single-threaded sessions), for bare
  openwakeword 0.5.1 `Model.predict` (onnx, 1280-sample frames), our `WakeDetector` with
  openWakeWord at the defaults (Silero VAD gate on) and without the gate, bare
  pymicro-wakeword 2.5.0 (`process_streaming_prob` on 10 ms chunks) and our detector with
  microWakeWord (microVAD gate on). Rounds alternate the order; the best round of each is kept.
- Detection latency after the wake word's end, over the positives of the espeak-ng eval set:
  audio time (detection sample - end of the word) and compute time of the step that fired.
- RSS after loading and 1 s of audio, each in a fresh process: ours with each engine, and bare
  (openWakeWord with the sys.modules stub that keeps scipy/sklearn out: they are not installed
  here, and importing them costs ~100 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from bench.wake_accuracy import STEP, bare_model, micro_detector, model_paths
from edge_agent.config import WakeConfig
from edge_agent.sim.wakeset import RATE_HZ, build_wakeset
from edge_agent.wake.detector import WakeDetector

RSS_CHILD = r"""
import json, sys, time, types
import numpy as np
t0 = time.monotonic()
which = sys.argv[1]
silence = np.zeros(1280, np.int16)
if which in ("ours", "ours_micro"):
    import dataclasses
    from edge_agent.config import Config
    from edge_agent.wake.detector import WakeDetector
    from edge_agent.wake.models import resolve_models
    cfg = Config()
    if which == "ours_micro":
        cfg = dataclasses.replace(cfg, wake=dataclasses.replace(cfg.wake, engine="microwakeword"))
    det = WakeDetector(cfg.wake, resolve_models(cfg))
    feed = det.process
elif which == "bare_micro":
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
    mww, feats = MicroWakeWord.from_builtin(Model.HEY_JARVIS), MicroWakeWordFeatures()
    def feed(pcm):
        for f in feats.process_streaming(pcm.tobytes()):
            mww.process_streaming_prob(f)
else:
    from bench.wake_accuracy import bare_model, model_paths
    m = bare_model(model_paths())
    feed = m.predict
load_s = time.monotonic() - t0
for _ in range(13):
    feed(silence)
rss = [l for l in open("/proc/self/status") if l.startswith(("VmRSS", "VmHWM"))]
mods = sorted({k.split(".")[0] for k in sys.modules} & {"scipy", "sklearn", "openwakeword", "onnxruntime", "pymicro_wakeword"})
print(json.dumps({"load_s": load_s, "rss": [l.split()[1] for l in rss], "mods": mods[:5]}))
"""


def cpu_per_audio_s(feed: object, pcm: np.ndarray) -> float:
    start = time.process_time()
    for i in range(len(pcm) // STEP):
        feed(pcm[i * STEP : (i + 1) * STEP])  # type: ignore[operator]
    return (time.process_time() - start) / (len(pcm) / RATE_HZ)


def rss(which: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, which],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    args = parser.parse_args()
    paths = model_paths()
    wakeset = build_wakeset("eval", min_negative_s=60.0)
    stream = wakeset.positives[0]  # ~2 min: wake words, questions, pauses, noise floor
    pcm = stream.pcm

    best: dict[str, float] = {}
    for r in range(args.rounds):
        runs = {
            "bare": lambda: bare_model(paths).predict,  # type: ignore[attr-defined]
            "ours": lambda: WakeDetector(WakeConfig(), paths).process,
            "ours_no_vad": lambda: WakeDetector(WakeConfig(vad_threshold=0.0), paths).process,
            "bare_micro": bare_micro_feed,
            "ours_micro": lambda: micro_detector().process,
        }
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for name in order:
            value = cpu_per_audio_s(runs[name](), pcm)
            best[name] = min(best.get(name, value), value)
    print(f"audio: {stream.seconds:.0f} s, best of {args.rounds} alternating rounds")
    print(
        f"CPU s per audio s: bare {best['bare']:.4f}, ours {best['ours']:.4f} "
        f"(VAD gate on), ours without VAD {best['ours_no_vad']:.4f}"
    )
    print(
        f"ratio ours/bare: {best['ours'] / best['bare']:.2f}x (goal <= 1.2x); "
        f"without VAD {best['ours_no_vad'] / best['bare']:.2f}x"
    )
    print(
        f"microWakeWord: bare {best['bare_micro']:.4f}, ours {best['ours_micro']:.4f} "
        f"(microVAD gate on) -> {best['ours_micro'] / best['bare_micro']:.2f}x bare; "
        f"ours microWakeWord / ours openWakeWord {best['ours_micro'] / best['ours']:.2f}x"
    )
    for name in ("bare", "ours", "bare_micro", "ours_micro"):
        print(f"::metric wake | CPU s per audio s, {name} | {best[name]:.4f} |")

    for engine, make in (("openwakeword", lambda: WakeDetector(WakeConfig(), paths)),
                         ("microwakeword", micro_detector)):  # fmt: skip
        latency(engine, make, wakeset)

    for which in ("ours", "bare", "ours_micro", "bare_micro"):
        info = rss(which)
        print(
            f"RSS after loading + 1 s, {which}: {int(info['rss'][0]) / 1024:.0f} MB "  # type: ignore[index]
            f"(peak {int(info['rss'][1]) / 1024:.0f} MB), load {info['load_s']:.2f} s, "  # type: ignore[index]
            f"modules: {info['mods']}"
        )
    return 0


def bare_micro_feed() -> object:
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

    mww, feats = MicroWakeWord.from_builtin(Model.HEY_JARVIS), MicroWakeWordFeatures()

    def feed(pcm: np.ndarray) -> None:
        for f in feats.process_streaming(pcm.tobytes()):
            mww.process_streaming_prob(f)

    return feed


def latency(engine: str, make: object, wakeset: object) -> None:
    """Detection latency after the word's end and compute of the firing step, one engine."""
    audio_lat, compute_ms = [], []
    for positives in wakeset.positives:  # type: ignore[attr-defined]
        det = make()  # type: ignore[operator]
        ends = [sp.end for sp in positives.spans if sp.kind == "wake"]
        step_ms = []
        fired = []
        for i in range(len(positives.pcm) // STEP):
            t0 = time.perf_counter()
            got = det.process(positives.pcm[i * STEP : (i + 1) * STEP])
            step_ms.append((time.perf_counter() - t0) * 1000)
            for d in got:
                fired.append(d.sample_16k)
                compute_ms.append(step_ms[-1])
        for end in ends:
            hits = [d for d in fired if end - RATE_HZ <= d <= end + RATE_HZ]
            if hits:
                audio_lat.append((hits[0] - end) / RATE_HZ)
    lat = np.array(audio_lat)
    if not len(lat):
        print(f"{engine}: no detections")
        return
    print(
        f"{engine}: detection latency after the word's end ({len(lat)} detections): audio p50 "
        f"{np.median(lat) * 1000:.0f} ms, max {lat.max() * 1000:.0f} ms; compute of the firing "
        f"step p50 {np.median(compute_ms):.1f} ms, max {max(compute_ms):.1f} ms "
        f"(+ up to 80 ms of buffering into a step)"
    )


if __name__ == "__main__":
    sys.exit(main())
