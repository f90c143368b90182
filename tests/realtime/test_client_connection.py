"""Connection life of the client against the emulator: auth, relay, drops, expiry, idle close
(with the turn core) and hostile server frames."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading

import pytest

from edge_agent.errors import FatalRealtimeError
from edge_agent.realtime.client import ClientState
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.token_relay import TokenRelay
from edge_agent.turn.actions import CloseSession
from edge_agent.turn.core import TurnPolicy
from edge_agent.turn.events import (
    ReplyAudio,
    ResponseFinished,
    SessionFatal,
    SessionLost,
    SessionReady,
    Tick,
)
from tests.realtime.conftest import TIMEOUT_S, next_of, speak
from tests.realtime.pair import CorePair


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
    fatal = [e for e in _drain(client) if isinstance(e, SessionFatal)]
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
    client.connect_soon()
    while len(emulator.handshakes) < 2:  # refused attempts do not count as a session
        await asyncio.sleep(0.01)
    assert not client.first_ready.is_set()
    await client.ensure_connected()
    assert emulator.handshakes == [503, 503, 101]
    assert client.first_ready.is_set()  # `edge-agent run` asks GET /v1/models then
    lost = [e for e in _drain(client) if isinstance(e, SessionLost)]
    assert all(e.will_retry for e in lost)
    assert [e.reason for e in lost] == [
        "realtime handshake failed: http 503; if it persists, check realtime.url and realtime.model"
    ] * 2


async def test_ephemeral_secret_from_the_relay(
    emulator: RealtimeEmulator, make_client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    relay = TokenRelay(emulator).start()
    try:
        client = make_client("", token_url=relay.token_url)
        await client.ensure_connected()
        assert len(relay.minted) == 1
        await speak(client)
        assert (await next_of(client, ResponseFinished)).status == "completed"
        relay.refuse = True
        await emulator.drop_all()
        assert not (await next_of(client, SessionLost)).will_retry
        client.connect_soon()  # the next turn asks the relay again, which now refuses
        fatal = await next_of(client, SessionFatal)
        assert "token relay refused" in fatal.message
        with pytest.raises(FatalRealtimeError, match="token relay refused"):
            await client.ensure_connected()
    finally:
        relay.stop()
    assert [r.path for r in relay.requests] == ["/token", "/token"]
    assert "> Authorization: ***" in caplog.text  # the handshake was logged, redacted
    assert relay.minted[0] not in caplog.text + repr(client.__dict__)


async def test_dropped_mid_response_then_next_turn_succeeds(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.faults.drop_after_deltas = 3
    emulator.set_turns([])  # plain spoken replies only
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    lost = await next_of(client, SessionLost)
    assert not lost.will_retry and client.state is ClientState.CLOSED  # no reconnect by itself
    client.connect_soon()  # the next turn
    await next_of(client, SessionReady)
    seen: list = []
    await speak(client)
    done = await next_of(client, ResponseFinished, seen)
    assert done.status == "completed"
    assert sum(len(e.pcm) for e in seen if isinstance(e, ReplyAudio)) > 0
    assert emulator.handshakes == [101, 101]


async def test_server_session_expiry_ends_it_and_the_next_one_is_reseeded(
    emulator: RealtimeEmulator, make_client
):
    emulator.session_max_s = 0.5
    client = make_client(instructions=lambda: "remember: the cat is called Mia")
    await client.ensure_connected()
    lost = await next_of(client, SessionLost)
    assert lost.reason == "session expired" and not lost.will_retry
    emulator.session_max_s = 600
    await client.ensure_connected()
    updates = emulator.events_of("session.update")
    assert len(updates) == 2
    assert all("Mia" in u["session"]["instructions"] for u in updates)
    assert all(u["session"]["tools"] for u in updates)


async def test_idle_session_closes_and_reopens_on_the_next_turn(
    emulator: RealtimeEmulator, make_client
):
    emulator.set_turns([])
    pair = CorePair(make_client(), TurnPolicy(idle_close_s=0.3, follow_up_s=0.0))
    await pair.start_turn()
    await speak(pair.client)
    await pair.until(ResponseFinished)
    async with asyncio.timeout(TIMEOUT_S):
        while not pair.sent(CloseSession) or emulator.sessions:
            await asyncio.sleep(0.05)
            pair.feed(Tick())
    assert pair.sent(CloseSession) == [CloseSession("idle")]
    assert pair.client.state is ClientState.CLOSED and emulator.handshakes == [101]
    await pair.start_turn()
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
    done = await next_of(client, ResponseFinished, seen)
    assert done.status == "completed"
    assert client.state is ClientState.READY
    assert not [e for e in seen if isinstance(e, SessionLost | SessionFatal)]
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


async def test_instructions_are_read_off_the_loop_thread(
    emulator: RealtimeEmulator, make_client
) -> None:
    threads: list[int] = []

    def instructions() -> str:
        threads.append(threading.get_ident())
        return "remember: the cat is called Mia"

    client = make_client(instructions=instructions)
    await client.ensure_connected()
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert "Mia" in emulator.events_of("session.update")[0]["session"]["instructions"]


async def test_a_fatal_error_is_raised_even_while_the_app_lags(
    emulator: RealtimeEmulator, make_client
) -> None:
    client = make_client("sk-wrong-secret-value", max_events=1)
    client.events.put_nowait(SessionLost("unread", will_retry=True))  # the app is behind
    with pytest.raises(FatalRealtimeError, match="http 401"):
        await client.ensure_connected(timeout_s=TIMEOUT_S)
    assert client.state is ClientState.FAILED
    assert [type(await client.events.get()) for _ in range(2)] == [SessionLost, SessionFatal]


async def test_an_unexpected_error_in_the_connection_task_is_a_lost_session(
    emulator: RealtimeEmulator, make_client, caplog: pytest.LogCaptureFixture
) -> None:
    broken = [True]

    def instructions() -> str:
        if broken[0]:
            raise RuntimeError("a bug")
        return "ok"

    client = make_client(instructions=instructions)
    client.connect_soon()
    lost = await next_of(client, SessionLost)
    assert lost.reason == "internal error: RuntimeError" and not lost.will_retry
    assert client.state is ClientState.CLOSED  # not READY with a dead task behind it
    assert "realtime connection task failed" in caplog.text
    broken[0] = False
    await client.ensure_connected()  # the next turn connects again
    assert client.state is ClientState.READY
