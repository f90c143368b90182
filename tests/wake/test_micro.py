"""The microWakeWord engine behind the shared detector: decisions on espeak-ng speech, the
models' checks and errors, custom models by path, and no onnxruntime in its process."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_agent.config import Config, WakeConfig
from edge_agent.errors import WakeModelError
from edge_agent.sim.speech import concat
from edge_agent.wake.detector import Detection, WakeDetector
from edge_agent.wake.micro_models import MICRO_MODELS, fetch_micro_models, load_manifest
from edge_agent.wake.models import resolve_models
from tests.wake.conftest import RATE_HZ, say

# Voices each built-in model accepts at its manifest cutoff (bench/wake_accuracy.py measures the
# rest: microWakeWord's hey_jarvis misses many espeak-ng voices; okay_nabu few).
JARVIS_VOICES = [("en-us+f3", 160), ("en-us+f3", 190), ("en-us+f4", 160), ("en-029+f3", 160)]
NABU_VOICES = [("en-us", 150), ("en-gb", 160), ("en-gb-x-rp", 140), ("en-us-nyc", 180)]
NEGATIVES = [
    ("hey travis", "en-gb-scotland"),
    ("jarvis", "en-us+f3"),
    ("hey marvin", "en-us+f4"),
    ("okay", "en-us"),
    ("a new tab", "en-gb"),
    ("what's the weather in toronto", "en-us"),
    ("turn on the kitchen light", "en-gb-scotland"),
]


def _cfg(models: tuple[str, ...], **wake: object) -> Config:
    base = Config()
    return dataclasses.replace(
        base,
        wake=dataclasses.replace(base.wake, engine="microwakeword", models=models, **wake),  # type: ignore[arg-type]
    )


def _detector(micro_dir: Path, *models: str, **wake: object) -> WakeDetector:
    cfg = _cfg(models, **wake)
    return WakeDetector(cfg.wake, resolve_models(cfg, micro_dir))


def _run(detector: WakeDetector, pcm: np.ndarray) -> list[Detection]:
    out: list[Detection] = []
    for start in range(0, len(pcm), 1280):
        out.extend(detector.process(pcm[start : start + 1280]))
    return out


def _floor(pcm: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(0).standard_normal(len(pcm)) * 30
    return np.clip(pcm + noise, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(("voice", "wpm"), JARVIS_VOICES)
def test_hey_jarvis_fires_once_with_its_manifest_cutoff(
    micro_dir: Path, voice: str, wpm: int
) -> None:
    detector = _detector(micro_dir, "hey_jarvis")
    assert detector.thresholds == {"hey_jarvis": 0.97}
    word = say("hey jarvis", voice, wpm)
    hits = _run(detector, _floor(concat(1.0, word, 2.0, rate_hz=RATE_HZ)))
    assert [d.model for d in hits] == ["hey_jarvis"]
    word_end = RATE_HZ + int(np.flatnonzero(np.abs(word.astype(np.int32)) > 300)[-1]) + 1
    assert 0 <= hits[0].sample_16k - word_end <= RATE_HZ // 2
    assert hits[0].score >= 0.97


@pytest.mark.parametrize(("voice", "wpm"), NABU_VOICES)
def test_okay_nabu_fires_once(micro_dir: Path, voice: str, wpm: int) -> None:
    detector = _detector(micro_dir, "okay_nabu")
    assert detector.thresholds == {"okay_nabu": 0.85}
    hits = _run(detector, _floor(concat(1.0, say("okay nabu", voice, wpm), 2.0, rate_hz=RATE_HZ)))
    assert [d.model for d in hits] == ["okay_nabu"]


@pytest.mark.parametrize(("text", "voice"), NEGATIVES)
def test_negatives_never_fire(micro_dir: Path, text: str, voice: str) -> None:
    detector = _detector(micro_dir, "hey_jarvis", "okay_nabu")
    assert _run(detector, _floor(concat(1.0, say(text, voice), 1.5, rate_hz=RATE_HZ))) == []


def test_noise_and_silence_never_fire(micro_dir: Path) -> None:
    detector = _detector(micro_dir, "hey_jarvis", "okay_nabu")
    noise = (np.random.default_rng(1).standard_normal(RATE_HZ * 5) * 2000).astype(np.int16)
    assert _run(detector, concat(3.0, noise, 3.0, rate_hz=RATE_HZ)) == []


def test_end_estimate_after_a_pause_with_microvad(micro_dir: Path) -> None:
    detector = _detector(micro_dir, "hey_jarvis")
    word = say("hey jarvis", "en-us+f3", 160)
    start, end = (int(i) for i in np.flatnonzero(np.abs(word.astype(np.int32)) > 300)[[0, -1]])
    word = word[start : end + 1]
    pcm = _floor(concat(1.0, word, 0.8, say("what time is it", "en-us+f3"), 2.0, rate_hz=RATE_HZ))
    [hit] = _run(detector, pcm)
    word_end = RATE_HZ + len(word)
    assert hit.end_method == "silence"
    assert word_end - 100 * RATE_HZ // 1000 <= hit.end_sample_16k <= word_end + 8 * RATE_HZ // 10


def test_a_configured_cutoff_overrides_the_manifest(micro_dir: Path) -> None:
    detector = _detector(micro_dir, "hey_jarvis", "okay_nabu", micro_cutoff=0.5)
    assert detector.thresholds == {"hey_jarvis": 0.5, "okay_nabu": 0.5}


def test_missing_model_says_run_models_fetch(tmp_path: Path) -> None:
    with pytest.raises(WakeModelError, match=r"missing.*edge-agent models fetch"):
        resolve_models(_cfg(("hey_jarvis",)), tmp_path)


def test_corrupt_model_fails_its_checksum_with_the_fix(tmp_path: Path, micro_dir: Path) -> None:
    shutil.copytree(micro_dir / "micro", tmp_path / "micro")
    (tmp_path / "micro" / "okay_nabu.tflite").write_bytes(b"\0" * 1000)
    with pytest.raises(WakeModelError, match=r"sha256.*edge-agent models fetch"):
        resolve_models(_cfg(("okay_nabu",)), tmp_path)
    assert fetch_micro_models(tmp_path, ["okay_nabu"])  # fetch repairs it
    assert resolve_models(_cfg(("okay_nabu",)), tmp_path).wake == {
        "okay_nabu": tmp_path / "micro" / "okay_nabu.json"
    }


def test_custom_model_by_path_is_named_after_its_file(tmp_path: Path, micro_dir: Path) -> None:
    for ext in ("tflite", "json"):
        shutil.copy(micro_dir / "micro" / f"okay_nabu.{ext}", tmp_path / f"my_word.{ext}")
    manifest = json.loads((tmp_path / "my_word.json").read_text())
    manifest["model"] = "my_word.tflite"
    (tmp_path / "my_word.json").write_text(json.dumps(manifest))
    cfg = _cfg((str(tmp_path / "my_word.tflite"),))
    paths = resolve_models(cfg, micro_dir)
    assert paths.wake == {"my_word": tmp_path / "my_word.json"}
    detector = WakeDetector(cfg.wake, paths)
    hits = _run(detector, _floor(concat(1.0, say("okay nabu"), 2.0, rate_hz=RATE_HZ)))
    assert [d.model for d in hits] == ["my_word"]


def test_a_custom_file_that_is_not_tflite_is_refused_not_crashed(tmp_path: Path) -> None:
    (tmp_path / "bad.tflite").write_bytes(b"definitely not a flatbuffer" * 10)
    (tmp_path / "bad.json").write_text(
        json.dumps({"model": "bad.tflite", "micro": {"probability_cutoff": 0.9,
                                                     "sliding_window_size": 5}})
    )  # fmt: skip
    cfg = _cfg((str(tmp_path / "bad.json"),))
    with pytest.raises(WakeModelError, match="not a TFLite model"):
        WakeDetector(cfg.wake, resolve_models(cfg, tmp_path))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"model": "../x.tflite", "micro": {"probability_cutoff": 0.9, "sliding_window_size": 5}},
         "file name beside it"),
        ({"model": "x.tflite", "micro": {"probability_cutoff": 2, "sliding_window_size": 5}},
         "probability_cutoff"),
        ({"model": "x.tflite", "micro": {"probability_cutoff": 0.9, "sliding_window_size": 0}},
         "sliding_window_size"),
        ({"model": "x.tflite"}, "not a microWakeWord manifest"),
        ({"model": "missing.tflite", "micro": {"probability_cutoff": 0.9,
                                               "sliding_window_size": 5}}, "not beside it"),
    ],
)  # fmt: skip
def test_hostile_manifests_are_refused(
    tmp_path: Path, doc: dict[str, object], message: str
) -> None:
    (tmp_path / "x.tflite").write_bytes(b"x")
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(WakeModelError, match=message):
        load_manifest(tmp_path / "m.json")


def test_builtin_checksums_cover_every_model_the_package_ships(micro_dir: Path) -> None:
    shipped = sorted(p.name for p in (micro_dir / "micro").iterdir())
    assert shipped == sorted(f"{n}.{e}" for n in MICRO_MODELS for e in ("json", "tflite"))


def test_a_microwakeword_daemon_never_imports_onnxruntime(micro_dir: Path) -> None:
    code = (
        "import sys, dataclasses\n"
        "from pathlib import Path\n"
        "from edge_agent.config import Config\n"
        "from edge_agent.wake.detector import WakeDetector\n"
        "from edge_agent.wake.models import resolve_models\n"
        "c = Config()\n"
        "c = dataclasses.replace(c, wake=dataclasses.replace(c.wake, engine='microwakeword'))\n"
        f"d = WakeDetector(c.wake, resolve_models(c, Path({str(micro_dir)!r})))\n"
        "import numpy as np\n"
        "d.process(np.zeros(16000, np.int16))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'onnxruntime'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"


def test_the_openwakeword_verifier_is_refused_with_microwakeword(micro_dir: Path) -> None:
    with pytest.raises(WakeModelError, match="verifier"):
        _detector(micro_dir, "hey_jarvis", verifier_model=str(micro_dir / "v.npz"))


def test_wake_config_default_engine_is_openwakeword() -> None:
    assert WakeConfig().engine == "openwakeword"


def test_doctor_names_the_engine_and_its_cutoffs(micro_dir: Path) -> None:
    import asyncio

    from edge_agent.probes.machine import wake_models

    got = asyncio.run(wake_models(_cfg(("hey_jarvis", "okay_nabu")), micro_dir))
    assert got.detail.startswith("microwakeword: hey_jarvis 0.97, okay_nabu 0.85 load and run")
    broken = asyncio.run(wake_models(_cfg(("hey_jarvis",)), micro_dir / "nowhere"))
    assert "missing" in broken.detail and "edge-agent models fetch" in broken.hint
