"""Rig for the relay tests: the Realtime emulator and its client-secret endpoint as upstream,
the relay on a free port, satellites made through the real registry, an injectable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.relay.policy import Now
from edge_agent.relay.service import RelayService
from edge_agent.relay.settings import parse_relay_config
from edge_agent.relay.store import RelayStore
from edge_agent.sim.client_secrets import ClientSecretService
from edge_agent.sim.realtime_server import RealtimeEmulator

UPSTREAM_KEY = "sk-proj-relay-upstream-KEY-0123456789abcdef"
TZ = timezone(timedelta(hours=1))


@dataclass
class Clock:
    """Local time moved by the test; the rate limiter's clock is `mono_s`."""

    local: datetime
    mono_s: float = 1000.0

    def __call__(self) -> Now:
        return Now(self.mono_s, self.local)


@pytest.fixture
async def emulator() -> AsyncIterator[RealtimeEmulator]:
    emu = RealtimeEmulator(api_keys=[UPSTREAM_KEY])
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def upstream(emulator: RealtimeEmulator) -> Iterator[ClientSecretService]:
    service = ClientSecretService(emulator)
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 2, 18, 0, tzinfo=TZ))


def relay_toml(state_dir: Path, upstream_url: str, **keys: Any) -> str:
    lines = [
        "[relay]",
        "port = 0",
        f'state_dir = "{state_dir}"',
        f'upstream_url = "{upstream_url}"',
    ]
    for key, value in keys.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, list | tuple):
            lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]".replace("'", '"'))
        else:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


@pytest.fixture
async def make_relay(
    tmp_path: Path, upstream: ClientSecretService, clock: Clock
) -> AsyncIterator[Callable[..., Any]]:
    relays: list[RelayService] = []

    async def make(*, use_clock: bool = True, **keys: Any) -> RelayService:
        text = relay_toml(tmp_path / "state", upstream.endpoint, **keys)
        loaded = parse_relay_config(text, source="relay.toml", env={"OPENAI_API_KEY": UPSTREAM_KEY})
        relay = RelayService(loaded, clock=clock) if use_clock else RelayService(loaded)
        await relay.start()
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        await relay.stop()


def add_satellite(relay: RelayService, name: str) -> str:
    """A token made and stored the way `edge-agent relay add-satellite` does it."""
    store = RelayStore(relay.config.state_dir)
    with store.editing():
        registry, token = store.load_registry().add(name, "2026-12-02T18:00:00+01:00")
        store.save_registry(registry)
    return token


def revoke(relay: RelayService, name: str) -> None:
    store = RelayStore(relay.config.state_dir)
    with store.editing():
        store.save_registry(store.load_registry().revoke(name, "2026-12-02T18:30:00+01:00"))


async def ask(
    http: httpx.AsyncClient, relay: RelayService, token: str | None, body: Any = None, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.post(
        f"{relay.url}/v1/realtime/client_secrets",
        json={"model": "gpt-realtime-2.1"} if body is None else body,
        headers=headers,
        **kw,
    )


async def report(
    http: httpx.AsyncClient, relay: RelayService, token: str, **fields: Any
) -> httpx.Response:
    return await http.post(
        f"{relay.url}/v1/usage", json=fields, headers={"Authorization": f"Bearer {token}"}
    )
