"""The client against the emulator over real sockets: what it sends and the turn events it
queues; and, paired with the turn core (`CorePair`), the turn rules against a server that
behaves like the service (tools, barge-in, budgets, full duplex)."""

from __future__ import annotations

import asyncio
import json
import logging

from edge_agent.realtime.client import ClientState
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.states import Cancel
from edge_agent.turn.actions import RunTool
from edge_agent.turn.core import TurnPolicy
from edge_agent.turn.events import (
    Heard,
    ReplyAudio,
    ResponseFinished,
    SessionReady,
    ToolCallRequested,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from tests.realtime.conftest import TIMEOUT_S, next_of, server_events_of, speak
from tests.realtime.pair import CorePair


async def test_spoken_turn(emulator: RealtimeEmulator, make_client) -> None:
    client = make_client()
    await client.ensure_connected()
    assert client.state is ClientState.READY
    seen: list = []
    await speak(client)
    await next_of(client, UserSpeechStarted, seen)
    await next_of(client, UserSpeechStopped, seen)
    done = await next_of(client, ResponseFinished, seen)
    audio = b"".join(e.pcm for e in seen if isinstance(e, ReplyAudio))
    assert audio == emulator.scenario.turns[0].reply.pcm
    assert done.status == "completed" and done.usage.output_tokens > 0
    assert isinstance(seen[0], SessionReady)
    started = server_events_of(emulator, "input_audio_buffer.speech_started")[0]
    stopped = server_events_of(emulator, "input_audio_buffer.speech_stopped")[0]
    assert started["audio_start_ms"] == 0  # speech at 100 ms, minus 100 ms prefix padding
    assert stopped["audio_end_ms"] == 700  # speech ends at 500 ms + 200 ms silence (SDK: included)
    # the session update carried our config; input audio arrived in 40 ms appends
    update = emulator.events_of("session.update")[0]["session"]
    assert update["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
    assert update["audio"]["input"]["turn_detection"]["interrupt_response"] is False
    assert update["tools"][0]["name"] == "get_weather"
    appends = emulator.events_of("input_audio_buffer.append")
    assert all(len(e["audio"]) == 2560 for e in appends)  # base64 of 1920 bytes


async def test_audio_sent_while_connecting_is_not_lost(emulator: RealtimeEmulator, make_client):
    client = make_client()
    pcm = bytes(range(256)) * 75  # 19200 bytes = 400 ms, recognisable
    client.connect_soon()
    client.send_audio(pcm[:5000])
    client.send_audio(pcm[5000:])
    await client.ensure_connected()
    client.commit()
    async with asyncio.timeout(TIMEOUT_S):
        while not server_events_of(emulator, "input_audio_buffer.committed"):
            await asyncio.sleep(0.01)
    assert bytes(emulator.input_audio) == pcm


async def test_function_call_turn_sends_outputs_then_one_create(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.set_turns(emulator.scenario.turns[2:])  # the one-call turn

    async def tool(call: RunTool) -> str:
        assert call.name == "set_light"
        assert json.loads(call.arguments_json) == {"device": "kitchen", "on": True}
        return json.dumps({"ok": True})

    pair = CorePair(make_client(), TurnPolicy(), tool)
    await pair.start_turn()
    await speak(pair.client)
    await pair.until(ToolCallRequested)
    await pair.until(
        ResponseFinished, lambda e: bool(pair.sent(RunTool)) and e.status == "completed"
    )
    done = await pair.until(ResponseFinished)
    assert done.status == "completed"
    audio = b"".join(e.pcm for e in pair.events if isinstance(e, ReplyAudio))
    assert audio == emulator.scenario.turns[2].then.pcm
    kinds = [e["type"] for e in emulator.client_events if e["type"] != "input_audio_buffer.append"]
    out_at = kinds.index("conversation.item.create")
    assert kinds[out_at : out_at + 2] == ["conversation.item.create", "response.create"]
    assert kinds.count("response.create") == 1  # the service's VAD made the first response
    assert emulator.premature_responses == 0


async def test_two_parallel_calls_get_one_reply_after_both(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.set_turns(emulator.scenario.turns[1:])

    async def tool(call: RunTool) -> str:
        place = json.loads(call.arguments_json)["location"]
        await asyncio.sleep(0.3 if place == "Berlin" else 0.0)  # Paris answers first
        return json.dumps({"temp_c": 21 if place == "Berlin" else 14})

    pair = CorePair(make_client(), TurnPolicy(), tool)
    await pair.start_turn()
    await speak(pair.client)
    await pair.until(ResponseFinished)  # the calls' response
    done = await pair.until(ResponseFinished)
    assert done.status == "completed"
    assert len(emulator.events_of("response.create")) == 1
    outputs = [
        json.loads(o["item"]["output"]) for o in emulator.events_of("conversation.item.create")
    ]
    assert outputs == [{"temp_c": 14}, {"temp_c": 21}]
    assert emulator.premature_responses == 0


async def test_outputs_before_the_response_is_done_wait_for_it(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.set_turns(emulator.scenario.turns[2:])
    emulator.faults.delay_ms = 30  # response.done comes well after the call

    async def tool(call: RunTool) -> str:
        return '{"ok": true}'  # answered while the response is still active

    pair = CorePair(make_client(), TurnPolicy(), tool)
    await pair.start_turn()
    await speak(pair.client)
    await pair.until(ResponseFinished)
    emulator.faults.delay_ms = 0
    done = await pair.until(ResponseFinished)
    assert done.status == "completed"
    assert len(emulator.events_of("response.create")) == 1
    assert [e for e in emulator.server_events if e["type"] == "error"] == []


async def test_barge_in_truncates_at_what_was_heard(emulator: RealtimeEmulator, make_client):
    emulator.pace = 1.0  # real time, so the reply is still going when we interrupt
    pair = CorePair(make_client(), TurnPolicy())
    await pair.start_turn()
    await speak(pair.client)
    first = await pair.until(ReplyAudio)
    await pair.until(ReplyAudio)  # 200 ms received
    pair.feed(Heard(((first.item_id, 24 * 130 + 5),)))  # the speaker let 130 ms out
    pair.feed(Cancel())
    done = await pair.until(ResponseFinished)
    assert done.status == "cancelled" and done.reason == "client_cancelled"
    assert emulator.truncations == [(first.item_id, 130, emulator.truncations[0][2])]
    kinds = [e["type"] for e in emulator.client_events if e["type"] != "input_audio_buffer.append"]
    assert kinds[-3:] == [
        "conversation.item.truncate",
        "response.cancel",
        "input_audio_buffer.clear",
    ]


async def test_barge_in_caps_truncate_at_received_audio(emulator: RealtimeEmulator, make_client):
    emulator.pace = 1.0
    pair = CorePair(make_client(), TurnPolicy())
    await pair.start_turn()
    await speak(pair.client)
    delta = await pair.until(ReplyAudio)
    pair.feed(Heard(((delta.item_id, 24 * 60_000),)))  # a counter claiming more than received
    pair.feed(Cancel())
    await pair.until(ResponseFinished)
    [(item, end_ms, _)] = emulator.truncations
    assert (item, end_ms) == (delta.item_id, len(delta.pcm) // 48)
    assert not [e for e in emulator.server_events if e["type"] == "error"]


async def test_slow_tool_is_answered_within_budget_and_late_result_noted(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.set_turns(emulator.scenario.turns[2:])

    async def slow(call: RunTool) -> str:
        await asyncio.sleep(0.8)
        return '{"ok": true}'

    pair = CorePair(make_client(), TurnPolicy(tool_budget_ms=300, duplex="full"), slow)
    await pair.start_turn()
    await speak(pair.client)
    await pair.until(ToolCallRequested)
    assert not pair.streaming  # held: speech now must not start a reply without the result
    done = await pair.until(
        ResponseFinished,
        lambda e: e.status == "completed" and bool(emulator.events_of("response.create")),
    )
    assert emulator.premature_responses == 0
    outputs = emulator.events_of("conversation.item.create")
    assert json.loads(outputs[0]["item"]["output"])["error"] == "tool_timeout"
    assert len(emulator.events_of("response.create")) == 1 and done.status == "completed"
    async with asyncio.timeout(TIMEOUT_S):  # the real result, too late, becomes a note
        while len(emulator.events_of("conversation.item.create")) < 2:
            await asyncio.sleep(0.02)
    late = emulator.events_of("conversation.item.create")[-1]["item"]
    assert late["role"] == "system" and '{"ok": true}' in late["content"][0]["text"]
    assert len(emulator.events_of("response.create")) == 1


async def test_full_duplex_interruption_by_server_vad(emulator: RealtimeEmulator, make_client):
    """The service hears the user over the reply; the core cancels, truncates, keeps the input."""
    emulator.pace = 1.0
    emulator.set_turns([])
    pair = CorePair(make_client(), TurnPolicy(duplex="full", barge_guard_ms=0))
    await pair.start_turn()
    await speak(pair.client)
    first = await pair.until(ReplyAudio)
    pair.feed(Heard(((first.item_id, 24 * 80),)))
    await speak(pair.client, speech_ms=300, silence_ms=0)  # the user talks over the reply
    await pair.until(UserSpeechStarted)
    cancelled = await pair.until(ResponseFinished)
    assert cancelled.status == "cancelled" and cancelled.reason == "client_cancelled"
    await speak(pair.client, speech_ms=0, silence_ms=300)  # the question ends
    done = await pair.until(ResponseFinished)
    assert done.status == "completed"
    assert [t[:2] for t in emulator.truncations] == [(first.item_id, 80)]
    assert not emulator.events_of("input_audio_buffer.clear")  # the question was kept
    errors = [e["error"]["code"] for e in emulator.server_events if e["type"] == "error"]
    assert set(errors) <= {"response_cancel_not_active"}  # a harmless race, at most


async def test_no_secret_in_debug_logs(emulator: RealtimeEmulator, make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    await next_of(client, ResponseFinished)
    assert "> " in caplog.text  # debug wire logging was on
    assert KEY_TEXT not in caplog.text and KEY_TEXT not in repr(client.__dict__)


KEY_TEXT = "sk-test-0123456789"


async def test_user_transcript_and_errors_naming_our_event(
    emulator: RealtimeEmulator, make_client, caplog
) -> None:
    client = make_client(transcription_model="gpt-4o-mini-transcribe")
    await client.ensure_connected()
    await speak(client)
    heard = await next_of(client, UserTranscript)
    assert heard.text == emulator.scenario.turns[0].user_transcript
    await next_of(client, ResponseFinished)
    client.send_function_output("call_unknown", "{}")  # the service refuses, naming our event
    client.clear_input()
    client.commit()  # an empty buffer: refused too, but that one is harmless
    async with asyncio.timeout(TIMEOUT_S):
        while len(server_events_of(emulator, "error")) < 2:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    codes = [e["error"]["code"] for e in server_events_of(emulator, "error")]
    assert codes == ["invalid_value", "input_audio_buffer_commit_empty"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "realtime error" in w] == [
        "realtime error invalid_value (our conversation.item.create event): No tool call found "
        "for function call output with call_id call_unknown."
    ]
    assert client.state is ClientState.READY


async def test_transcription_is_switched_on_and_off_in_the_session(
    emulator: RealtimeEmulator, make_client
) -> None:
    client = make_client()
    await client.ensure_connected()
    client.set_transcription(True)
    client.set_transcription(False)
    async with asyncio.timeout(TIMEOUT_S):
        while len(emulator.events_of("session.update")) < 3:
            await asyncio.sleep(0.02)
    first, on, off = (u["session"] for u in emulator.events_of("session.update"))
    assert "transcription" not in first["audio"]["input"]
    assert on["audio"]["input"]["transcription"] == {"model": "gpt-realtime-whisper"}
    assert off["audio"]["input"]["transcription"] is None


async def test_a_slow_app_pauses_the_reader_and_loses_no_event(
    emulator: RealtimeEmulator, make_client, caplog
) -> None:
    client = make_client(max_events=4)
    await client.ensure_connected()
    with caplog.at_level(logging.WARNING, logger="edge_agent.realtime.client"):
        await speak(client)
        await asyncio.sleep(0.5)  # the app is busy: the whole reply arrives meanwhile
        assert client.events.qsize() == 4
        seen: list = []
        await next_of(client, ResponseFinished, seen)
    audio = b"".join(e.pcm for e in seen if isinstance(e, ReplyAudio))
    assert audio == emulator.scenario.turns[0].reply.pcm
    stalls = [r for r in caplog.records if "pausing the socket reader" in r.message]
    assert len(stalls) == 1
