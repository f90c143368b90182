"""The emulator rejects what the service rejects (realtime-protocol.md §8), with the code, the
param path and our event_id, and drops a rejected session.update whole."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.realtime import (
    realtime_audio_config_input as audio_in,
)
from openai.types.realtime import (
    realtime_audio_config_output as audio_out,
)
from openai.types.realtime import (
    realtime_audio_input_turn_detection as td_types,
)
from openai.types.realtime import (
    realtime_session_create_request as session_types,
)

from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.realtime_validate import SESSION_FIELDS
from tests.realtime.conftest import append, raw_ws, recv_until, send_event, speech, update


async def _error_for(ws: Any, kind: str, **fields: Any) -> dict[str, Any]:
    await send_event(ws, kind, event_id="evt_bad", **fields)
    err = await recv_until(ws, "error")
    assert err["error"]["event_id"] == "evt_bad"
    return err["error"]


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"voice": "marin"}, "unknown_parameter", "session.voice"),  # the beta shape
        ({"modalities": ["audio"]}, "unknown_parameter", "session.modalities"),
        ({"temperature": 0.8}, "unknown_parameter", "session.temperature"),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "eagerness": "low"}}}},
            "unknown_parameter",
            "session.audio.input.turn_detection.eagerness",
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}}}},
            "unknown_parameter",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "x"}}}},
            "invalid_value",
            "session.audio.input.turn_detection.eagerness",
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}}},
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
        ({"audio": {"output": {"pitch": 1}}}, "unknown_parameter", "session.audio.output.pitch"),
        ({"truncation": "sometimes"}, "invalid_value", "session.truncation"),
        (
            {"truncation": {"type": "retention_ratio", "retention_ratio": 1.5}},
            "invalid_value",
            "session.truncation.retention_ratio",
        ),
        ({"output_modalities": ["audio", "text"]}, "invalid_value", "session.output_modalities"),
        ({"model": "gpt-realtime-2.1-mini"}, "invalid_value", "session.model"),  # URL only
    ],
)
async def test_session_update_rejections(emulator, session, code, param):
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        err = await _error_for(
            ws, "session.update", session={"type": "realtime", "instructions": "X", **session}
        )
        assert (err["code"], err["param"]) == (code, param)
        updated = await update(ws)  # the rejected update was dropped whole
        assert updated["session"]["instructions"] == ""
    emulator.client_events.clear()  # invalid on purpose: not for the SDK check at teardown


async def test_missing_session_type(emulator):
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        err = await _error_for(ws, "session.update", session={"instructions": "hi"})
    assert (err["code"], err["param"]) == ("missing_required_parameter", "session.type")
    emulator.client_events.clear()


async def test_voice_is_frozen_once_the_session_has_spoken(emulator: RealtimeEmulator):
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        assert (await update(ws, audio={"output": {"voice": "marin"}}))["type"] == "session.updated"
        await send_event(ws, "response.create")
        await recv_until(ws, "response.done")
        same = await update(ws, audio={"output": {"voice": "marin"}})
        assert same["type"] == "session.updated"  # not a change
        err = await _error_for(
            ws,
            "session.update",
            session={"type": "realtime", "audio": {"output": {"voice": "ash"}}},
        )
    assert (err["code"], err["param"]) == ("cannot_update_voice", "session.audio.output.voice")


async def test_truncate_rules(emulator: RealtimeEmulator):
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        await send_event(ws, "response.create")
        seen: list[dict[str, Any]] = []
        await recv_until(ws, "response.done", seen)
        reply = next(e["item"] for e in seen if e["type"] == "response.output_item.added")
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        }
        await send_event(ws, "conversation.item.create", item=item)
        user = (await recv_until(ws, "conversation.item.done"))["item"]["id"]
        t = {"content_index": 0, "audio_end_ms": 100}
        beyond = await _error_for(
            ws,
            "conversation.item.truncate",
            item_id=reply["id"],
            content_index=0,
            audio_end_ms=1201,
        )
        not_audio = await _error_for(ws, "conversation.item.truncate", item_id=user, **t)
        unknown = await _error_for(ws, "conversation.item.truncate", item_id="item_nope", **t)
    assert beyond["message"] == "Audio content of 1200ms is already shorter than 1201ms."
    assert not_audio["message"] == "Only model output audio messages can be truncated."
    assert unknown["code"] == "item_not_found"
    assert emulator.truncations == []


async def test_item_rejections(emulator: RealtimeEmulator):
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        output = {"type": "function_call_output", "call_id": "call_never", "output": "{}"}
        no_call = await _error_for(ws, "conversation.item.create", item=output)
        assistant_audio = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "hi"}],
        }
        audio = await _error_for(ws, "conversation.item.create", item=assistant_audio)
        untyped = await _error_for(ws, "conversation.item.create", item={"role": "user"})
        delete = await _error_for(ws, "conversation.item.delete", item_id="item_nope")
    assert (no_call["code"], no_call["param"]) == ("invalid_value", "item.call_id")
    assert (audio["code"], audio["param"]) == ("invalid_value", "item.content[0].type")
    assert (untyped["code"], untyped["param"]) == ("missing_required_parameter", "item.type")
    assert (delete["code"], delete["param"]) == ("item_delete_invalid_item_id", "item_id")
    emulator.client_events.clear()


async def test_commit_under_100_ms_and_a_second_active_response(emulator: RealtimeEmulator):
    emulator.pace = 1.0
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        await update(ws, audio={"input": {"turn_detection": None}})
        await append(ws, speech(80))
        empty = await _error_for(ws, "input_audio_buffer.commit")
        await send_event(ws, "response.create")
        await recv_until(ws, "response.created")
        busy = await _error_for(ws, "response.create")
    assert empty["code"] == "input_audio_buffer_commit_empty"
    assert "only has 80.00ms" in empty["message"]
    assert busy["code"] == "conversation_already_has_active_response"


def _keys(model: Any) -> set[str]:
    return set(model.model_fields)


def test_known_fields_follow_the_openai_sdk():
    assert set(SESSION_FIELDS) == _keys(session_types.RealtimeSessionCreateRequest)
    assert set(SESSION_FIELDS["audio"]["input"]) == _keys(audio_in.RealtimeAudioConfigInput)
    assert set(SESSION_FIELDS["audio"]["output"]) == _keys(audio_out.RealtimeAudioConfigOutput)
    vad = _keys(td_types.ServerVad) | _keys(td_types.SemanticVad)
    assert set(SESSION_FIELDS["audio"]["input"]["turn_detection"]) == vad
