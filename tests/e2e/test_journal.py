"""The turn as journald sees it: `edge-agent simulate` logging into the journald rig."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from edge_agent.sim.journald import entry_dict, namespaced
from edge_agent.sim.pipeline_rig import SIM_API_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_a_turn_logs_one_summary_with_its_fields(models_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("EDGE_AGENT_LOG_STDERR",)}
    env.update(PYTHONPATH=str(ROOT), EDGE_AGENT_MODELS_DIR=str(models_dir))
    cmd = [sys.executable, "-m", "edge_agent", "simulate", "--json", "--log-level", "info"]
    proc = subprocess.run(namespaced(cmd), env=env, capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["returncode"] == 0, result["stderr"]
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
