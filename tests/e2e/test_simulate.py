"""`edge-agent simulate --help` (the full run is in test_journal.py, under the journald rig)."""

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
