"""The emulator on its own: checked with the openai SDK's realtime client and raw sockets."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from edge_agent.sim.realtime_server import RealtimeEmulator
from tests.realtime.conftest import KEY, TIMEOUT_S, silence, speech
from tests.realtime.conftest import recv_until as _until
from tests.realtime.conftest import send_event as _send


async def test_openai_sdk_client_completes_text_and_audio_turns(emulator: RealtimeEmulator):
    sdk = AsyncOpenAI(api_key=KEY, websocket_base_url=emulator.base_url)
    async with sdk.realtime.connect(model="gpt-realtime") as conn:
        created = await conn.recv()
        assert created.type == "session.created"
        await conn.session.update(session={"type": "realtime", "instructions": "be brief"})
        assert (await conn.recv()).type == "session.updated"
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            }
        )
        await conn.response.create()
        audio, kinds = bytearray(), []
        async with asyncio.timeout(TIMEOUT_S):
            async for event in conn:
                kinds.append(event.type)
                if event.type == "response.output_audio.delta":
                    audio += base64.b64decode(event.delta)
                if event.type == "response.done":
                    assert event.response.status == "completed"
                    break
        assert bytes(audio) == emulator.scenario.turns[0].reply.pcm
        assert kinds.index("response.created") < kinds.index("response.output_audio.delta")
        # a spoken turn through server VAD
        pcm = silence(100) + speech(300) + silence(600)
        for i in range(0, len(pcm), 1920):
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + 1920]).decode())
        async with asyncio.timeout(TIMEOUT_S):
            async for event in conn:
                kinds.append(event.type)
                if event.type == "response.done":
                    break
        assert "input_audio_buffer.speech_started" in kinds
        assert kinds.count("response.done") == 2


async def _raw(emu: RealtimeEmulator, key: str = KEY, **headers: str):
    return await connect(
        emu.url + "?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {key}", **headers},
    )


async def test_handshake_rejects_a_bad_key_with_401(emulator: RealtimeEmulator) -> None:
    with pytest.raises(InvalidStatus) as info:
        await _raw(emulator, "sk-nope")
    assert info.value.response.status_code == 401


async def test_vad_timing_follows_the_session_settings(emulator: RealtimeEmulator) -> None:
    async with await _raw(emulator) as ws:
        await _until(ws, "session.created")
        td = {
            "type": "server_vad",
            "silence_duration_ms": 300,
            "prefix_padding_ms": 200,
            "create_response": False,
        }
        await _send(
            ws,
            "session.update",
            session={"type": "realtime", "audio": {"input": {"turn_detection": td}}},
        )
        updated = await _until(ws, "session.updated")
        merged = updated["session"]["audio"]["input"]["turn_detection"]
        assert merged["threshold"] == 0.5 and merged["silence_duration_ms"] == 300  # merged
        pcm = silence(500) + speech(400) + silence(500)
        await _send(ws, "input_audio_buffer.append", audio=base64.b64encode(pcm).decode())
        seen: list[dict[str, Any]] = []
        started = await _until(ws, "input_audio_buffer.speech_started", seen)
        stopped = await _until(ws, "input_audio_buffer.speech_stopped", seen)
        await _until(ws, "conversation.item.done", seen)
        assert started["audio_start_ms"] == 300  # 500 ms of silence minus 200 ms padding
        assert stopped["audio_end_ms"] == 1200  # 900 ms speech end + the 300 ms silence
        assert started["item_id"] == stopped["item_id"]
        await asyncio.sleep(0.1)
        assert "response.created" not in [e["type"] for e in seen]  # create_response off
    assert bytes(emulator.input_audio) == pcm


async def test_one_active_response_cancel_and_truncate_rules(emulator: RealtimeEmulator) -> None:
    emulator.pace = 1.0
    async with await _raw(emulator) as ws:
        await _until(ws, "session.created")
        await _send(ws, "response.create", event_id="evt_a")
        await _send(ws, "response.create", event_id="evt_b")
        err = await _until(ws, "error")
        assert err["error"]["code"] == "conversation_already_has_active_response"
        assert err["error"]["event_id"] == "evt_b"
        delta = await _until(ws, "response.output_audio.delta")
        await _send(ws, "response.cancel")
        done = await _until(ws, "response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "client_cancelled"
        await _send(
            ws,
            "conversation.item.truncate",
            event_id="evt_c",
            item_id=delta["item_id"],
            content_index=0,
            audio_end_ms=60_000,
        )
        err = await _until(ws, "error")
        assert err["error"]["event_id"] == "evt_c" and "already shorter" in err["error"]["message"]
        await _send(
            ws,
            "conversation.item.truncate",
            item_id=delta["item_id"],
            content_index=0,
            audio_end_ms=50,
        )
        truncated = await _until(ws, "conversation.item.truncated")
        assert truncated["audio_end_ms"] == 50
        await _send(ws, "response.cancel", event_id="evt_d")
        err = await _until(ws, "error")
        assert err["error"]["code"] == "response_cancel_not_active"


async def test_speech_during_a_reply_interrupts_it(emulator: RealtimeEmulator) -> None:
    emulator.pace = 1.0
    async with await _raw(emulator) as ws:
        await _until(ws, "session.created")
        await _send(ws, "response.create")
        await _until(ws, "response.output_audio.delta")
        await _send(ws, "input_audio_buffer.append", audio=base64.b64encode(speech(200)).decode())
        done = await _until(ws, "response.done")
        assert done["response"]["status_details"]["reason"] == "turn_detected"


async def test_function_call_waits_for_outputs_and_flags_premature_replies(emulator):
    emulator.set_turns(emulator.scenario.turns[2:])
    async with await _raw(emulator) as ws:
        await _until(ws, "session.created")
        await _send(ws, "response.create")
        call = await _until(ws, "response.function_call_arguments.done")
        assert json.loads(call["arguments"]) == {"device": "kitchen", "on": True}
        await _until(ws, "response.done")
        await _send(ws, "response.create")  # without the output: the pitfall
        seen: list[dict[str, Any]] = []
        await _until(ws, "response.done", seen)
        assert emulator.premature_responses == 1
        item = {"type": "function_call_output", "call_id": call["call_id"], "output": "{}"}
        await _send(ws, "conversation.item.create", item=item)
        await _send(ws, "response.create")
        seen = []
        await _until(ws, "response.done", seen)
        words = "".join(
            e["delta"] for e in seen if e["type"] == "response.output_audio_transcript.delta"
        )
        assert words == emulator.scenario.turns[2].then.text


async def test_idle_timeout_and_session_expiry(emulator: RealtimeEmulator) -> None:
    emulator.session_max_s = 3.0
    async with await _raw(emulator) as ws:
        await _until(ws, "session.created")
        td = {"type": "server_vad", "idle_timeout_ms": 200}
        await _send(
            ws,
            "session.update",
            session={"type": "realtime", "audio": {"input": {"turn_detection": td}}},
        )
        await _send(ws, "response.create")
        await _until(ws, "response.done")
        done_at = asyncio.get_running_loop().time()
        timeout = await _until(ws, "input_audio_buffer.timeout_triggered")
        assert timeout["item_id"]
        # counted from response.done + the 1.2 s of reply audio (the service's estimate)
        assert asyncio.get_running_loop().time() - done_at >= 1.2 + 0.2 - 0.05
        await _until(ws, "response.done")  # the idle prompt's reply
        err = await _until(ws, "error")
        assert err["error"]["code"] == "session_expired"
        await ws.wait_closed()
        assert ws.close_code == 1001


async def test_beta_shape_is_refused(emulator: RealtimeEmulator) -> None:
    async with await _raw(emulator, **{"OpenAI-Beta": "realtime=v1"}) as ws:
        err = await _until(ws, "error")
        assert err["error"]["code"] == "beta_api_shape_disabled"


async def test_bad_client_events_get_errors_with_our_event_id(emulator: RealtimeEmulator) -> None:
    async with await _raw(emulator) as ws:
        await _until(ws, "session.created")
        await _send(ws, "response.audio.delta", event_id="evt_x")  # beta name
        err = await _until(ws, "error")
        assert err["error"]["event_id"] == "evt_x"
        await _send(
            ws, "session.update", event_id="evt_y", session={"voice": "marin"}
        )  # beta shape
        err = await _until(ws, "error")
        assert err["error"]["event_id"] == "evt_y"
        await ws.send("{not json")
        err = await _until(ws, "error")
        assert err["error"]["code"] == "invalid_json"
    # invalid on purpose: keep them out of the SDK validation at teardown
    emulator.client_events.clear()
