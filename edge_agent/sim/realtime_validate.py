"""What the emulated service rejects in client events, sans-I/O (realtime-protocol.md §3, §4, §8).

`check_session_update` walks a ``session.update`` payload against the GA session's known fields
(the tree below mirrors openai 3.57's ``RealtimeSessionCreateRequest``; a test keeps them in
step) and returns the first problem as a `Rejection` with the service's code and the dotted
``param`` path: unknown fields give ``unknown_parameter`` (the whole update is dropped, as
reported), a wrong type or value ``invalid_type``/``invalid_value``, a missing ``session.type``
``missing_required_parameter``. `check_item` does the same for ``conversation.item.create``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["SESSION_FIELDS", "Rejection", "check_item", "check_session_update"]

_ANY: Final = None  # a leaf: any JSON value passes the shape check (values checked below)
_FORMAT: Final = {"type": _ANY, "rate": _ANY}
_TURN_DETECTION: Final = {
    "type": _ANY,
    "threshold": _ANY,
    "prefix_padding_ms": _ANY,
    "silence_duration_ms": _ANY,
    "idle_timeout_ms": _ANY,
    "create_response": _ANY,
    "interrupt_response": _ANY,
    "eagerness": _ANY,
}
#: the GA session's fields; a dict value is an object whose own keys are checked
SESSION_FIELDS: Final[Mapping[str, Any]] = {
    "type": _ANY,
    "model": _ANY,
    "instructions": _ANY,
    "output_modalities": _ANY,
    "tools": _ANY,
    "tool_choice": _ANY,
    "max_output_tokens": _ANY,
    "truncation": _ANY,  # "auto" | "disabled" | {type, retention_ratio, token_limits}
    "tracing": _ANY,
    "include": _ANY,
    "prompt": _ANY,
    "parallel_tool_calls": _ANY,
    "reasoning": {"effort": _ANY},
    "audio": {
        "input": {
            "format": _FORMAT,
            "noise_reduction": {"type": _ANY},
            "transcription": {
                "model": _ANY,
                "language": _ANY,
                "languages": _ANY,
                "prompt": _ANY,
                "delay": _ANY,
                "keywords": _ANY,
            },
            "turn_detection": _TURN_DETECTION,
        },
        "output": {"format": _FORMAT, "voice": _ANY, "speed": _ANY},
    },
}
_TRUNCATION_FIELDS: Final = {"type", "retention_ratio", "token_limits"}
_EAGERNESS: Final = {"low", "medium", "high", "auto"}


@dataclass(frozen=True, slots=True)
class Rejection:
    """An `error` the service would send: invalid_request_error with this code and param."""

    code: str
    message: str
    param: str | None = None


def _unknown(value: Mapping[str, Any], spec: Mapping[str, Any], path: str) -> Rejection | None:
    for key, sub in value.items():
        where = f"{path}.{key}"
        if key not in spec:
            return Rejection("unknown_parameter", f"Unknown parameter: '{where}'.", where)
        if isinstance(spec[key], dict) and sub is not None:
            if not isinstance(sub, dict):
                return Rejection(
                    "invalid_type", f"Invalid type for '{where}': expected an object.", where
                )
            found = _unknown(sub, spec[key], where)
            if found:
                return found
    return None


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _turn_detection(td: Mapping[str, Any], where: str) -> Rejection | None:
    kind = td.get("type")
    if kind not in {"server_vad", "semantic_vad"}:
        msg = f"Invalid value: {kind!r}. Supported values are: 'server_vad' and 'semantic_vad'."
        return Rejection("invalid_value", msg, f"{where}.type")
    allowed = (
        {"type", "create_response", "interrupt_response", "eagerness"}
        if kind == "semantic_vad"
        else set(_TURN_DETECTION) - {"eagerness"}
    )
    for key in td:
        if key not in allowed:
            return Rejection(
                "unknown_parameter", f"Unknown parameter: '{where}.{key}'.", f"{where}.{key}"
            )
    checks = {
        "threshold": lambda v: _number(v) and 0.0 <= v <= 1.0,
        "prefix_padding_ms": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "silence_duration_ms": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "idle_timeout_ms": lambda v: v is None or (isinstance(v, int) and v > 0),
        "create_response": lambda v: isinstance(v, bool),
        "interrupt_response": lambda v: isinstance(v, bool),
        "eagerness": lambda v: v in _EAGERNESS,
    }
    for key, ok in checks.items():
        if key in td and not ok(td[key]):
            return Rejection(
                "invalid_value", f"Invalid value for '{where}.{key}'.", f"{where}.{key}"
            )
    return None


def _truncation(value: object) -> Rejection | None:
    if value in ("auto", "disabled"):
        return None
    where = "session.truncation"
    if not isinstance(value, dict) or value.get("type") != "retention_ratio":
        return Rejection("invalid_value", f"Invalid value for '{where}'.", where)
    for key in value:
        if key not in _TRUNCATION_FIELDS:
            return Rejection(
                "unknown_parameter", f"Unknown parameter: '{where}.{key}'.", f"{where}.{key}"
            )
    ratio = value.get("retention_ratio")
    if not _number(ratio) or not 0.0 <= ratio <= 1.0:
        return Rejection(
            "invalid_value", "retention_ratio must be in 0..1.", f"{where}.retention_ratio"
        )
    limits = value.get("token_limits")
    if limits is not None and (
        not isinstance(limits, dict)
        or set(limits) - {"post_instructions"}
        or not isinstance(limits.get("post_instructions", 1), int)
    ):
        return Rejection(
            "invalid_value", "token_limits takes post_instructions.", f"{where}.token_limits"
        )
    return None


def check_session_update(session: object) -> Rejection | None:
    """The first problem with a session.update's `session`, or None when the service takes it."""
    if not isinstance(session, dict) or session.get("type") != "realtime":
        return Rejection(
            "missing_required_parameter",
            "Missing required parameter: 'session.type'.",
            "session.type",
        )
    found = _unknown(session, SESSION_FIELDS, "session")
    if found:
        return found
    audio_in = (session.get("audio") or {}).get("input") or {}
    td = audio_in.get("turn_detection")
    if td is not None:
        found = _turn_detection(td, "session.audio.input.turn_detection")
        if found:
            return found
    if "truncation" in session:
        found = _truncation(session["truncation"])
        if found:
            return found
    modalities = session.get("output_modalities")
    if modalities is not None and modalities not in (["audio"], ["text"]):
        msg = "output_modalities must be ['audio'] or ['text']."
        return Rejection("invalid_value", msg, "session.output_modalities")
    return None


def check_item(item: object) -> Rejection | None:
    """The first problem with a conversation.item.create's `item` (shape only)."""
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return Rejection(
            "missing_required_parameter", "Missing required parameter: 'item.type'.", "item.type"
        )
    kind = item["type"]
    if kind == "function_call_output":
        if not isinstance(item.get("call_id"), str) or not isinstance(item.get("output"), str):
            msg = "function_call_output needs call_id and output (a string)."
            return Rejection("invalid_value", msg, "item.output")
        return None
    if kind == "function_call":
        return None
    if kind != "message":
        return Rejection("invalid_value", f"Invalid value: {kind!r}.", "item.type")
    role, content = item.get("role"), item.get("content")
    if role not in {"user", "assistant", "system"}:
        return Rejection("invalid_value", f"Invalid value: {role!r}.", "item.role")
    if not isinstance(content, list):
        return Rejection("invalid_type", "item.content must be a list.", "item.content")
    allowed = {"assistant": {"output_text"}, "user": {"input_text", "input_audio", "input_image"}}
    for n, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed.get(role, {"input_text"}):
            msg = f"Invalid content type {kind!r} for a {role} message."
            return Rejection("invalid_value", msg, f"item.content[{n}].type")
    return None
