"""`edge-agent simulate` as a user runs it: a subprocess, default input and scenario, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_simulate_default_weather_question_json(models_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "NOTIFY_SOCKET")}
    env.update(PYTHONPATH=str(ROOT), EDGE_AGENT_MODELS_DIR=str(models_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "simulate", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["exit_code"] == 0
    assert report["states"][:4] == ["idle", "listening", "thinking", "speaking"]
    [call] = report["tool_calls"]
    assert call["name"] == "get_weather" and call["arguments"] == {"location": "Toronto"}
    assert call["result"]["ok"] is True and call["result"]["temperature_c"] == -2.5
    [reply] = report["replies"]
    assert reply["played_exact_samples"] == reply["samples"] > 24000
    first = report["turns"][0]
    assert first["OUTCOME"] == "completed" and first["TRIGGER"] == "wake"
    assert first["LATENCY_MS"] >= 0 and float(first["WAKE_SCORE"]) >= 0.5
    assert report["streamed_samples"] > 24000
    texts = [e["text"] for e in report["timeline"]]
    assert any(t.startswith("wake word hey_jarvis") for t in texts)


def test_simulate_help_names_its_options() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "simulate", "--help"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0
    for option in ("--input WAV", "--scenario FILE", "--json", "--timeout-s"):
        assert option in proc.stdout
