"""Model files: fetched from the installed package or a wheel, verified, resolved with a fix hint."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest

from edge_agent.config import Config, WakeConfig
from edge_agent.errors import WakeModelError
from edge_agent.wake.models import BUILTIN_MODELS, fetch_models, resolve_models, sha256_file


@pytest.fixture(autouse=True)
def _no_env_models_dir(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$EDGE_AGENT_MODELS_DIR (set by test.sh) would override the dirs these tests pass."""
    monkeypatch.delenv("EDGE_AGENT_MODELS_DIR", raising=False)


def _cfg(models_dir: Path, **wake: object) -> Config:
    return Config(wake=WakeConfig(models_dir=str(models_dir), **wake))  # type: ignore[arg-type]


def test_fetch_from_installed_package_verifies_and_is_idempotent(tmp_path: Path) -> None:
    paths = fetch_models(tmp_path, ["melspectrogram", "hey_jarvis"])
    assert [p.name for p in paths] == ["melspectrogram.onnx", "hey_jarvis_v0.1.onnx"]
    assert sha256_file(paths[1]) == BUILTIN_MODELS["hey_jarvis"][1]
    mtime = paths[1].stat().st_mtime_ns
    fetch_models(tmp_path, ["hey_jarvis"])
    assert paths[1].stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_fetch_repairs_a_corrupt_file(tmp_path: Path) -> None:
    (path,) = fetch_models(tmp_path, ["hey_rhasspy"])
    path.write_bytes(b"garbage")
    fetch_models(tmp_path, ["hey_rhasspy"])
    assert sha256_file(path) == BUILTIN_MODELS["hey_rhasspy"][1]


def test_fetch_from_a_wheel(tmp_path: Path, models_dir: Path) -> None:
    wheel = tmp_path / "openwakeword-0.5.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name in ("melspectrogram", "alexa"):
            file_name = BUILTIN_MODELS[name][0]
            zf.write(models_dir / file_name, f"openwakeword/resources/models/{file_name}")
    dest = tmp_path / "out"
    paths = fetch_models(dest, ["melspectrogram", "alexa"], source=wheel)
    assert all(
        sha256_file(p) == BUILTIN_MODELS[n][1]
        for p, n in zip(paths, ["melspectrogram", "alexa"], strict=True)
    )
    with pytest.raises(WakeModelError, match="not found"):
        fetch_models(dest, ["hey_mycroft"], source=wheel)
    torn = tmp_path / "torn-0.5.1-py3-none-any.whl"
    torn.write_bytes(wheel.read_bytes()[:200])  # a download cut short: not a zip any more
    with pytest.raises(WakeModelError, match="not a wheel"):
        fetch_models(tmp_path / "out2", ["alexa"], source=torn)


def test_fetch_rejects_a_source_with_the_wrong_bytes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "alexa_v0.1.onnx").write_bytes(b"not the model")
    with pytest.raises(WakeModelError, match="sha256"):
        fetch_models(tmp_path / "out", ["alexa"], source=src)
    assert not (tmp_path / "out" / "alexa_v0.1.onnx").exists()


def test_resolve_gives_explicit_paths(models_dir: Path) -> None:
    paths = resolve_models(_cfg(models_dir, models=("hey_jarvis", "alexa"), vad_threshold=0.0))
    assert paths.wake == {
        "hey_jarvis": models_dir / "hey_jarvis_v0.1.onnx",
        "alexa": models_dir / "alexa_v0.1.onnx",
    }
    assert paths.melspectrogram == models_dir / "melspectrogram.onnx"
    # Silero VAD is loaded even without the gate: the wake word's end estimate uses it.
    assert paths.vad == models_dir / "silero_vad.onnx"
    assert resolve_models(_cfg(models_dir), vad=False).vad is None


def test_resolve_missing_or_corrupt_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(WakeModelError, match=r"missing.*edge-agent models fetch"):
        resolve_models(_cfg(tmp_path))
    fetch_models(tmp_path, ["melspectrogram", "embedding_model", "hey_jarvis"])
    (tmp_path / "hey_jarvis_v0.1.onnx").write_bytes(b"x")
    with pytest.raises(WakeModelError, match=r"sha256.*edge-agent models fetch"):
        resolve_models(_cfg(tmp_path))


def test_resolve_custom_model_by_path(tmp_path: Path, models_dir: Path) -> None:
    custom = tmp_path / "hey_computer.onnx"
    custom.write_bytes((models_dir / "alexa_v0.1.onnx").read_bytes())
    paths = resolve_models(_cfg(models_dir, models=(str(custom),)))
    assert paths.wake == {"hey_computer": custom}
    for bad in (str(tmp_path / "nope.onnx"), "hey_siri"):
        with pytest.raises(WakeModelError):
            resolve_models(_cfg(models_dir, models=(bad,)))


def test_resolve_uses_the_env_dir(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_AGENT_MODELS_DIR", str(models_dir))
    cfg = dataclasses.replace(Config(), wake=WakeConfig(models_dir="/nonexistent"))
    assert resolve_models(cfg).embedding == models_dir / "embedding_model.onnx"


def test_unloadable_custom_model_raises_wake_model_error(tmp_path: Path, models_dir: Path) -> None:
    from edge_agent.wake.detector import WakeDetector

    custom = tmp_path / "broken.onnx"
    custom.write_bytes(b"not onnx")
    paths = resolve_models(_cfg(models_dir, models=(str(custom),)))
    with pytest.raises(WakeModelError, match="cannot load model"):
        WakeDetector(WakeConfig(), paths)
