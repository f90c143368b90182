"""`edge-agent simulate --help`, and a scripted run of the assistant tools (the default run is in
test_journal.py, under the journald rig)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


def test_simulate_scripts_the_assistant_tools(tmp_path: Path, models_dir: Path) -> None:
    """The bundled assistant scenario through `edge-agent simulate`: the daemon's own registry
    runs each call (a timer in the [home] zone, the forecast from the Open-Meteo emulator, the
    volume), and the results are the tools' real answers."""
    import json

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[daemon]\nstate_dir = "{tmp_path}"\ncache_dir = "{tmp_path}"\n'
        '[home]\ntimezone = "America/Toronto"\n'
    )
    scenario = ROOT / "edge_agent" / "sim" / "data" / "assistant.toml"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGE_AGENT_MODELS_DIR": str(models_dir)}
    env["EDGE_AGENT_LOG_STDERR"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "simulate", "--config", str(cfg),
         "--scenario", str(scenario), "--json"],
        env=env, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    calls = {c["name"]: c for c in report["tool_calls"]}
    assert set(calls) == {"set_timer", "get_weather", "set_volume"}
    assert all(c["result"]["ok"] for c in calls.values()), calls
    assert calls["set_timer"]["result"]["set"]["label"] == "tea"
    assert calls["get_weather"]["result"]["location"].startswith("Toronto")
    assert calls["set_volume"]["result"] == {"volume_pct": 90, "was_pct": 100, "ok": True}
    tools = report["turns"][0]["TOOLS"].split(",")  # in the order they finished
    assert sorted(tools) == ["get_weather:ok", "set_timer:ok", "set_volume:ok"]
