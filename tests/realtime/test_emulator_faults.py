"""Each response fault makes the emulator send exactly that (raw WebSocket, literal checks)."""

from __future__ import annotations

import base64
import json
from typing import Any

from edge_agent.realtime.events import ResponseDone, parse_server_event
from edge_agent.sim.realtime_faults import ResponseFault
from edge_agent.sim.realtime_server import RealtimeEmulator
from tests.realtime.conftest import raw_ws, recv_until, send_event

ADDED = "response.output_item.added"
DELTA = "response.output_audio.delta"


async def _response(emu: RealtimeEmulator, *faults: ResponseFault | None, n: int = 1):
    """Run `n` response.create turns with these faults; the events of each response."""
    emu.set_turns([])  # plain spoken replies: the fallback ("I heard you.", 600 ms)
    emu.faults.responses = list(faults)
    out = []
    async with await raw_ws(emu) as ws:
        await recv_until(ws, "session.created")
        for _ in range(n):
            await send_event(ws, "response.create")
            seen: list[dict[str, Any]] = []
            await recv_until(ws, "response.done", seen)
            out.append(seen)
    return out


def _audio(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == DELTA)


def _done(events: list[dict[str, Any]]) -> dict[str, Any]:
    return events[-1]["response"]


async def test_failed_without_audio(emulator):
    [seen] = await _response(emulator, ResponseFault.failed("server_error"))
    assert [e["type"] for e in seen] == ["response.created", "response.done"]
    done = _done(seen)
    assert (done["status"], done["output"]) == ("failed", [])
    assert done["status_details"] == {
        "type": "failed",
        "error": {
            "type": "server_error",
            "code": "server_error",
            "message": "The server had an error while processing your request. Sorry about that!",
        },
    }
    assert done["usage"]["total_tokens"] == 0
    parsed = parse_server_event(json.dumps(seen[-1]))
    assert isinstance(parsed, ResponseDone) and parsed.reason == "server_error"


async def test_failed_after_some_audio_and_only_on_the_second_turn(emulator):
    fault = ResponseFault.failed("rate_limit_exceeded", after_ms=300)
    first, second = await _response(emulator, None, fault, n=2)
    assert _done(first)["status"] == "completed"
    assert _audio(first) == emulator.scenario.fallback.pcm
    assert _audio(second) == emulator.scenario.fallback.pcm[: 300 * 48]
    done = _done(second)
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["code"] == "rate_limit_exceeded"
    assert done["status_details"]["error"]["type"] == "rate_limit_error"
    assert [o["status"] for o in done["output"]] == ["incomplete"]
    assert emulator.faults.responses == []


async def test_incomplete_after_partial_audio(emulator):
    [seen] = await _response(emulator, ResponseFault.incomplete("content_filter", after_ms=200))
    assert _audio(seen) == emulator.scenario.fallback.pcm[: 200 * 48]
    done = _done(seen)
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "content_filter"}
    [item] = done["output"]
    assert item["status"] == "incomplete"
    assert item["content"] == [{"type": "output_audio", "transcript": "I heard"}]  # 2 deltas
    parsed = parse_server_event(json.dumps(seen[-1]))
    assert isinstance(parsed, ResponseDone) and parsed.reason == "content_filter"


async def test_model_not_found_is_a_failed_response(emulator):
    [seen] = await _response(emulator, ResponseFault.model_not_found("gpt-realtime"))
    assert _done(seen)["status_details"]["error"] == {
        "type": "invalid_request_error",
        "code": "model_not_found",
        "message": "The model `gpt-realtime` does not exist or you do not have access to it.",
    }
    parsed = parse_server_event(json.dumps(seen[-1]))
    assert isinstance(parsed, ResponseDone) and parsed.reason == "model_not_found"


async def test_two_audio_items_in_one_response(emulator):
    [seen] = await _response(emulator, ResponseFault(two_audio_items=True, split_ms=200))
    added = [e for e in seen if e["type"] == ADDED]
    assert [(e["output_index"], e["item"]["role"]) for e in added] == [
        (0, "assistant"),
        (1, "assistant"),
    ]
    first, second = (e["item"]["id"] for e in added)
    by_item = {i: _audio([e for e in seen if e.get("item_id") == i]) for i in (first, second)}
    pcm = emulator.scenario.fallback.pcm
    assert (by_item[first], by_item[second]) == (pcm[: 200 * 48], pcm[200 * 48 :])
    texts = [o["content"][0]["transcript"] for o in _done(seen)["output"]]
    assert texts == ["I", "heard you."]


async def test_audio_for_an_item_never_announced_can_still_be_truncated(emulator):
    emulator.set_turns([])
    emulator.faults.responses = [ResponseFault(unannounced_item=True)]
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        await send_event(ws, "response.create")
        seen: list[dict[str, Any]] = []
        await recv_until(ws, "response.done", seen)
        kinds = [e["type"] for e in seen]
        assert ADDED not in kinds and "response.content_part.added" not in kinds
        assert "conversation.item.added" not in kinds
        item_id = next(e["item_id"] for e in seen if e["type"] == DELTA)
        assert _audio(seen) == emulator.scenario.fallback.pcm
        await send_event(
            ws, "conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=250
        )
        truncated = await recv_until(ws, "conversation.item.truncated")
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 250)


async def test_one_odd_length_delta_outside_the_item_audio(emulator):
    [seen] = await _response(emulator, ResponseFault(odd_delta=True))
    sizes = [len(base64.b64decode(e["delta"])) for e in seen if e["type"] == DELTA]
    assert sizes == [4800, 3, 4800, 4800, 4800, 4800, 4800]
    good = [e for e in seen if e["type"] == DELTA and len(base64.b64decode(e["delta"])) != 3]
    assert _audio(good) == emulator.scenario.fallback.pcm
    odd = next(e for e in seen if e["type"] == DELTA and len(base64.b64decode(e["delta"])) == 3)
    assert parse_server_event(json.dumps(odd)) is None  # our parser drops it


async def test_a_deeply_nested_frame_before_the_next_event(emulator):
    emulator.faults.nested_next = 1
    async with await raw_ws(emulator) as ws:
        await send_event(ws, "response.create")
        frames = [await ws.recv() for _ in range(2)]
    assert frames[0] == "[" * 100_000 + "]" * 100_000
    assert json.loads(frames[1])["type"] == "session.created"
    assert parse_server_event(frames[0]) is None
