"""Shared rigs: a real httpx client per test and helpers to build device configs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from edge_agent.config import DeviceConfig, Secret
from edge_agent.sim.http import EmulatedHttpService


@pytest.fixture
async def http(serve: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Closed before the emulators stop: they serve one keep-alive connection at a time."""
    async with httpx.AsyncClient(timeout=3.0, follow_redirects=False, trust_env=False) as client:
        yield client


def device(family: str, **kw: Any) -> DeviceConfig:
    """A DeviceConfig for tests; `password`/`token` given as plain strings."""
    for key in ("password", "token"):
        if isinstance(kw.get(key), str):
            kw[key] = Secret(kw[key])
    kw.setdefault("name", f"test {family}")
    kw.setdefault("host", "127.0.0.1")
    return DeviceConfig(family=family, **kw)  # type: ignore[arg-type]


def on_port(dev: DeviceConfig, emu: EmulatedHttpService) -> DeviceConfig:
    """The same device pointed at the running emulator's port."""
    import dataclasses

    return dataclasses.replace(dev, port=emu.port)


@pytest.fixture
def serve() -> Iterator[Any]:
    """serve(emulator) starts it and stops it after the test."""
    started: list[EmulatedHttpService] = []

    def _serve(emu: EmulatedHttpService) -> Any:
        started.append(emu.start())
        return emu

    yield _serve
    for emu in started:
        emu.stop()
