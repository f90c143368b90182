"""`edge-agent devices list/test`, `edge-agent tool` and `edge-agent sim devices` as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent.sim.devices.shelly_gen2 import ShellyGen2Emulator
from edge_agent.sim.devices.tasmota import TasmotaEmulator

ROOT = Path(__file__).parents[2]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGE_AGENT_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip


def write_config(tmp_path: Path, plug_port: int, light_port: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"

[tools]
http_timeout_s = 0.8

[[devices]]
name = "Desk plug"
family = "tasmota"
host = "127.0.0.1"
port = {plug_port}
area = "Office"
password = "plug-cli-secret"

[[devices]]
name = "Hall light"
family = "shelly_gen2"
host = "127.0.0.1"
port = {light_port}
kind = "light"
actions = ["power", "brightness", "read"]

[[devices]]
name = "Porch"
family = "tasmota"
host = "127.0.0.1"
port = 9
"""
    )
    return path


@pytest.fixture
def config(tmp_path: Path, serve):
    plug = serve(TasmotaEmulator(password="plug-cli-secret"))
    light = serve(ShellyGen2Emulator(mode="light"))
    return write_config(tmp_path, plug.port, light.port), plug, light


def test_devices_list_shows_live_state(config) -> None:
    path, plug, _ = config
    plug.power = ["ON"]
    proc = run("devices", "list", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["NAME", "AREA", "KIND", "FAMILY", "ACTIONS", "STATE"]
    assert "Desk plug" in lines[1] and "on=True" in lines[1] and "power_w=5.0" in lines[1]
    assert "Hall light" in lines[2] and "brightness_pct=50" in lines[2]
    assert "error unreachable" in lines[3]
    assert "plug-cli-secret" not in proc.stdout + proc.stderr


def test_devices_test_one_and_all(config) -> None:
    path, _, _ = config
    one = run("devices", "test", "hall lite", "--config", str(path))
    assert one.returncode == 0 and one.stdout.startswith("ok   Hall light"), one.stdout
    everything = run("devices", "test", "--config", str(path))
    assert everything.returncode == 69
    assert "FAIL Porch" in everything.stdout and "ok   Desk plug" in everything.stdout


def test_tool_runs_like_the_model(config) -> None:
    path, _, light = config
    proc = run("tool", "set_light", '{"device": "hall light", "brightness_pct": 25}',
               "--config", str(path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "ok": True,
        "device": "Hall light",
        "state": {"on": True, "brightness_pct": 25},
    }
    assert light.lights[0]["brightness"] == 25.0
    refused = run("tool", "set_power", '{"device": "http://10.0.0.1/", "state": "on"}',
                  "--config", str(path))  # fmt: skip
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"] == "not_found"
    saved = run("tool", "set_memory", '{"key": "k", "value": "v"}', "--config", str(path))
    assert json.loads(saved.stdout)["ok"] is True
    again = run("tool", "get_memory", '{"key": "k"}', "--config", str(path))
    assert json.loads(again.stdout)["value"] == "v"


def test_sim_devices_serves_the_config(tmp_path: Path) -> None:
    source = write_config(tmp_path, 1, 2)
    copy = tmp_path / "sim.toml"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGE_AGENT_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "sim", "devices", "--config", str(source),
         "--write-config", str(copy)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
            if lines[-1].startswith("serving"):
                break
        assert any(line.startswith("Desk plug: tasmota on http://127.0.0.1:") for line in lines)
        assert (copy.stat().st_mode & 0o777) == 0o600
        result = run("tool", "set_power", '{"device": "desk plug", "state": "on"}',
                     "--config", str(copy))  # fmt: skip
        assert json.loads(result.stdout) == {
            "ok": True, "device": "Desk plug", "state": {"on": True}
        }  # fmt: skip
        weather = run("tool", "get_weather", '{"location": "Toronto"}', "--config", str(copy))
        assert json.loads(weather.stdout)["location"] == "Toronto, Ontario, Canada"
    finally:
        proc.terminate()
        proc.wait(10)
