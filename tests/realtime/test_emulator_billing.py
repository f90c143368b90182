"""The emulator bills like the service: the whole conversation re-read as input by every
response, cached prefixes (≥ 1024 tokens, 128-token steps), deletes, truncates and
`truncation` that really change the history (raw WebSocket; whole usage records compared)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from edge_agent.realtime.events import ResponseDone, Usage, parse_server_event
from edge_agent.sim.realtime_history import History, HistoryItem
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.scenario import Call, Reply, Scenario, Turn, tone
from tests.realtime.conftest import KEY, raw_ws, recv_until, send_event, speech, update

#: every reply: 1000 ms of audio (20 audio tokens) and 12 characters (3 text tokens)
REPLY = Reply("Twelve chars", tone(330, 1000))


@pytest.fixture
async def emu():
    emu = RealtimeEmulator(Scenario(fallback=REPLY), api_keys=[KEY])
    await emu.start()
    yield emu
    await emu.stop()


def U(inp_text, inp_audio, cached_text=0, cached_audio=0, out_text=3, out_audio=20) -> Usage:
    inp, out = inp_text + inp_audio, out_text + out_audio
    return Usage(
        inp, out, inp + out, inp_text, inp_audio,
        cached_text + cached_audio, cached_text, cached_audio, out_text, out_audio,
    )  # fmt: skip


async def _respond(ws: Any) -> dict[str, Any]:
    await send_event(ws, "response.create")
    seen: list[dict[str, Any]] = []
    done = await recv_until(ws, "response.done", seen)
    done["items"] = [e["item"]["id"] for e in seen if e["type"] == "response.output_item.added"]
    return done


async def _say(ws: Any, ms: int) -> str:
    await send_event(ws, "input_audio_buffer.append", audio=base64.b64encode(speech(ms)).decode())
    await send_event(ws, "input_audio_buffer.commit")
    return (await recv_until(ws, "input_audio_buffer.committed"))["item_id"]


async def _text(ws: Any, chars: int) -> str:
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "w" * chars}],
    }
    await send_event(ws, "conversation.item.create", item=item)
    return (await recv_until(ws, "conversation.item.done"))["item"]["id"]


async def test_history_is_rebilled_and_the_unchanged_prefix_is_cached(emu):
    dones = []
    async with await raw_ws(emu) as ws:
        await recv_until(ws, "session.created")
        # instructions + "[]" = 4002 characters = 1001 text tokens, just below the cache minimum
        await update(ws, instructions="i" * 4000, audio={"input": {"turn_detection": None}})
        user1 = await _say(ws, 30_000)  # 300 audio tokens
        dones.append(await _respond(ws))  # r1: nothing before it
        await _say(ws, 2000)  # 20
        dones.append(await _respond(ws))  # r2: prefix + user1 unchanged = 1301 → 1280 cached
        await send_event(ws, "conversation.item.delete", item_id=user1)
        await recv_until(ws, "conversation.item.deleted")
        dones.append(await _respond(ws))  # r3: only the 1001-token prefix is shared → 0
        dones.append(await _respond(ws))  # r4: r3's whole input (1061) shared → 1024
        first_reply = dones[0]["items"][0]
        await send_event(
            ws, "conversation.item.truncate", item_id=first_reply, content_index=0, audio_end_ms=500
        )
        await recv_until(ws, "conversation.item.truncated")
        dones.append(await _respond(ws))  # r5: the truncated reply (20 → 10) ends the prefix
    expected = [
        U(1001, 300),
        U(1001, 300 + 20 + 20, cached_text=1001, cached_audio=279),
        U(1001, 20 + 20 + 20),
        U(1001, 20 + 20 + 20 + 20, cached_text=1001, cached_audio=23),
        U(1001, 10 + 20 + 20 + 20 + 20),
    ]
    assert [r.usage for r in emu.usage_log] == expected
    assert [r.status for r in emu.usage_log] == ["completed"] * 5
    # what went over the wire parses to the same numbers with the client's parser
    parsed = [parse_server_event(json.dumps(d)) for d in dones]
    assert [p.usage for p in parsed if isinstance(p, ResponseDone)] == expected


async def test_retention_ratio_cuts_the_history_once_then_the_cache_holds(emu):
    truncation = {
        "type": "retention_ratio",
        "retention_ratio": 0.5,
        "token_limits": {"post_instructions": 100},
    }
    async with await raw_ws(emu) as ws:
        await recv_until(ws, "session.created")
        await update(ws, truncation=truncation)
        first = await _text(ws, 160)  # 40 tokens each
        await _text(ws, 160)
        await _respond(ws)  # 80 + "[]" ≤ 100: kept
        await _text(ws, 160)  # 40 + 40 + 20 (reply) + 40 = 140 > 100 → cut to ≤ 50
        await _respond(ws)
        await _respond(ws)  # 40 + 20 = 60 ≤ 100: nothing dropped
        await send_event(ws, "conversation.item.delete", event_id="del", item_id=first)
        err = await recv_until(ws, "error")
    assert [r.usage.input_tokens for r in emu.usage_log] == [1 + 80, 1 + 40, 1 + 40 + 20]
    assert (err["error"]["event_id"], err["error"]["param"]) == ("del", "item_id")


async def test_auto_truncation_drops_just_enough(emu):
    emu.context_tokens = 100
    async with await raw_ws(emu) as ws:
        await recv_until(ws, "session.created")
        for _ in range(3):
            await _text(ws, 160)
        await _respond(ws)  # 120 > 99 → drop one: 80
        await _text(ws, 160)
        await _respond(ws)  # 80 + 20 + 40 = 140 → drop two: 60
    assert [r.usage.input_audio_tokens for r in emu.usage_log] == [0, 20]
    assert [r.usage.input_text_tokens for r in emu.usage_log] == [1 + 80, 1 + 40]


async def test_tools_calls_and_outputs_are_billed_as_text(emu):
    emu.set_turns([Turn(calls=(Call("get_weather", {"location": "Oslo"}),), then=REPLY)])
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    async with await raw_ws(emu) as ws:
        await recv_until(ws, "session.created")
        await update(ws, tools=[tool])
        done = await _respond(ws)
        call_id = done["response"]["output"][0]["call_id"]
        item = {"type": "function_call_output", "call_id": call_id, "output": "x" * 40}
        await send_event(ws, "conversation.item.create", item=item)
        await recv_until(ws, "conversation.item.done")
        await _respond(ws)
    # the tools as billed: sorted, compact JSON, 73 characters → 19 tokens
    schema = '[{"name":"get_weather","parameters":{"type":"object"},"type":"function"}]'
    assert len(schema) == 73
    args = json.dumps({"location": "Oslo"})  # 20 chars → 5 output text tokens
    assert len(args) == 20
    call = U(19, 0, out_text=5, out_audio=0)
    then = U(19 + 8 + 10, 0)  # + name+args (31 chars → 8) + the output (40 → 10)
    assert [r.usage for r in emu.usage_log] == [call, then]


def test_cache_rule_literals():
    h = History()
    h.add(HistoryItem("a", "user_audio", 0, 1100))
    first = h.bill_input("", [])  # prefix "[]" = 1 token
    again = h.bill_input("", [])
    assert (first.cached_tokens, again.cached_tokens) == (0, 1024)  # 1101 → 8 × 128
    h.add(HistoryItem("b", "text", 200))
    third = h.bill_input("", [])
    assert (third.cached_tokens, third.cached_text_tokens, third.cached_audio_tokens) == (
        1024,
        1,
        1023,
    )
    assert h.bill_input("changed", []).cached_tokens == 0  # new instructions bust it all
