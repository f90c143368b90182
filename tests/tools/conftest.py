"""Shared rigs for the tools tests: a real HTTP client and emulators on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from edge_agent.config import DeviceConfig, Secret, ToolsConfig
from edge_agent.sim.http import EmulatedHttpService
from edge_agent.tools.http import make_http_client

TIME_SCALE = float(os.environ.get("EDGE_AGENT_TEST_TIME_SCALE", "1"))
"""Multiplies the wall-clock limits tests assert on (set it >1 on slow machines)."""


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    client = make_http_client(ToolsConfig(http_timeout_s=0.8))
    yield client
    await client.aclose()


@pytest.fixture
def serve() -> Iterator[object]:
    """serve(emulator) starts it on 127.0.0.1 and stops it after the test."""
    started: list[EmulatedHttpService] = []

    def start(emu: EmulatedHttpService) -> EmulatedHttpService:
        started.append(emu.start())
        return emu

    yield start
    for emu in started:
        emu.stop()


def device(family: str, emu: EmulatedHttpService | None = None, **kw: object) -> DeviceConfig:
    """A DeviceConfig pointing at `emu` (or at a closed port)."""
    if "password" in kw and isinstance(kw["password"], str):
        kw["password"] = Secret(kw["password"])
    base = DeviceConfig(name=kw.pop("name", "test device"), family=family, host="127.0.0.1")  # type: ignore[arg-type]
    port = emu.port if emu is not None else 9
    return dataclasses.replace(base, port=port, **kw)  # type: ignore[arg-type]
