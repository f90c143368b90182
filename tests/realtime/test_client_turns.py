"""The client against the emulator over real sockets: turns, tools, barge-in."""

from __future__ import annotations

import asyncio
import json
import logging

from edge_agent.realtime import protocol as p
from edge_agent.realtime.client import ClientState, Connected
from edge_agent.sim.realtime_server import RealtimeEmulator
from tests.realtime.conftest import KEY, next_of, speak


async def test_spoken_turn(emulator: RealtimeEmulator, make_client) -> None:
    client = make_client()
    await client.ensure_connected()
    assert client.state is ClientState.READY
    seen: list = []
    await speak(client)
    started = await next_of(client, p.SpeechStarted, seen)
    stopped = await next_of(client, p.SpeechStopped, seen)
    done = await next_of(client, p.ResponseDone, seen)
    audio = b"".join(e.pcm for e in seen if isinstance(e, p.AudioDelta))
    text = "".join(e.text for e in seen if isinstance(e, p.TranscriptDelta))
    reply = emulator.scenario.turns[0].reply
    assert audio == reply.pcm
    assert text == reply.text
    assert done.status == "completed" and done.usage.output_tokens > 0
    assert started.audio_start_ms == 0  # speech at 100 ms, minus 100 ms prefix padding
    assert stopped.audio_end_ms == 700  # speech ends at 500 ms + 200 ms silence (SDK: included)
    # the session update carried our config; input audio arrived in 40 ms appends
    update = emulator.events_of("session.update")[0]["session"]
    assert update["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
    assert update["tools"][0]["name"] == "get_weather"
    appends = emulator.events_of("input_audio_buffer.append")
    assert all(len(e["audio"]) == 2560 for e in appends)  # base64 of 1920 bytes
    assert isinstance(seen[0], Connected | p.SpeechStarted)


async def test_audio_sent_while_connecting_is_not_lost(emulator: RealtimeEmulator, make_client):
    client = make_client()
    pcm = bytes(range(256)) * 75  # 19200 bytes = 400 ms, recognisable
    client.connect_soon()
    client.send_audio(pcm[:5000])
    client.send_audio(pcm[5000:])
    await client.ensure_connected()
    client.commit()
    await next_of(client, p.InputCommitted)
    assert bytes(emulator.input_audio) == pcm


async def test_function_call_turn_sends_outputs_then_one_create(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.set_turns(emulator.scenario.turns[2:])  # the one-call turn
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    call = await next_of(client, p.FunctionCallDone)
    assert call.name == "set_light" and call.arguments == {"device": "kitchen", "on": True}
    await next_of(client, p.ResponseDone)
    assert len(emulator.events_of("response.create")) == 0  # VAD made the first response
    client.send_function_output(call.call_id, json.dumps({"ok": True}))
    seen: list = []
    done = await next_of(client, p.ResponseDone, seen)
    assert done.status == "completed"
    audio = b"".join(e.pcm for e in seen if isinstance(e, p.AudioDelta))
    assert audio == emulator.scenario.turns[2].then.pcm
    kinds = [e["type"] for e in emulator.client_events if e["type"] != "input_audio_buffer.append"]
    out_at = kinds.index("conversation.item.create")
    assert kinds[out_at:] == ["conversation.item.create", "response.create"]
    assert emulator.premature_responses == 0


async def test_two_parallel_calls(emulator: RealtimeEmulator, make_client) -> None:
    emulator.set_turns(emulator.scenario.turns[1:])
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    first = await next_of(client, p.FunctionCallDone)
    second = await next_of(client, p.FunctionCallDone)
    assert {first.arguments["location"], second.arguments["location"]} == {"Berlin", "Paris"}
    await next_of(client, p.ResponseDone)
    client.send_function_output(second.call_id, '{"temp_c": 14}')
    assert client.conversation.is_input_held  # one call still open
    client.send_function_output(first.call_id, '{"temp_c": 21}')
    done = await next_of(client, p.ResponseDone)
    assert done.status == "completed"
    assert len(emulator.events_of("response.create")) == 1
    outputs = emulator.events_of("conversation.item.create")
    assert [o["item"]["call_id"] for o in outputs] == [second.call_id, first.call_id]
    assert emulator.premature_responses == 0


async def test_outputs_before_the_response_is_done_wait_for_it(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.set_turns(emulator.scenario.turns[2:])
    emulator.faults.delay_ms = 30  # response.done comes well after the call
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    call = await next_of(client, p.FunctionCallDone)
    client.send_function_output(call.call_id, '{"ok": true}')  # response still active
    await next_of(client, p.ResponseDone)
    emulator.faults.delay_ms = 0
    done = await next_of(client, p.ResponseDone)
    assert done.status == "completed"
    assert len(emulator.events_of("response.create")) == 1
    errors = [e for e in emulator.server_events if e["type"] == "error"]
    assert errors == []


async def test_barge_in_truncates_at_played_ms(emulator: RealtimeEmulator, make_client) -> None:
    emulator.pace = 1.0  # real time, so the reply is still going when we interrupt
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    first = await next_of(client, p.AudioDelta)
    await next_of(client, p.AudioDelta)  # 200 ms received
    client.report_played(first.item_id, 24 * 130)  # the speaker played 130 ms
    client.barge_in()
    seen: list = []
    done = await next_of(client, p.ResponseDone, seen)
    assert done.status == "cancelled" and done.reason == "client_cancelled"
    (truncated,) = [e for e in seen if isinstance(e, p.ItemTruncated)]
    assert truncated.item_id == first.item_id and truncated.audio_end_ms == 130
    assert emulator.truncations == [(first.item_id, 130, emulator.truncations[0][2])]
    kinds = [e["type"] for e in emulator.client_events if e["type"] != "input_audio_buffer.append"]
    assert kinds[-3:] == [
        "response.cancel",
        "conversation.item.truncate",
        "input_audio_buffer.clear",
    ]


async def test_barge_in_caps_truncate_at_received_audio(emulator: RealtimeEmulator, make_client):
    emulator.pace = 1.0
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    delta = await next_of(client, p.AudioDelta)
    received_ms = client.conversation.received_ms(delta.item_id)
    assert received_ms == 100
    client.barge_in(played_ms=60_000)  # the app claims more than we ever received
    truncated = await next_of(client, p.ItemTruncated)
    assert (truncated.item_id, truncated.audio_end_ms) == (delta.item_id, received_ms)
    assert not [e for e in emulator.server_events if e["type"] == "error"]


async def test_slow_tool_is_answered_within_budget_and_late_result_noted(
    emulator: RealtimeEmulator, make_client
) -> None:
    emulator.set_turns(emulator.scenario.turns[2:])
    client = make_client(tool_budget_ms=300)
    await client.ensure_connected()
    await speak(client)
    call = await next_of(client, p.FunctionCallDone)
    await next_of(client, p.ResponseDone)
    # the user keeps talking while the tool runs: held back, so VAD cannot start a reply
    appended = len(emulator.events_of("input_audio_buffer.append"))
    await speak(client, speech_ms=300, silence_ms=300)
    assert client.conversation.is_input_held
    done = await next_of(client, p.ResponseDone)  # the budget ran out: structured answer
    assert done.status == "completed"
    assert emulator.premature_responses == 0
    outputs = emulator.events_of("conversation.item.create")
    assert json.loads(outputs[0]["item"]["output"])["error"] == "tool_timeout"
    assert len(emulator.events_of("response.create")) == 1
    client.send_function_output(call.call_id, '{"ok": true}')  # the real result, too late
    await asyncio.sleep(0.2)
    late = emulator.events_of("conversation.item.create")[-1]["item"]
    assert late["role"] == "system" and '{"ok": true}' in late["content"][0]["text"]
    assert len(emulator.events_of("response.create")) == 1
    # the speech during the tool wait never reached the server
    assert len(emulator.events_of("input_audio_buffer.append")) == appended


async def test_full_duplex_interruption_by_server_vad(emulator: RealtimeEmulator, make_client):
    """The server cancels on speech (turn_detected); the app truncates; the next turn works."""
    emulator.pace = 1.0
    emulator.set_turns([])
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    first = await next_of(client, p.AudioDelta)
    seen: list = []
    await speak(client, speech_ms=300, silence_ms=0)  # the user talks over the reply
    await next_of(client, p.SpeechStarted, seen)
    client.report_played(first.item_id, 24 * 80)
    client.barge_in(clear_input=False)  # stop playback, truncate at 80 ms, keep the question
    done = await next_of(client, p.ResponseDone, seen)
    assert done.status == "cancelled" and done.reason == "turn_detected"
    await speak(client, speech_ms=0, silence_ms=300)  # the question ends
    done = await next_of(client, p.ResponseDone, seen)
    assert done.status == "completed"
    assert [t[:2] for t in emulator.truncations] == [(first.item_id, 80)]
    errors = [e["error"]["code"] for e in emulator.server_events if e["type"] == "error"]
    assert set(errors) <= {"response_cancel_not_active"}  # a harmless race, at most


async def test_no_secret_in_debug_logs(emulator: RealtimeEmulator, make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    await client.ensure_connected()
    await speak(client)
    await next_of(client, p.ResponseDone)
    assert "> " in caplog.text  # debug wire logging was on
    assert KEY not in caplog.text and KEY not in repr(client.__dict__)


async def test_user_transcript_and_errors_naming_our_event(
    emulator: RealtimeEmulator, make_client, caplog
) -> None:
    client = make_client(transcription_model="gpt-4o-mini-transcribe")
    await client.ensure_connected()
    await speak(client)
    heard = await next_of(client, p.UserTranscript)
    assert heard.text == emulator.scenario.turns[0].user_transcript
    await next_of(client, p.ResponseDone)
    client.send_function_output("call_unknown", "{}")  # dropped by the rules: nothing sent
    client.clear_input()
    client.commit()  # an empty buffer: the server refuses, naming our commit
    err = await next_of(client, p.ServerError)
    assert err.code == "input_audio_buffer_commit_empty"
    assert "(our input_audio_buffer.commit event)" in caplog.text
    assert not emulator.events_of("conversation.item.create")


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
        await next_of(client, p.ResponseDone, seen)
    audio = b"".join(e.pcm for e in seen if isinstance(e, p.AudioDelta))
    assert audio == emulator.scenario.turns[0].reply.pcm
    stalls = [r for r in caplog.records if "pausing the socket reader" in r.message]
    assert len(stalls) == 1
