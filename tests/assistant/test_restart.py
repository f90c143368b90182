"""A timer set, the process SIGKILLed, a new daemon started: it still rings on time (real clock)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent.assistant.assembly import build_assistant
from edge_agent.assistant.timers import TimerFired
from edge_agent.config import parse_config
from tests.tools.conftest import TIME_SCALE

_SETTER = """
import asyncio, json, sys, time
from edge_agent.assistant.assembly import build_assistant
from edge_agent.config import parse_config
from edge_agent.tools.home import build_registry
import httpx

async def main():
    cfg = parse_config(sys.argv[1], require_api_key=False)
    async with httpx.AsyncClient() as http:
        reg = build_registry(cfg, http)
        result = json.loads(await reg.call("set_timer", '{"duration": 2.5, "label": "tea"}'))
        print("set", time.time() + 2.5, result["ok"], flush=True)
        await asyncio.Event().wait()  # the daemon runs on until it is killed

asyncio.run(main())
"""


@pytest.mark.slow
async def test_a_timer_survives_sigkill_and_rings_on_time(tmp_path: Path) -> None:
    text = f'[daemon]\nstate_dir = "{tmp_path}"\ncache_dir = "{tmp_path}"\n'
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SETTER, text, stdout=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).split()
    assert line[0] == b"set" and line[2] == b"True"
    due = float(line[1])
    proc.send_signal(signal.SIGKILL)
    await proc.wait()

    cfg = parse_config(text, require_api_key=False)
    assistant = build_assistant(cfg, None)  # the real wall clock and the real wait
    fired: list[tuple[float, TimerFired]] = []
    await assistant.start(lambda event: fired.append((time.time(), event)))
    try:
        async with asyncio.timeout(10 * TIME_SCALE):
            while not fired:
                await asyncio.sleep(0.02)
    finally:
        await assistant.aclose()
    at, event = fired[0]
    assert (event.kind, event.label, event.missed) == ("timer", "tea", False)
    assert abs(event.due_at_s - due) < 0.5  # the due time the killed process saved
    assert event.due_at_s - 0.01 <= at < event.due_at_s + 0.25 * TIME_SCALE  # on time
