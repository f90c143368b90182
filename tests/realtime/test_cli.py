"""`edge-agent sim realtime` as a real process, with the client talking to it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from edge_agent.config import RealtimeConfig, Secret
from edge_agent.realtime.client import RealtimeClient
from edge_agent.sim.scenario import tone
from edge_agent.turn.events import ReplyAudio, ResponseFinished
from tests.realtime.conftest import TIMEOUT_S, next_of

ROOT = Path(__file__).resolve().parents[2]


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge_agent",
        "sim",
        "realtime",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_sim_realtime_serves_a_text_turn(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[[turn]]\ntext = "Hello there."\naudio = { tone_hz = 300, duration_ms = 200 }\n'
    )
    proc = await _start("--port", "0", "--scenario", str(scenario), "--pace", "0", "--key", "k1")
    try:
        async with asyncio.timeout(TIMEOUT_S * 2):
            line = (await proc.stdout.readline()).decode()
        url = line.split()[3]
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1/realtime")
        client = RealtimeClient(RealtimeConfig(url=url), Secret("k1"))
        try:
            await client.ensure_connected(TIMEOUT_S)
            client.send_text("hi")
            client.request_response()
            seen: list = []
            await next_of(client, ResponseFinished, seen)
            assert b"".join(e.pcm for e in seen if isinstance(e, ReplyAudio)) == tone(300, 200)
        finally:
            await client.aclose()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert b"served 1 connections" in out


async def test_sim_realtime_bad_scenario_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[turn]]\nuser_transcript = 'nothing to say'\n")
    proc = await _start("--scenario", str(bad))
    _, err = await proc.communicate()
    assert proc.returncode == 78
    assert b"needs text/audio or calls" in err
