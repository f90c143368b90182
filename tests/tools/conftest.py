"""Shared rigs for the tools tests: a real HTTP client and emulators on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import os
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import certifi
import httpx
import pytest

from edge_agent.config import DeviceConfig, Secret, ToolsConfig
from edge_agent.sim.http import EmulatedHttpService
from edge_agent.tools.http import make_http_client

TIME_SCALE = float(os.environ.get("EDGE_AGENT_TEST_TIME_SCALE", "1"))
"""Multiplies the wall-clock limits tests assert on (set it >1 on slow machines)."""


@pytest.fixture
def serve() -> Iterator[Any]:
    """serve(emulator) starts it on 127.0.0.1 and stops it after the test."""
    started: list[EmulatedHttpService] = []

    def start(emu: EmulatedHttpService) -> Any:
        started.append(emu.start())
        return emu

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """One TLS context for every test's client: building one costs ~40 ms (CA bundle)."""
    return ssl.create_default_context(cafile=certifi.where())


@pytest.fixture
async def http(serve: Any, tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    """The daemon's client; closed before the emulators stop (ESP ones serve one connection)."""
    client = make_http_client(ToolsConfig(http_timeout_s=0.8), verify=tls)
    yield client
    await client.aclose()


def device(family: str, emu: EmulatedHttpService | None = None, **kw: Any) -> DeviceConfig:
    """A DeviceConfig on 127.0.0.1 pointing at `emu` (else `port`, else a closed port);
    `password`/`token` may be given as plain strings."""
    for key in ("password", "token"):
        if isinstance(kw.get(key), str):
            kw[key] = Secret(kw[key])
    kw.setdefault("name", f"test {family}")
    kw.setdefault("host", "127.0.0.1")
    kw["port"] = emu.port if emu is not None else kw.get("port", 9)
    return DeviceConfig(family=family, **kw)


def on_port(dev: DeviceConfig, emu: EmulatedHttpService) -> DeviceConfig:
    """The same device pointed at the running emulator's port."""
    return dataclasses.replace(dev, port=emu.port)
