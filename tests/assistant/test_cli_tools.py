"""`edge-agent tool` runs each assistant tool as a subprocess, through the daemon's registry, and
the store it writes is the one the daemon reads (timers and volume persist between runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from edge_agent.sim.weather import OpenMeteoEmulator

ROOT = Path(__file__).parents[2]


def run(cfg: Path, name: str, args: dict[str, object]) -> tuple[int, dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGE_AGENT_LOG_LEVEL": "warning"}
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "tool", name, json.dumps(args), "--config", str(cfg)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_each_assistant_tool_runs_from_the_cli(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    urls = serve(OpenMeteoEmulator()).config_urls()
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"
cache_dir = "{tmp_path / "cache"}"
[home]
location = "Toronto"
timezone = "America/Toronto"
[weather]
geocoding_url = "{urls["geocoding_url"]}"
forecast_url = "{urls["forecast_url"]}"
"""
    )
    code, now = run(cfg, "get_time", {})
    assert code == 0 and now["timezone"] == "America/Toronto" and len(str(now["time"])) == 5
    code, timer = run(cfg, "set_timer", {"duration": "10 minutes", "label": "pasta"})
    assert code == 0 and timer["ok"] is True
    code, alarm = run(cfg, "set_alarm", {"time": "06:30", "repeat": ["weekdays"]})
    assert code == 0 and alarm["ok"] is True
    code, listed = run(cfg, "list_timers", {"label": "pasta"})  # a new process: from the store
    assert code == 0 and [t["label"] for t in listed["timers"]] == ["pasta"]  # type: ignore[index, union-attr]
    code, gone = run(cfg, "cancel_timer", {"all": True})
    assert code == 0 and gone["ok"] is True
    code, empty = run(cfg, "list_timers", {})
    assert code == 0 and empty["timers"] == []
    code, vol = run(cfg, "set_volume", {"percent": 30})
    assert code == 0 and vol["volume_pct"] == 30
    code, vol = run(cfg, "set_volume", {})  # kept on disk
    assert code == 0 and vol["volume_pct"] == 30
    code, rain = run(cfg, "get_weather", {"when": "tomorrow"})  # the [home] location
    assert code == 0 and rain["ok"] is True and "Toronto" in str(rain["location"])
    code, bad = run(cfg, "set_timer", {"duration": "400 days"})
    assert code == 1 and bad["error"] == "bad_duration"
    code, bad = run(cfg, "set_alarm", {"time": "25:61"})
    assert code == 1 and bad["error"] == "bad_time"
