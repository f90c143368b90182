"""What the service's answers mean (`realtime/outcomes.py`): literal events in, verdicts out."""

from __future__ import annotations

import json
import logging

import pytest

from edge_agent.errors import FatalRealtimeError, RealtimeError
from edge_agent.realtime import protocol as p
from edge_agent.realtime.outcomes import (
    BENIGN_ERRORS,
    describe_close,
    fatal_error,
    fatal_response,
    handshake_refusal,
    session_outcome,
)


def _event(d: dict) -> p.ServerEvent:
    ev = p.parse_server_event(json.dumps(d))
    assert ev is not None
    return ev


def _error(code: str, message: str = "boom", ours: str | None = None) -> p.ServerError:
    ev = _event(
        {
            "type": "error",
            "event_id": "e1",
            "error": {"type": "x", "code": code, "message": message, "event_id": ours},
        }
    )
    assert isinstance(ev, p.ServerError)
    return ev


def _done(status: str, code: str = "", message: str = "") -> p.ResponseDone:
    details = {"type": status, "error": {"type": "server_error", "code": code, "message": message}}
    ev = _event(
        {
            "type": "response.done",
            "event_id": "e2",
            "response": {"id": "resp_1", "status": status, "status_details": details, "output": []},
        }
    )
    assert isinstance(ev, p.ResponseDone)
    return ev


def test_401_and_403_are_fatal_and_name_what_was_refused() -> None:
    for status in (401, 403):
        key = handshake_refusal(status, uses_relay=False)
        relay = handshake_refusal(status, uses_relay=True)
        assert isinstance(key, FatalRealtimeError) and "api key" in str(key)
        assert isinstance(relay, FatalRealtimeError) and "client secret" in str(relay)


def test_other_statuses_are_retried() -> None:
    for status in (404, 429, 500, 503):
        err = handshake_refusal(status, uses_relay=False)
        assert type(err) is RealtimeError and f"http {status}" in str(err)


def test_an_unknown_model_is_fatal_and_names_it() -> None:
    fatal = fatal_error(_error("model_not_found"), model="gpt-realtime", configured="gpt-realtime")
    assert fatal is not None and "gpt-realtime" in str(fatal)
    done = fatal_response(_done("failed", "model_not_found"), model="m-x", configured="m-y")
    assert done is not None and "m-x" in str(done)


def test_key_and_quota_errors_are_fatal_the_rest_is_not() -> None:
    for code in ("invalid_api_key", "insufficient_quota"):
        assert fatal_error(_error(code), model="m", configured="m") is not None
    for code in ("invalid_value", "server_error", *BENIGN_ERRORS):
        assert fatal_error(_error(code), model="m", configured="m") is None


def test_a_failed_response_is_fatal_only_for_fatal_codes() -> None:
    assert fatal_response(_done("failed", "server_error", "x"), model="m", configured="m") is None
    assert fatal_response(_done("failed", "rate_limit_exceeded"), model="m", configured="m") is None
    quota = fatal_response(_done("failed", "insufficient_quota", "Pay."), model="m", configured="c")
    assert quota is not None and "'c'" in str(quota) and "pay" in str(quota)
    assert fatal_response(_done("completed"), model="m", configured="m") is None
    assert fatal_response(_done("incomplete"), model="m", configured="m") is None


def test_close_descriptions() -> None:
    assert describe_close(1001, "idle") == "session closed by the service: idle"
    assert describe_close(1001, "x" * 500) == "session closed by the service: " + "x" * 80
    assert describe_close(1000, "") == "close code 1000"
    assert describe_close(None, None) == "connection closed"


def _outcome(ev: p.ServerEvent, sent: dict[str, str] | None = None) -> str:
    culprit = (sent or {}).get
    return session_outcome(ev, model="m", configured="c", culprit=lambda i: culprit(i, ""))


def test_session_outcome_a_refusal_raises_an_expiry_ends_the_rest_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "edge_agent.realtime.client")
    with pytest.raises(FatalRealtimeError, match="check the api key"):
        _outcome(_error("invalid_api_key"))
    with pytest.raises(FatalRealtimeError, match="quota"):
        _outcome(_done("failed", "insufficient_quota"))
    assert _outcome(_error("session_expired")) == "session expired"
    caplog.clear()
    assert _outcome(_error("response_cancel_not_active")) == ""  # benign: not even logged
    assert caplog.records == []
    assert (
        _outcome(
            _error("invalid_value", "No tool call found", "c7"), {"c7": "conversation.item.create"}
        )
        == ""
    )
    assert _outcome(_error("server_error", "Oops")) == ""
    assert [(r.levelname, r.getMessage(), r.ERROR_CODE) for r in caplog.records] == [
        (
            "WARNING",
            "realtime error invalid_value (our conversation.item.create event): No tool call found",
            "invalid_value",
        ),
        ("WARNING", "realtime error server_error: Oops", "server_error"),
    ]
    caplog.clear()
    assert _outcome(_done("failed", "server_error", "x")) == ""  # the turn core fails the turn
    assert [r.getMessage() for r in caplog.records] == [
        "response failed: 0 in / 0 out tokens (0 audio out)"
    ]
