"""protocol.py without sockets: builders against the SDK types, the parser on every shape."""

from __future__ import annotations

import base64
import json
import random

import pytest
from pydantic import ValidationError

from edge_agent.config import RealtimeConfig
from edge_agent.realtime import protocol as p
from tests.realtime.conftest import CLIENT_EVENTS, SERVER_EVENTS, WEATHER_TOOL


def _session(**kw: object) -> dict:
    c = RealtimeConfig()
    return p.build_session(
        model=c.model, voice=c.voice, instructions=c.instructions, tools=[WEATHER_TOOL], **kw
    )


@pytest.mark.parametrize(
    "event",
    [
        p.session_update(_session(), event_id="evt_1"),
        p.session_update(
            _session(noise_reduction="off", transcription_model="gpt-4o-mini-transcribe")
        ),
        p.input_audio_append(b"\x01\x00" * 960),
        p.input_audio_commit(),
        p.input_audio_clear(),
        p.user_message("what time is it"),
        p.system_message("late result"),
        p.function_call_output("call_1", '{"ok": true}'),
        p.item_truncate("item_1", 1234),
        p.response_create(),
        p.response_create(instructions="say hi", output_modalities=["audio"]),
        p.response_cancel(),
        p.response_cancel("resp_1"),
    ],
    ids=lambda e: e["type"],
)
def test_builders_make_valid_ga_events(event: dict) -> None:
    CLIENT_EVENTS.validate_python(event)


def test_sdk_types_do_reject_a_beta_shape() -> None:
    """The check above can fail: a flat beta session is not a GA event."""
    with pytest.raises(ValidationError):
        CLIENT_EVENTS.validate_python({"type": "session.update", "session": {"voice": 3}})


def test_session_carries_the_config() -> None:
    s = _session(silence_duration_ms=700)
    assert s["type"] == "realtime"
    assert s["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert s["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700
    assert s["audio"]["output"]["voice"] == "marin"
    assert s["tools"] == [WEATHER_TOOL]


def test_append_encodes_raw_pcm() -> None:
    pcm = bytes(range(256)) * 4
    assert base64.b64decode(p.input_audio_append(pcm)["audio"]) == pcm


def _ev(**fields: object) -> str:
    SERVER_EVENTS.validate_python({"event_id": "event_1", **fields})  # our fixtures are real shapes
    return json.dumps({"event_id": "event_1", **fields})


def test_parser_turns_server_events_into_typed_objects() -> None:
    pcm = b"\x10\x00" * 100
    where = {"response_id": "resp_1", "item_id": "item_2", "output_index": 0, "content_index": 0}
    cases = [
        (
            _ev(type="input_audio_buffer.speech_started", audio_start_ms=40, item_id="item_1"),
            p.SpeechStarted("item_1", 40),
        ),
        (
            _ev(type="input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="item_1"),
            p.SpeechStopped("item_1", 900),
        ),
        (
            _ev(type="response.created", response={"id": "resp_1", "status": "in_progress"}),
            p.ResponseCreated("resp_1"),
        ),
        (
            _ev(type="response.output_audio.delta", **where, delta=base64.b64encode(pcm).decode()),
            p.AudioDelta("resp_1", "item_2", pcm),
        ),
        (
            _ev(type="response.output_audio_transcript.delta", **where, delta="Hi"),
            p.TranscriptDelta("resp_1", "item_2", "Hi"),
        ),
        (
            _ev(
                type="response.function_call_arguments.done",
                response_id="resp_1",
                item_id="item_3",
                output_index=0,
                call_id="call_1",
                name="get_weather",
                arguments='{"location": "Oslo"}',
            ),
            p.FunctionCallDone(
                "resp_1",
                "item_3",
                "call_1",
                "get_weather",
                '{"location": "Oslo"}',
                {"location": "Oslo"},
            ),
        ),
        (
            _ev(
                type="conversation.item.truncated",
                item_id="item_2",
                content_index=0,
                audio_end_ms=5,
            ),
            p.ItemTruncated("item_2", 5),
        ),
        (
            _ev(
                type="error",
                error={
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                    "message": "Bad key",
                    "event_id": "evt_3",
                },
            ),
            p.ServerError("invalid_api_key", "Bad key", "invalid_request_error", "evt_3"),
        ),
    ]
    for raw, expected in cases:
        assert p.parse_server_event(raw) == expected


def test_response_done_status_usage_and_calls() -> None:
    raw = _ev(
        type="response.done",
        response={
            "id": "resp_1",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "output": [
                {"type": "function_call", "call_id": "call_9", "name": "x", "arguments": "{}"}
            ],
            "usage": {
                "total_tokens": 30,
                "input_tokens": 10,
                "output_tokens": 20,
                "input_token_details": {
                    "text_tokens": 3,
                    "audio_tokens": 7,
                    "cached_tokens": 3,
                    "cached_tokens_details": {"text_tokens": 2, "audio_tokens": 1},
                },
                "output_token_details": {"text_tokens": 5, "audio_tokens": 15},
            },
        },
    )
    assert p.parse_server_event(raw) == p.ResponseDone(
        "resp_1",
        "cancelled",
        "turn_detected",
        p.Usage(
            input_tokens=10,
            output_tokens=20,
            total_tokens=30,
            input_text_tokens=3,
            input_audio_tokens=7,
            cached_tokens=3,
            cached_text_tokens=2,
            cached_audio_tokens=1,
            output_text_tokens=5,
            output_audio_tokens=15,
        ),
        ("call_9",),
    )


def test_bad_function_arguments_are_kept_but_not_parsed() -> None:
    raw = json.dumps(
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r",
            "item_id": "i",
            "call_id": "c",
            "name": "n",
            "arguments": "{oops",
        }
    )
    ev = p.parse_server_event(raw)
    assert isinstance(ev, p.FunctionCallDone) and ev.arguments is None
    assert ev.arguments_json == "{oops"


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        b"\xff\xfe",
        "[]",
        "null",
        '{"type": 5}',
        '{"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "@@@"}',
        '{"type": "response.output_audio.delta", "response_id": "r", "delta": "AAAA"}',
        '{"type": "response.done", "response": []}',
        '{"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": "9"}',
        '{"type": "error", "error": null}',
        '{"type": "brand.new.event", "x": 1}',
    ],
)
def test_malformed_and_unknown_frames_are_dropped(raw: str | bytes) -> None:
    assert p.parse_server_event(raw) is None


def test_parser_never_raises_on_random_bytes() -> None:
    rng = random.Random(7)
    templates = [
        b'{"type": "response.done", "response": {"id": "r"}}',
        b'{"type": "error", "error": {"code": "x"}}',
    ]
    for _ in range(2000):
        t = bytearray(rng.choice(templates))
        for _ in range(rng.randrange(1, 4)):
            t[rng.randrange(len(t))] = rng.randrange(256)
        ev = p.parse_server_event(bytes(t))
        assert ev is None or isinstance(ev, p.ResponseDone | p.ServerError)


def test_backoff_grows_with_jitter_and_caps() -> None:
    delays = p.backoff(0.5, 2.0, 4.0, rng=random.Random(1))
    got = [next(delays) for _ in range(6)]
    assert 0.25 <= got[0] <= 0.5 and 0.5 <= got[1] <= 1.0
    assert all(2.0 <= d <= 4.0 for d in got[3:])


def test_fatal_codes() -> None:
    assert p.is_fatal_code("invalid_api_key") and p.is_fatal_code("beta_api_shape_disabled")
    assert not p.is_fatal_code("rate_limit_exceeded") and not p.is_fatal_code(None)


def test_error_messages_lose_echoed_keys_and_secrets() -> None:
    message = "Incorrect API key provided: sk-proj-abcDEF123****wxyz. Secret ek_68af2c9e failed"
    raw = _ev(type="error", error={"type": "invalid_request_error", "message": message})
    assert p.parse_server_event(raw) == p.ServerError(
        "invalid_request_error",
        "Incorrect API key provided: ***. Secret *** failed",
        "invalid_request_error",
        "",
    )


# -- session options: models, turn detection, truncation ----------------------------------------


def _extras(m: object, path: str = "$") -> list[str]:
    """Keys the SDK models accepted only because they allow extras (beta or misspelt fields)."""
    from pydantic import BaseModel

    if isinstance(m, BaseModel):
        own = [f"{path}.{k}" for k in (m.model_extra or {})]
        return own + [
            x for n in type(m).model_fields for x in _extras(getattr(m, n), f"{path}.{n}")
        ]
    if isinstance(m, list):
        return [x for i, v in enumerate(m) for x in _extras(v, f"{path}[{i}]")]
    return []


def _strict(event: dict) -> None:
    parsed = CLIENT_EVENTS.validate_python(event)
    assert _extras(parsed) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"turn_detection": "semantic_vad", "eagerness": "low"},
        {"model": "gpt-realtime-2.1-mini", "reasoning_effort": "minimal"},
        {"model": "gpt-realtime-1.5", "reasoning_effort": "high"},
        {"truncation": "auto"},
        {"truncation": "disabled"},
        {"truncation": "retention_ratio", "retention_ratio": 0.5, "history_max_tokens": 16000},
    ],
    ids=str,
)
def test_every_session_option_is_a_valid_ga_session(overrides: dict) -> None:
    cfg = RealtimeConfig(**overrides)
    _strict(p.session_update(p.session_for(cfg, instructions="hi", tools=[WEATHER_TOOL])))


def test_the_strict_check_can_fail() -> None:
    session = p.session_for(RealtimeConfig(), instructions="hi")
    session["modalities"] = ["audio"]  # a beta field
    with pytest.raises(AssertionError):
        _strict(p.session_update(session))


def test_session_for_the_default_config() -> None:
    s = p.session_for(RealtimeConfig(), instructions="Be brief.")
    assert s["model"] == "gpt-realtime-2.1"
    assert s["reasoning"] == {"effort": "low"}
    assert s["truncation"] == {"type": "retention_ratio", "retention_ratio": 0.8}
    capped = p.session_for(RealtimeConfig(history_max_tokens=16000), instructions="")
    assert capped["truncation"] == {
        "type": "retention_ratio",
        "retention_ratio": 0.8,
        "token_limits": {"post_instructions": 16000},
    }
    assert s["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
    }


def test_semantic_vad_carries_eagerness_and_no_server_vad_fields() -> None:
    s = p.session_for(
        RealtimeConfig(turn_detection="semantic_vad", eagerness="high"), instructions=""
    )
    assert s["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }


@pytest.mark.parametrize(
    ("model", "sent"),
    [
        ("gpt-realtime-2.1", True),
        ("gpt-realtime-2", True),
        ("gpt-realtime-2.1-mini", True),
        ("gpt-realtime-2.5-preview", True),  # a 2.x the table does not know yet
        ("gpt-realtime-1.5", False),
        ("gpt-realtime", False),
        ("gpt-realtime-mini", False),
        ("my-azure-deployment", False),
    ],
)
def test_reasoning_is_sent_only_to_models_that_take_it(model: str, sent: bool) -> None:
    s = p.session_for(RealtimeConfig(model=model, reasoning_effort="medium"), instructions="")
    assert ("reasoning" in s) is sent
    if sent:
        assert s["reasoning"] == {"effort": "medium"}


def test_session_for_takes_the_budgets_model() -> None:
    s = p.session_for(RealtimeConfig(), instructions="", model="gpt-realtime-2.1-mini")
    assert s["model"] == "gpt-realtime-2.1-mini"


def test_reply_as_text_deletes_the_audio_and_recreates_the_words_in_place() -> None:
    events = p.reply_as_text("item_A1", "It is nine degrees.", "item_U1")
    assert events == [
        {"type": "conversation.item.delete", "item_id": "item_A1"},
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "It is nine degrees."}],
            },
            "previous_item_id": "item_U1",
        },
    ]
    for ev in events:
        _strict(ev)
    assert p.reply_as_text("item_A1", "  ", "item_U1") == []
