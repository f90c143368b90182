"""Memory tools: persisted in SQLite, surviving restarts and a process killed mid-write."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent.errors import ToolError
from edge_agent.tools.memory import INSTRUCTIONS_HEADER, MemoryStore, memory_tools
from edge_agent.tools.registry import ToolRegistry


async def test_set_get_forget_through_the_registry(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "memory.sqlite3")
    reg = ToolRegistry(memory_tools(store))
    saved = await reg.call("set_memory", '{"key": "Favourite  Colour", "value": "green"}')
    assert json.loads(saved) == {"saved": "favourite colour", "ok": True}
    assert json.loads(await reg.call("get_memory", '{"key": "favourite colour"}')) == {
        "key": "favourite colour",
        "value": "green",
        "ok": True,
    }
    await reg.call("set_memory", '{"key": "dog", "value": "Rex"}')
    assert json.loads(await reg.call("get_memory", "{}"))["memories"] == {
        "dog": "Rex",
        "favourite colour": "green",
    }
    assert json.loads(await reg.call("forget_memory", '{"key": "dog"}'))["ok"] is True
    assert json.loads(await reg.call("forget_memory", '{"key": "dog"}'))["error"] == "not_found"
    assert json.loads(await reg.call("get_memory", '{"key": "dog"}'))["error"] == "not_found"
    store.close()


def test_survives_restart_and_feeds_instructions(tmp_path: Path) -> None:
    path = tmp_path / "state" / "memory.sqlite3"
    store = MemoryStore(path)
    store.set("wifi name", "hal9000")
    store.close()
    assert (path.stat().st_mode & 0o777) == 0o600
    again = MemoryStore(path)
    assert again.get("WiFi Name") == "hal9000"
    assert again.memories_for_instructions() == (INSTRUCTIONS_HEADER + '\n- "wifi name": "hal9000"')
    again.close()
    assert MemoryStore(tmp_path / "empty.sqlite3").memories_for_instructions() == ""


def test_store_is_bounded(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.sqlite3", max_entries=2)
    store.set("a", "1")
    store.set("b", "2")
    store.set("a", "3")  # replacing is fine when full
    with pytest.raises(ToolError) as err:
        store.set("c", "4")
    assert err.value.code == "memory_full"
    assert store.all() == {"a": "3", "b": "2"}


_WRITER = """
import sys
from edge_agent.tools.memory import MemoryStore
store = MemoryStore(sys.argv[1])
i = int(store.get("counter") or 0)
print("ready", flush=True)
while True:
    i += 1
    store.set(f"k{i % 20}", f"{i}:" + "x" * 400)
    store.set("counter", str(i))
"""


@pytest.mark.slow
def test_killed_mid_write_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    rng = random.Random(7)
    last_counter = 0
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        store = MemoryStore(path)
        counter = int(store.get("counter") or 0)
        assert counter >= last_counter  # committed writes are never lost
        for key, value in store.all().items():
            if key != "counter":
                n, _, pad = value.partition(":")
                assert pad == "x" * 400 and int(n) <= counter + 1  # whole values only
        store.close()
        last_counter = counter
    assert last_counter > 0


async def test_unusable_state_dir_disables_only_memory(tmp_path: Path, http, caplog) -> None:
    from edge_agent.config import Config, DaemonConfig
    from edge_agent.tools.home import build_registry

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    reg = build_registry(Config(daemon=DaemonConfig(state_dir=str(blocker))), http)
    assert "get_weather" in reg.names and "get_time" in reg.names
    assert not [n for n in reg.names if "memory" in n]
    assert "memory tools disabled" in caplog.text
    # The timers' store is under the same directory: their calls fail, the rest works.
    timer = json.loads(await reg.call("set_timer", '{"duration": 60}'))
    assert timer["error"] == "store_error"
    assert json.loads(await reg.call("get_time", "{}"))["ok"] is True
    await reg.aclose()
