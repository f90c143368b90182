"""Rigs for the integrations tests: real MCP servers (official SDK) as child processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.tools.http import make_http_client

SERVERS = Path(__file__).with_name("servers.py")
TOKEN = "test-token-9f8e7d6c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """One server process: its URL (HTTP), its call log and the process."""

    proc: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def received(self) -> list[dict[str, Any]]:
        """The tool calls the server got, in order (what it RECEIVED, from its own log)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def stdio_command(kind: str, log: Path) -> tuple[str, list[str]]:
    return sys.executable, [str(SERVERS), "stdio", "--kind", kind, "--log", str(log)]


def start_http(
    tmp: Path, *, kind: str = "misc", stateless: bool = False, json_mode: bool = False,
    token: str = "", port: int = 0,
) -> Running:  # fmt: skip
    port = port or free_port()
    log = tmp / f"calls-{port}.jsonl"
    argv = [sys.executable, str(SERVERS), "http", "--kind", kind, "--port", str(port),
            "--log", str(log)]  # fmt: skip
    argv += ["--stateless"] * stateless + ["--json"] * json_mode
    argv += ["--token", token] if token else []
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"test server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return Running(proc, log, f"http://127.0.0.1:{port}/api/mcp")
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("test server did not start in 30 s")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    """spawn(**options) starts an HTTP MCP server for this test only."""
    started: list[Running] = []

    def start(**kwargs: Any) -> Running:
        started.append(start_http(tmp_path, **kwargs))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def ha_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A Home Assistant-shaped server: stateless, JSON answers, bearer token (as HA serves)."""
    running = start_http(
        tmp_path_factory.mktemp("ha"), kind="ha", stateless=True, json_mode=True, token=TOKEN
    )
    yield running
    running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client() as client:
        yield client
