"""conversation.py without sockets: each step's whole output (h11 style)."""

from __future__ import annotations

import json

from edge_agent.realtime import protocol as p
from edge_agent.realtime.conversation import Conversation

PCM_100MS = b"\x00\x01" * 2400


def _types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def _call_turn(conv: Conversation, *call_ids: str, now_ms: int = 0) -> list[dict]:
    out = conv.receive(p.ResponseCreated("resp_1"), now_ms)
    for cid in call_ids:
        out += conv.receive(
            p.FunctionCallDone("resp_1", f"item_{cid}", cid, "get_weather", "{}", {}), now_ms
        )
    return out


def test_one_create_after_all_outputs_and_the_response_done() -> None:
    conv = Conversation()
    assert _call_turn(conv, "c1", "c2") == [p.input_audio_clear()]  # pitfall guard, once
    assert conv.is_input_held
    assert conv.send_function_output("c1", '{"t": 1}') == [p.function_call_output("c1", '{"t": 1}')]
    assert conv.send_function_output("c2", '{"t": 2}') == [p.function_call_output("c2", '{"t": 2}')]
    assert not conv.is_input_held
    # the carrying response is still active: no create yet
    assert conv.receive(p.ResponseDone("resp_1", "completed", "", p.Usage()), 0) == [
        p.response_create()
    ]
    assert conv.is_response_active and not conv.is_idle
    assert conv.request_response() == []  # queued: one active response at a time
    assert conv.receive(p.ResponseCreated("resp_2"), 0) == []
    assert conv.receive(p.ResponseDone("resp_2", "completed", "", p.Usage()), 0) == [
        p.response_create()
    ]


def test_outputs_after_the_response_done_create_on_the_last_one() -> None:
    conv = Conversation()
    _call_turn(conv, "c1", "c2")
    assert conv.receive(p.ResponseDone("resp_1", "completed", "", p.Usage()), 0) == []
    assert _types(conv.send_function_output("c2", "{}")) == ["conversation.item.create"]
    assert _types(conv.send_function_output("c1", "{}")) == [
        "conversation.item.create",
        "response.create",
    ]
    assert conv.send_function_output("c1", "{}") == []  # unknown now: dropped


def test_slow_tool_gets_a_structured_answer_and_its_late_result_a_note() -> None:
    conv = Conversation(tool_budget_ms=1000)
    _call_turn(conv, "c1", now_ms=5000)
    conv.receive(p.ResponseDone("resp_1", "completed", "", p.Usage()), 5000)
    assert conv.next_deadline_ms() == 6000
    assert conv.tick(5999) == []
    out = conv.tick(6000)
    assert _types(out) == ["conversation.item.create", "response.create"]
    assert json.loads(out[0]["item"]["output"])["error"] == "tool_timeout"
    late = conv.send_function_output("c1", '{"temp_c": 3}')
    assert _types(late) == ["conversation.item.create"]
    assert late[0]["item"]["role"] == "system" and "temp_c" in late[0]["item"]["content"][0]["text"]


def test_barge_in_cancels_truncates_at_played_and_clears() -> None:
    conv = Conversation()
    conv.receive(p.ResponseCreated("resp_1"), 0)
    conv.receive(p.OutputItemAdded("resp_1", "item_1", "message"), 0)
    for _ in range(3):
        conv.receive(p.AudioDelta("resp_1", "item_1", PCM_100MS), 0)
    conv.report_played("item_1", 24 * 120)
    assert conv.played_ms("item_1") == 120 and conv.received_ms("item_1") == 300
    assert conv.barge_in() == [
        p.response_cancel("resp_1"),
        p.item_truncate("item_1", 120),
        p.input_audio_clear(),
    ]
    assert conv.barge_in() == [p.input_audio_clear()]  # nothing left to cut


def test_barge_in_caps_at_received_and_skips_a_fully_heard_item() -> None:
    conv = Conversation()
    conv.receive(p.ResponseCreated("resp_1"), 0)
    conv.receive(p.AudioDelta("resp_1", "item_1", PCM_100MS), 0)
    assert conv.barge_in(played_ms=5000)[1] == p.item_truncate("item_1", 100)
    conv.receive(p.ResponseDone("resp_1", "cancelled", "client_cancelled", p.Usage()), 0)
    conv.receive(p.ResponseCreated("resp_2"), 0)
    conv.receive(p.AudioDelta("resp_2", "item_2", PCM_100MS), 0)
    conv.receive(p.ResponseDone("resp_2", "completed", "", p.Usage()), 0)
    assert conv.barge_in(played_ms=100) == [p.input_audio_clear()]  # all heard, reply over


def test_barge_in_during_a_tool_call_closes_the_call_without_a_reply() -> None:
    conv = Conversation()
    _call_turn(conv, "c1")
    conv.receive(p.ResponseDone("resp_1", "completed", "", p.Usage()), 0)
    out = conv.barge_in()
    assert _types(out) == ["conversation.item.create", "input_audio_buffer.clear"]
    assert json.loads(out[0]["item"]["output"])["status"] == "cancelled"
    assert conv.is_idle and not conv.is_input_held


def test_server_detected_barge_in_keeps_the_input() -> None:
    conv = Conversation()
    conv.receive(p.ResponseCreated("resp_1"), 0)
    conv.receive(p.AudioDelta("resp_1", "item_1", PCM_100MS), 0)
    assert conv.barge_in(40, clear_input=False) == [
        p.response_cancel("resp_1"),
        p.item_truncate("item_1", 40),
    ]


def test_barge_in_before_response_created_cancels_it_on_arrival() -> None:
    conv = Conversation()
    assert conv.request_response() == [p.response_create()]
    assert conv.barge_in() == [p.input_audio_clear()]
    assert conv.receive(p.ResponseCreated("resp_9"), 0) == [p.response_cancel("resp_9")]


def test_active_response_error_requeues_the_create() -> None:
    conv = Conversation()
    conv.request_response()
    err = p.ServerError("conversation_already_has_active_response", "", "invalid_request_error", "")
    assert conv.receive(err, 0) == []
    conv.receive(p.ResponseCreated("resp_vad"), 0)
    assert conv.receive(p.ResponseDone("resp_vad", "completed", "", p.Usage()), 0) == [
        p.response_create()
    ]
