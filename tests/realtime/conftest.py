"""Shared rig for the realtime tests: the emulator on a random port, a client factory, waits,
and SDK validation of every event that crossed the socket (openai GA pydantic types)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import TypeAdapter

from edge_agent.config import RealtimeConfig, Secret
from edge_agent.realtime.client import RealtimeClient, RealtimeEvent
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.scenario import tone

SCALE = float(os.environ.get("EDGE_AGENT_TEST_TIME_SCALE", "1"))
TIMEOUT_S = 5.0 * SCALE
KEY = "sk-test-0123456789"
CLIENT_EVENTS = TypeAdapter(RealtimeClientEvent)
SERVER_EVENTS = TypeAdapter(RealtimeServerEvent)
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "current weather for a place",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def speech(ms: int) -> bytes:
    """A loud 200 Hz tone the emulator's VAD takes for speech."""
    return tone(200, ms, amplitude=0.3)


def silence(ms: int) -> bytes:
    return bytes(ms * 48)


def validate_all(emu: RealtimeEmulator) -> None:
    """Every client event we sent and every server event the emulator sent fits the SDK."""
    for ev in emu.client_events:
        CLIENT_EVENTS.validate_python(ev)
    for ev in emu.server_events:
        SERVER_EVENTS.validate_python(ev)


@pytest.fixture
async def emulator() -> AsyncIterator[RealtimeEmulator]:
    emu = RealtimeEmulator(api_keys=[KEY])
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
    validate_all(emu)


def rt_config(emu: RealtimeEmulator, **overrides: Any) -> RealtimeConfig:
    fields: dict[str, Any] = {
        "url": emu.url,
        "silence_duration_ms": 200,
        "prefix_padding_ms": 100,
        "connect_timeout_s": 3.0 * SCALE,
        "idle_close_s": 30.0,
        "session_max_s": 600.0,
    }
    fields.update(overrides)
    return RealtimeConfig(**fields)


@pytest.fixture
async def make_client(
    emulator: RealtimeEmulator,
) -> AsyncIterator[Callable[..., RealtimeClient]]:
    clients: list[RealtimeClient] = []

    def make(key: str = KEY, *, tools: tuple[dict[str, Any], ...] = (WEATHER_TOOL,), **kw: Any):
        client_kw = {
            k: kw.pop(k)
            for k in list(kw)
            if k
            in {"http", "tool_budget_ms", "instructions", "backoff_initial_s", "rng", "max_events"}
        }
        client_kw.setdefault("backoff_initial_s", 0.05)
        client = RealtimeClient(rt_config(emulator, **kw), Secret(key), tools=tools, **client_kw)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


async def next_of(client: RealtimeClient, kind: type, seen: list[RealtimeEvent] | None = None):
    """The next event of `kind` (others are appended to `seen`)."""
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            ev = await client.events.get()
            if seen is not None:
                seen.append(ev)
            if isinstance(ev, kind):
                return ev


async def speak(client: RealtimeClient, speech_ms: int = 400, silence_ms: int = 400) -> None:
    """Stream a spoken question in 20 ms pieces, like the mic would."""
    pcm = silence(100) + speech(speech_ms) + silence(silence_ms)
    for i in range(0, len(pcm), 960):
        client.send_audio(pcm[i : i + 960])
        await asyncio.sleep(0)


# -- raw WebSocket helpers for emulator tests ---------------------------------------------------
async def raw_ws(emu: RealtimeEmulator, model: str = "gpt-realtime-2.1"):
    """A plain websockets connection to the emulator (no client of ours in between)."""
    from websockets.asyncio.client import connect

    return await connect(
        f"{emu.url}?model={model}",
        additional_headers={"Authorization": f"Bearer {KEY}"},
        max_size=None,
    )


async def send_event(ws: Any, kind: str, **fields: Any) -> None:
    await ws.send(json.dumps({"type": kind, **fields}))


async def recv_until(
    ws: Any, kind: str, seen: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Read events until one of `kind` (all read ones are appended to `seen`)."""
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            ev = json.loads(await ws.recv())
            if seen is not None:
                seen.append(ev)
            if ev["type"] == kind:
                return ev


async def sync(ws: Any, seen: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every event the emulator sent for what we sent so far (it handles events in order:
    a retrieve of an unknown item is answered by an error after all of them)."""
    seen = [] if seen is None else seen
    await send_event(ws, "conversation.item.retrieve", event_id="sync", item_id="item_sync")
    while True:
        ev = await recv_until(ws, "error", seen)
        if ev["error"].get("event_id") == "sync":
            seen.pop()
            return seen


async def append(ws: Any, pcm: bytes, chunk_ms: int = 20) -> None:
    """Stream `pcm` in mic-sized appends."""
    step = chunk_ms * 48
    for i in range(0, len(pcm), step):
        await send_event(
            ws, "input_audio_buffer.append", audio=base64.b64encode(pcm[i : i + step]).decode()
        )


async def update(ws: Any, **session: Any) -> dict[str, Any]:
    """session.update → the session.updated (or the error) it got."""
    await send_event(ws, "session.update", session={"type": "realtime", **session})
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            ev = json.loads(await ws.recv())
            if ev["type"] in ("session.updated", "error"):
                return ev
