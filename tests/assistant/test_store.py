"""The assistant store on disk: survives a reopen and a SIGKILL mid-write, stays private."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent.assistant.store import AssistantStore
from edge_agent.assistant.timers import Entry


async def test_entries_and_settings_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state" / "assistant.sqlite3"
    store = await AssistantStore.open(path)
    timer = Entry(0, "timer", "pasta", 1000.0, 400.0, duration_s=600.0)
    alarm = Entry(0, "alarm", "work", 2000.0, 400.0, hour=7, minute=30, repeat=(0, 4))
    ids = [await store.insert(timer), await store.insert(alarm)]
    assert ids == [1, 2]
    await store.update_due([Entry(2, "alarm", "work", 2600.0, 400.0, hour=7, minute=30)])
    await store.set_setting("volume_pct", "30")
    await store.aclose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    store = await AssistantStore.open(path)
    assert await store.load() == [
        Entry(1, "timer", "pasta", 1000.0, 400.0, duration_s=600.0),
        Entry(2, "alarm", "work", 2600.0, 400.0, hour=7, minute=30, repeat=(0, 4)),
    ]
    assert await store.get_setting("volume_pct") == "30"
    await store.delete([1])
    assert await store.insert(timer) == 3  # ids are never reused
    assert [e.id for e in await store.load()] == [2, 3]
    await store.aclose()


async def test_an_unopenable_store_is_an_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        await AssistantStore.open(blocker / "assistant.sqlite3")


async def test_a_foreign_file_is_an_oserror_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "assistant.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(OSError, match="cannot open the assistant store"):
        await AssistantStore.open(path)


_WRITER = """
import asyncio, sys
from edge_agent.assistant.store import AssistantStore
from edge_agent.assistant.timers import Entry

async def main():
    store = await AssistantStore.open(sys.argv[1])
    i = int(await store.get_setting("counter") or 0)
    print("ready", flush=True)
    while True:
        i += 1
        new = await store.insert(Entry(0, "timer", f"{i}:" + "x" * 30, float(i), 0.0, 60.0))
        await store.delete([e.id for e in await store.load() if e.id != new])
        await store.set_setting("counter", str(i))

asyncio.run(main())
"""


@pytest.mark.slow
def test_killed_mid_write_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "assistant.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    rng = random.Random(11)
    last_counter = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            counter = int(
                db.execute("SELECT value FROM settings WHERE key='counter'").fetchone()[0]
            )
            rows = db.execute("SELECT label, due_at_s FROM timers").fetchall()
        assert counter >= last_counter  # committed writes are never lost
        for label, due in rows:  # whole rows only, at most the last two writes' worth
            n, _, pad = label.partition(":")
            assert pad == "x" * 30 and float(n) == due and counter <= int(n) <= counter + 1
        assert 1 <= len(rows) <= 2
        last_counter = counter
    assert last_counter > 0
