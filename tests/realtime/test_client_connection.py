"""Connection life of the client against the emulator: auth, relay, drops, expiry, rotation,
idle close and hostile server frames."""

from __future__ import annotations

import asyncio
import json
import logging
import random

import pytest

from edge_agent.errors import FatalRealtimeError
from edge_agent.realtime import protocol as p
from edge_agent.realtime.client import ClientState, Connected, ConnectionLost, Fatal
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.token_relay import TokenRelay
from tests.realtime.conftest import TIMEOUT_S, next_of, speak


async def test_bad_key_is_one_clear_error_and_no_retry(
    emulator: RealtimeEmulator, make_client, caplog: pytest.LogCaptureFixture
) -> None:
    bad = "sk-wrong-secret-value"
    client = make_client(bad)
    with pytest.raises(FatalRealtimeError, match="http 401") as info:
        await client.ensure_connected()
    assert bad not in str(info.value)
    with pytest.raises(FatalRealtimeError):
        await client.ensure_connected()  # reported again, not retried
    await asyncio.sleep(0.3)
    assert emulator.handshakes == [401]
    assert client.state is ClientState.FAILED
    fatal = [e for e in _drain(client) if isinstance(e, Fatal)]
    assert len(fatal) == 1
    assert bad not in caplog.text


@pytest.mark.parametrize("code", ["invalid_api_key", "model_not_found", "insufficient_quota"])
async def test_fatal_error_events_stop_retries(emulator: RealtimeEmulator, make_client, code):
    emulator.faults.fatal_code = code
    client = make_client()
    with pytest.raises(FatalRealtimeError, match=code):
        await client.ensure_connected()
    await asyncio.sleep(0.2)
    assert len(emulator.handshakes) == 1


async def test_retryable_handshake_failures_back_off_then_connect(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.faults.handshake_status, emulator.faults.handshake_status_count = 503, 2
    client = make_client()
    await client.ensure_connected()
    assert emulator.handshakes == [503, 503, 101]
    lost = [e for e in _drain(client) if isinstance(e, ConnectionLost)]
    assert [e.reason for e in lost] == ["realtime handshake failed: http 503"] * 2


async def test_ephemeral_secret_from_the_relay(emulator: RealtimeEmulator, make_client) -> None:
    relay = TokenRelay(emulator).start()
    try:
        client = make_client("", token_url=relay.token_url)
        await client.ensure_connected()
        assert len(relay.minted) == 1
        await speak(client)
        assert (await next_of(client, p.ResponseDone)).status == "completed"
        relay.refuse = True
        await emulator.drop_all()  # the reconnect asks the relay again, which now refuses
        fatal = await next_of(client, Fatal)
        assert "token relay refused" in str(fatal.error)
        with pytest.raises(FatalRealtimeError, match="token relay refused"):
            await client.ensure_connected()
    finally:
        relay.stop()
    assert [r.path for r in relay.requests] == ["/token", "/token"]


async def test_dropped_mid_response_then_next_turn_succeeds(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.faults.drop_after_deltas = 3
    emulator.set_turns([])  # plain spoken replies only
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    lost = await next_of(client, ConnectionLost)
    assert lost.will_retry
    back = await next_of(client, Connected)
    assert back.reconnected and not back.rotated
    assert client.conversation.is_idle  # the broken turn is forgotten
    seen: list = []
    await speak(client)
    done = await next_of(client, p.ResponseDone, seen)
    assert done.status == "completed"
    assert sum(len(e.pcm) for e in seen if isinstance(e, p.AudioDelta)) > 0
    assert emulator.handshakes == [101, 101]


async def test_server_session_expiry_reconnects_and_reseeds(
    emulator: RealtimeEmulator, make_client
):
    emulator.session_max_s = 0.5
    client = make_client(instructions=lambda: "remember: the cat is called Mia")
    await client.ensure_connected()
    lost = await next_of(client, ConnectionLost)
    assert lost.reason == "session expired"
    back = await next_of(client, Connected)
    assert back.rotated
    updates = emulator.events_of("session.update")
    assert len(updates) == 2
    assert all("Mia" in u["session"]["instructions"] for u in updates)
    assert all(u["session"]["tools"] for u in updates)


async def test_proactive_rotation_between_turns(emulator: RealtimeEmulator, make_client) -> None:
    emulator.pace = 1.0  # the 1.2 s reply runs past session_max_s
    client = make_client(session_max_s=0.8)
    await client.ensure_connected()
    first = client.session_id
    seen: list = []
    await speak(client)
    done = await next_of(client, p.ResponseDone, seen)
    assert done.status == "completed"  # the turn was not cut by the rotation
    assert [e for e in seen if isinstance(e, Connected | ConnectionLost)] == [
        Connected(first, reconnected=False, rotated=False)
    ]
    back = await next_of(client, Connected)
    assert back.rotated and client.session_id != first
    assert len(emulator.events_of("session.update")) == 2
    assert [e.get("type") for e in emulator.server_events if e["type"] == "error"] == []


async def test_idle_session_closes_and_reopens_on_demand(emulator: RealtimeEmulator, make_client):
    client = make_client(idle_close_s=0.3)
    await client.ensure_connected()
    async with asyncio.timeout(TIMEOUT_S):
        while client.state is not ClientState.CLOSED or emulator.sessions:
            await asyncio.sleep(0.05)
    assert emulator.handshakes == [101]
    await client.ensure_connected()
    assert emulator.handshakes == [101, 101]


async def test_1000_hostile_server_frames_do_not_crash(
    emulator: RealtimeEmulator, make_client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    emulator.set_turns([])
    client = make_client()
    await client.ensure_connected()
    rng = random.Random(6)
    for frame in _fuzz_frames(rng, 1000):
        await emulator.inject(frame)
    emulator.faults.oversized_next = 1
    emulator.faults.unknown_next = 3
    emulator.faults.malformed_next = 3
    seen: list = []
    await speak(client)
    done = await next_of(client, p.ResponseDone, seen)
    assert done.status == "completed"
    assert client.state is ClientState.READY
    assert not [e for e in seen if isinstance(e, ConnectionLost | Fatal)]
    assert "Traceback" not in caplog.text


def _fuzz_frames(rng: random.Random, n: int) -> list[str]:
    kinds = [
        "response.output_audio.delta",
        "response.done",
        "response.created",
        "response.function_call_arguments.done",
        "input_audio_buffer.speech_started",
        "conversation.item.truncated",
        "rate_limits.updated",
        "error",
        "session.updated",
        "no.such.event",
    ]
    values = [None, 1, -1, 2**70, "x", "%%%", [], {}, {"id": 3}, True, 1.5, "QUJD", "A" * 9]
    frames = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.2:
            frames.append(json.dumps({"type": rng.choice(kinds)})[: rng.randrange(1, 30)])
        elif roll < 0.3:
            frames.append(json.dumps(rng.choice(values)))
        else:
            ev: dict = {"type": rng.choice(kinds)}
            for key in (
                "response_id",
                "item_id",
                "delta",
                "response",
                "error",
                "call_id",
                "arguments",
                "audio_start_ms",
                "audio_end_ms",
                "rate_limits",
                "session",
            ):
                if rng.random() < 0.5:
                    ev[key] = rng.choice(values)
            if ev["type"] == "error" and rng.random() < 0.5:
                ev["error"] = {"code": rng.choice(["oops", None, 5]), "message": i}
            frames.append(json.dumps(ev))
    return frames


def _drain(client) -> list:
    out = []
    while not client.events.empty():
        out.append(client.events.get_nowait())
    return out


async def test_azure_style_api_key_header_and_url_query(emulator: RealtimeEmulator, make_client):
    client = make_client(auth="api-key", url=emulator.url + "?api-version=2025-08-28")
    await client.ensure_connected()
    assert emulator.handshakes == [101]
    assert emulator.auth_schemes == ["api-key"]


def test_session_url_keeps_existing_query() -> None:
    from edge_agent.realtime.auth import session_url

    assert session_url("wss://x.openai.azure.com/openai/v1/realtime?a=1", "dep 1") == (
        "wss://x.openai.azure.com/openai/v1/realtime?a=1&model=dep+1"
    )
    assert session_url("wss://api.openai.com/v1/realtime", "gpt-realtime") == (
        "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    )
