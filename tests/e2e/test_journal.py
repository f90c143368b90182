"""`edge-agent simulate` as a user runs it (default input and scenario, --json), logging into
the journald rig: the report, and the turn as journald sees it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from edge_agent.sim.journald import entry_dict, namespaced
from edge_agent.sim.pipeline_rig import SIM_API_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_simulate_reports_the_turn_and_journald_gets_one_summary(models_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("EDGE_AGENT_LOG_STDERR",)}
    env.update(PYTHONPATH=str(ROOT), EDGE_AGENT_MODELS_DIR=str(models_dir))
    cmd = [sys.executable, "-m", "edge_agent", "simulate", "--json", "--log-level", "info"]
    proc = subprocess.run(namespaced(cmd), env=env, capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["returncode"] == 0, result["stderr"]
    check_report(json.loads(result["stdout"]))
    raw = [base64.b64decode(d) for d in result["datagrams"]]
    entries = [entry_dict(d) for d in raw]
    summaries = [e for e in entries if e["MESSAGE"].startswith("turn completed (wake)")]
    assert len(summaries) == 1
    turn = summaries[0]
    assert turn["SYSLOG_IDENTIFIER"] == "edge-agent" and turn["PRIORITY"] == "6"
    assert turn["OUTCOME"] == "completed" and turn["TRIGGER"] == "wake"
    assert turn["TOOLS"] == "get_weather:ok" and turn["TOOL_CALLS"] == "1"
    assert float(turn["WAKE_SCORE"]) >= 0.5
    for key in ("WAKE_TO_STREAM_MS", "LATENCY_MS", "REPLY_MS", "TURN_MS"):
        assert int(turn[key]) >= 0, key
    same_turn = [e for e in entries if e.get("TURN_ID") == turn["TURN_ID"]]
    states = [e["STATE"] for e in same_turn if e["MESSAGE"].startswith("state ")]
    assert states == ["listening", "thinking", "speaking"]  # then the follow-up turn's
    assert any(e.get("TOOL") == "get_weather" for e in same_turn)
    assert all(SIM_API_KEY.encode() not in d for d in raw)


def check_report(report: dict[str, Any]) -> None:
    """What `simulate --json` says about the default weather question."""
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
