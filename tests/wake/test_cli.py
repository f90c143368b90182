"""`edge-agent wake-test` and `edge-agent models fetch` through the real CLI entry point."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from edge_agent.cli import main
from edge_agent.sim.speech import concat, speak


def _write_wav(path: Path, pcm: np.ndarray, rate_hz: int, channels: int = 1) -> Path:
    frames = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(frames.astype("<i2").tobytes())
    return path


@pytest.fixture
def wake_wav(tmp_path: Path) -> Path:
    """44.1 kHz stereo: hey jarvis at 1 s, hey travis at ~4 s."""
    rate = 44100
    audio = concat(
        1.0,
        speak("hey jarvis", rate_hz=rate),
        2.0,
        speak("hey travis", rate_hz=rate),
        1.0,
        rate_hz=rate,
    )
    return _write_wav(tmp_path / "wake.wav", audio, rate, channels=2)


def test_wake_test_json(
    wake_wav: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["wake-test", str(wake_wav), "--json", "--models-dir", str(models_dir)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 0
    detections = [x for x in lines if x["event"] == "detection"]
    assert [d["model"] for d in detections] == ["hey_jarvis"]
    assert 1.5 < detections[0]["time_s"] < 2.6
    (best,) = [x for x in lines if x["event"] == "max"]
    assert best["model"] == "hey_jarvis" and best["score"] > 0.9


def test_wake_test_text_with_two_models_and_a_threshold(
    wake_wav: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["wake-test", str(wake_wav), "--models-dir", str(models_dir), "--model", "alexa"]
    assert main([*argv, "--model", "hey_jarvis", "--threshold", "0.99"]) == 0
    out = capsys.readouterr().out
    assert "max alexa: " in out and "max hey_jarvis: 0.99" in out
    assert main([*argv, "--threshold", "1.5"]) == 78


def test_wake_test_without_models_exits_unavailable(
    wake_wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["wake-test", str(wake_wav), "--models-dir", str(tmp_path)]) == 69
    assert "edge-agent models fetch" in capsys.readouterr().err


def test_wake_test_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    assert main(["wake-test", str(bad)]) == 1
    assert "not a PCM WAV file" in capsys.readouterr().err


def test_models_fetch_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "fetch", "--dir", str(tmp_path / "m")]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 7 + 4 and all(Path(p).is_file() for p in printed)
    micro = sorted(Path(p).name for p in printed if Path(p).parent.name == "micro")
    assert micro == ["alexa.json", "hey_jarvis.json", "hey_mycroft.json", "okay_nabu.json"]
    assert all((tmp_path / "m" / "micro" / f"{Path(n).stem}.tflite").is_file() for n in micro)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["models", "fetch", "--dir", str(tmp_path / "n"), "--source", str(empty)]) == 69
