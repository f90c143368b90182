"""`edge-agent audio list|test` as a user runs them, on the ALSA file rig (subprocess: own ALSA)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from edge_agent.sim.alsa import AlsaFileRig

from .conftest import noise

ROOT = Path(__file__).resolve().parents[2]


def _run(rig: AlsaFileRig, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **rig.env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", "audio", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_list_shows_devices_without_alsa_noise(alsa_rig: AlsaFileRig) -> None:
    res = _run(alsa_rig, "list")
    assert res.returncode == 0, res.stderr
    assert "capture devices:" in res.stdout and "fakemic" in res.stdout
    assert "playback devices:" in res.stdout and "fakespk" in res.stdout
    # what each device accepts, and what it would be opened at (the file rig takes anything)
    assert "formats: 8000/1,2" in res.stdout and "48000/1,2" in res.stdout
    assert "opens at 24000 Hz mono (24000 Hz offered; mono offered)" in res.stdout
    assert "ALSA lib" not in res.stderr


def test_test_reports_level_and_plays_a_tone(alsa_rig: AlsaFileRig) -> None:
    alsa_rig.write_input(noise(24000 * 4) // 4)
    res = _run(alsa_rig, "test", "--input-device", "fakemic", "--output-device", "fakespk")
    assert res.returncode == 0, res.stderr
    assert "3.0 s recorded" in res.stdout and "dBFS: ok" in res.stdout
    assert "mic 'fakemic': opened at 24000 Hz mono (24000 Hz offered; mono offered)" in res.stdout
    tone = alsa_rig.read_output()
    assert np.count_nonzero(tone) > 0.35 * 24000


def test_test_says_silent_for_a_silent_mic(alsa_rig: AlsaFileRig) -> None:
    alsa_rig.write_input(np.zeros(24000 * 4, np.int16))
    res = _run(alsa_rig, "test", "--input-device", "fakemic", "--no-tone")
    assert res.returncode == 1
    assert "silent" in res.stdout


def test_missing_device_exits_69_listing_devices(alsa_rig: AlsaFileRig) -> None:
    res = _run(alsa_rig, "test", "--input-device", "USB Mic")
    assert res.returncode == 69
    assert "no capture device matches 'USB Mic'" in res.stderr and "'fakemic'" in res.stderr
