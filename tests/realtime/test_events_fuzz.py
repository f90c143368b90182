"""The server-event parser against hostile frames: it never raises, never half-builds an event,
and real GA events (checked against the openai SDK's types) still parse to the same values."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.realtime import events as e
from tests.realtime.conftest import SERVER_EVENTS

PCM = bytes(range(8)) * 6  # 48 bytes = 1 ms
B64 = base64.b64encode(PCM).decode()
USAGE = {
    "total_tokens": 1450,
    "input_tokens": 1300,
    "output_tokens": 150,
    "input_token_details": {
        "text_tokens": 1100,
        "audio_tokens": 200,
        "image_tokens": 0,
        "cached_tokens": 1152,
        "cached_tokens_details": {"text_tokens": 1024, "audio_tokens": 128, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 30, "audio_tokens": 120},
}
W = {"response_id": "resp_1", "item_id": "item_A1", "output_index": 0, "content_index": 0}
SESSION = {"type": "realtime", "id": "sess_1", "object": "realtime.session", "model": "gpt-x"}

#: real GA server events (the emulator's shapes) and what each must parse to
CORPUS: list[tuple[dict[str, Any], e.ServerEvent]] = [
    ({"type": "session.created", "event_id": "ev1", "session": SESSION}, e.SessionCreated("sess_1", "gpt-x")),
    ({"type": "session.updated", "event_id": "ev2", "session": SESSION}, e.SessionUpdated("sess_1")),
    (
        {"type": "input_audio_buffer.speech_started", "event_id": "ev3", "audio_start_ms": 1180, "item_id": "item_U1"},
        e.SpeechStarted("item_U1", 1180),
    ),
    (
        {"type": "input_audio_buffer.speech_stopped", "event_id": "ev4", "audio_end_ms": 3020, "item_id": "item_U1"},
        e.SpeechStopped("item_U1", 3020),
    ),
    (
        {"type": "input_audio_buffer.committed", "event_id": "ev5", "item_id": "item_U1", "previous_item_id": None},
        e.InputCommitted("item_U1"),
    ),
    ({"type": "input_audio_buffer.cleared", "event_id": "ev6"}, e.InputCleared()),
    (
        {"type": "input_audio_buffer.timeout_triggered", "event_id": "ev7", "audio_start_ms": 0, "audio_end_ms": 500, "item_id": "item_T"},
        e.InputTimeout("item_T"),
    ),
    (
        {"type": "conversation.item.input_audio_transcription.completed", "event_id": "ev8", "item_id": "item_U1",
         "content_index": 0, "transcript": "what's the weather", "usage": {"type": "duration", "seconds": 1.5}},
        e.UserTranscript("item_U1", "what's the weather"),
    ),
    (
        {"type": "conversation.item.truncated", "event_id": "ev9", "item_id": "item_A1", "content_index": 0, "audio_end_ms": 1840},
        e.ItemTruncated("item_A1", 1840),
    ),
    (
        {"type": "response.created", "event_id": "ev10", "response": {"id": "resp_1", "object": "realtime.response", "status": "in_progress", "output": []}},
        e.ResponseCreated("resp_1"),
    ),
    (
        {"type": "response.output_item.added", "event_id": "ev11", "response_id": "resp_1", "output_index": 0,
         "item": {"id": "item_A1", "object": "realtime.item", "type": "message", "role": "assistant", "status": "in_progress", "content": []}},
        e.OutputItemAdded("resp_1", "item_A1", "message"),
    ),
    ({"type": "response.output_audio.delta", "event_id": "ev12", **W, "delta": B64}, e.AudioDelta("resp_1", "item_A1", PCM)),
    ({"type": "response.output_audio.done", "event_id": "ev13", **W}, e.AudioDone("resp_1", "item_A1")),
    (
        {"type": "response.output_audio_transcript.delta", "event_id": "ev14", **W, "delta": " sunny"},
        e.TranscriptDelta("resp_1", "item_A1", " sunny"),
    ),
    (
        {"type": "response.output_audio_transcript.done", "event_id": "ev15", **W, "transcript": "It is sunny."},
        e.TranscriptDone("resp_1", "item_A1", "It is sunny."),
    ),
    (
        {"type": "response.function_call_arguments.done", "event_id": "ev16", "response_id": "resp_2", "item_id": "item_F",
         "output_index": 0, "call_id": "call_8", "name": "get_weather", "arguments": '{"location": "Oslo"}'},
        e.FunctionCallDone("resp_2", "item_F", "call_8", "get_weather", '{"location": "Oslo"}', {"location": "Oslo"}),
    ),
    (
        {"type": "response.done", "event_id": "ev17", "response": {"id": "resp_1", "object": "realtime.response", "status": "completed", "output": [
            {"id": "item_F", "object": "realtime.item", "type": "function_call", "status": "completed", "call_id": "call_8", "name": "get_weather", "arguments": "{}"}],
            "usage": USAGE}},
        e.ResponseDone("resp_1", "completed", "", e.Usage(1300, 150, 1450, 1100, 200, 1152, 1024, 128, 30, 120), ("call_8",)),
    ),
    (
        {"type": "response.done", "event_id": "ev18", "response": {"id": "resp_3", "object": "realtime.response", "status": "failed", "output": [],
            "status_details": {"type": "failed", "error": {"type": "server_error", "code": "rate_limit_exceeded", "message": "slow down"}}}},
        e.ResponseDone("resp_3", "failed", "rate_limit_exceeded", e.Usage()),
    ),
    (
        {"type": "rate_limits.updated", "event_id": "ev19", "rate_limits": [{"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60.0}]},
        e.RateLimits((("requests", 999, 1000),)),
    ),
    (
        {"type": "error", "event_id": "ev20", "error": {"type": "invalid_request_error", "code": "unknown_parameter",
         "message": "Unknown parameter: 'session.voice'.", "param": "session.voice", "event_id": "evt_cfg"}},
        e.ServerError("unknown_parameter", "Unknown parameter: 'session.voice'.", "invalid_request_error", "evt_cfg"),
    ),
]  # fmt: skip


def _check(result: object) -> None:
    """None, or a whole event: every field of the declared type, strings within their caps."""
    if result is None:
        return
    assert isinstance(result, e.ServerEvent)  # type: ignore[arg-type]
    for f in dataclasses.fields(result):
        v = getattr(result, f.name)
        if f.type == "str":
            assert isinstance(v, str) and len(v) <= e.MAX_ARGUMENTS_CHARS
        elif f.type == "int":
            assert isinstance(v, int) and not isinstance(v, bool) and v >= 0
        elif f.type == "bytes":
            assert isinstance(v, bytes) and len(v) % 2 == 0


@pytest.mark.parametrize(("raw", "expected"), CORPUS, ids=[c[0]["type"] for c in CORPUS])
def test_real_events_parse_to_exactly_these_values(raw: dict[str, Any], expected: object) -> None:
    SERVER_EVENTS.validate_python(raw)  # the corpus is the SDK's shape, not ours
    assert e.parse_server_event(json.dumps(raw)) == expected
    assert e.parse_server_event(json.dumps(raw, indent=1).encode()) == expected


HOSTILE = [
    "[" * 100_000 + "]" * 100_000,  # RecursionError in json.loads
    '{"type": "response.done", "response": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"type": "response.output_audio.delta", "delta": ',  # cut short
    json.dumps({"type": "response.output_audio.delta", **W, "delta": base64.b64encode(b"abc").decode()}),
    json.dumps({"type": "response.output_audio.delta", **W, "delta": "!!not base64!!"}),
    json.dumps({"type": "response.output_audio.delta", **W, "delta": "ÄÖ=="}),
    json.dumps({"type": "response.output_audio.delta", **W, "delta": 12}),
    json.dumps({"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": -5}),
    json.dumps({"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": True}),
    json.dumps({"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": 10**30}),
    json.dumps({"type": "input_audio_buffer.committed", "item_id": "x" * 100_000}),
    json.dumps({"type": "response.output_audio_transcript.delta", **W, "delta": "x" * 200_000}),
    json.dumps({"type": "rate_limits.updated", "rate_limits": [{"name": "r", "limit": 1e308, "remaining": 1}]}),
    '{"type": "rate_limits.updated", "rate_limits": [{"name": "r", "limit": Infinity, "remaining": NaN}]}',
    '{"type": "response.done", "response": {"id": "r", "usage": {"input_tokens": -Infinity}}}',
    json.dumps({"type": "response.done", "response": {"id": "r", "output": [{"type": "function_call", "call_id": "c" * 9999}]}}),
    json.dumps({"type": "response.done", "response": {"id": ["r"]}}),
    json.dumps({"type": "session.created", "session": "sess"}),
    json.dumps({"type": "error", "error": None}),
    json.dumps({"type": "x" * 1_000_000}),
    json.dumps({"type": None}),
    json.dumps([1, 2, 3]),
    "null",
    b"\xff\xfe\x00garbage",
    b'{"type": "error", "error": {"message": "\xc3\x28"}}',
    "",
    "1" * 5000,  # int() digit limit
]  # fmt: skip


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_frames_are_dropped_with_one_short_warning(raw, caplog):
    caplog.set_level(logging.DEBUG, logger=e.__name__)
    assert e.parse_server_event(raw) is None
    assert len(caplog.records) == 1
    assert len(caplog.records[0].getMessage()) < 400  # never the payload


def test_the_odd_length_delta_names_the_reason(caplog):
    bad = {"type": "response.output_audio.delta", **W, "delta": base64.b64encode(b"abc").decode()}
    assert e.parse_server_event(json.dumps(bad)) is None
    assert "odd length" in caplog.text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)  # fmt: skip
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(JSON)
def test_random_json_never_raises(value: object) -> None:
    _check(e.parse_server_event(json.dumps(value)))


@SETTINGS
@given(st.sampled_from(sorted(e._PARSERS)), st.dictionaries(st.text(max_size=12), JSON, max_size=6))
def test_random_fields_under_a_known_type_never_raise(kind: str, fields: dict[str, Any]) -> None:
    _check(e.parse_server_event(json.dumps({**fields, "type": kind})))


def _paths(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    return out


@SETTINGS
@given(st.data())
def test_mutated_real_events_never_raise(data: st.DataObject) -> None:
    raw, _ = data.draw(st.sampled_from(CORPUS))
    event = copy.deepcopy(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(event)
        if not paths:
            break
        *parent_path, last = data.draw(st.sampled_from(paths))
        parent: Any = event
        for step in parent_path:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[last]
        else:
            parent[last] = data.draw(JSON)
    _check(e.parse_server_event(json.dumps(event)))


@SETTINGS
@given(st.sampled_from(CORPUS), st.binary(max_size=64))
def test_bytes_spliced_into_real_frames_never_raise(
    case: tuple[dict[str, Any], object], junk: bytes
) -> None:
    frame = json.dumps(case[0]).encode()
    cut = len(junk) % max(1, len(frame))
    _check(e.parse_server_event(frame[:cut] + junk + frame[cut:]))


@SETTINGS
@given(
    st.sampled_from(CORPUS),
    st.dictionaries(st.text(min_size=1, max_size=10).map(lambda k: "x_" + k), JSON, max_size=4),
)
def test_fields_the_service_may_add_later_change_nothing(
    case: tuple[dict[str, Any], object], extra: dict[str, Any]
) -> None:
    raw, expected = case
    assert e.parse_server_event(json.dumps({**extra, **raw})) == expected
