"""Checks must not hang: a wedged blocking call costs its timeout, and the rest still runs."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from edge_agent.doctor import Status
from edge_agent.probes import DoctorOptions, run_checks
from edge_agent.probes.worker import in_thread

from .conftest import SCALE, RigConfig


async def test_in_thread_returns_raises_and_can_be_abandoned() -> None:
    assert await in_thread(sum, [1, 2, 3]) == 6
    with pytest.raises(ZeroDivisionError):
        await in_thread(divmod, 1, 0)
    release = threading.Event()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await in_thread(release.wait, 30)
    assert time.monotonic() - start < 2 * SCALE
    wedged = [t for t in threading.enumerate() if t.name == "doctor-wait"]
    assert wedged and all(t.daemon for t in wedged)  # cannot keep the process alive
    release.set()


async def test_a_wedged_sound_driver_times_out_alone(tmp_path: Path, models_dir: Path) -> None:
    release = threading.Event()

    def wedged_portaudio() -> object:
        release.wait(60)  # as if Pa_Initialize hung in a broken driver
        raise OSError("released")

    cfg = RigConfig("ws://127.0.0.1:9/v1/realtime", led='type = "none"', buttons="")
    opts = DoctorOptions(
        config_path=str(cfg.write(tmp_path / "c.toml")),
        env={},
        journal_socket="/nonexistent",
        models_dir=models_dir,
        pa_factory=wedged_portaudio,
        timeout_s=0.25,
        skip=frozenset({"network", "realtime", "devices"}),
    )
    start = time.monotonic()
    try:
        results = await run_checks(opts)
    finally:
        release.set()
    assert time.monotonic() - start < 5 * SCALE
    got = {r.check: r for r in results}
    assert got["audio"].status is Status.FAIL
    assert got["audio"].detail == "no result within 2 s"
    assert got["wake models"].status is Status.OK  # the other checks were not held up
