"""`edge-agent tool` and `edge-agent doctor` with Home Assistant and MCP servers, as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .conftest import TOKEN, Running, stdio_command

ROOT = Path(__file__).parents[2]


def run(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGE_AGENT_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip


@pytest.fixture
def not_found() -> Iterator[str]:
    """An HTTP server where Home Assistant would be, without the MCP integration (404)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _config(tmp_path: Path, ha_url: str, token: str = TOKEN, servers: str = "") -> Path:
    token_file = tmp_path / "ha.token"
    token_file.write_text(token)
    path = tmp_path / "config.toml"
    path.write_text(f"""
[daemon]
state_dir = "{tmp_path / "state"}"

[tools]
enabled = []

[homeassistant]
url = "{ha_url}"
token_file = "{token_file}"
{servers}
""")
    return path


def test_tool_command_calls_home_assistant(ha_server: Running, tmp_path: Path) -> None:
    cfg = _config(tmp_path, ha_server.url.removesuffix("/api/mcp"))
    listed = run("tool", "--config", str(cfg), "--list")
    assert listed.returncode == 0, listed.stderr
    assert "ha_HassTurnOff" in {s["name"] for s in json.loads(listed.stdout)}
    res = run("tool", "--config", str(cfg), "ha_HassLightSet",
              '{"name": "Hall Light", "brightness": 30}')  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["result"]["response_type"] == "action_done"
    assert {"tool": "HassLightSet", "args": {"name": "Hall Light", "brightness": 30}} in (
        ha_server.received()
    )
    assert TOKEN not in res.stdout + res.stderr


def _doctor(cfg: Path) -> dict[str, dict[str, Any]]:
    res = run("doctor", "--config", str(cfg), "--json", "--skip", "audio", "--skip", "wake",
              "--skip", "gpio", "--skip", "network", "--skip", "realtime")  # fmt: skip
    checks = json.loads(res.stdout)["checks"]
    assert TOKEN not in res.stdout
    return {c["check"]: c for c in checks}


def test_doctor_checks_home_assistant_and_mcp_servers(ha_server: Running, tmp_path: Path) -> None:
    command, args = stdio_command("misc", tmp_path / "log.jsonl")
    servers = f"""
[[mcp.servers]]
name = "local"
command = {json.dumps(command)}
args = {json.dumps(args)}
allow = ["echo"]

[[mcp.servers]]
name = "unvetted"
command = {json.dumps(command)}
args = {json.dumps(args)}

[[mcp.servers]]
name = "gone"
url = "http://127.0.0.1:9/mcp"
"""
    got = _doctor(_config(tmp_path, ha_server.url.removesuffix("/api/mcp"), servers=servers))
    ha = got["homeassistant"]
    assert ha["status"] == "ok", ha
    assert "MCP server on, token accepted, 6 tools" in ha["detail"]
    assert got["mcp local"]["status"] == "ok"
    assert "8 tools; offered: echo; not allowed: 7" in got["mcp local"]["detail"]
    assert got["mcp unvetted"]["status"] == "warn"
    assert "none allowed: echo, hang" in got["mcp unvetted"]["detail"]
    assert "mcp.servers[1].allow" in got["mcp unvetted"]["hint"]
    assert got["mcp gone"]["status"] == "fail"
    assert "mcp.servers[2].url" in got["mcp gone"]["hint"]


def test_doctor_says_when_the_token_is_refused(ha_server: Running, tmp_path: Path) -> None:
    got = _doctor(_config(tmp_path, ha_server.url.removesuffix("/api/mcp"), token="wrong"))
    ha = got["homeassistant"]
    assert ha["status"] == "fail" and "refused the credentials (http 401)" in ha["detail"]
    assert "long-lived access token" in ha["hint"]


def test_doctor_says_to_enable_the_mcp_server_integration(not_found: str, tmp_path: Path) -> None:
    got = _doctor(_config(tmp_path, not_found))
    ha = got["homeassistant"]
    assert ha["status"] == "fail" and "http 404" in ha["detail"]
    assert "enable the Model Context Protocol Server integration" in ha["hint"]
