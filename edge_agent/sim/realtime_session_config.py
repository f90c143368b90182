"""The emulated session's configuration, sans-I/O: the defaults `session.created` shows, how a
`session.update` merges into them (partial merge; a new turn_detection type replaces the
object; null disables), the fields the service refuses to change, and the text an item is
billed for."""

from __future__ import annotations

import secrets
from typing import Any

from edge_agent.sim.realtime_validate import Rejection

__all__ = ["billed_text", "frozen_fields", "merge_session", "session_defaults"]


def session_defaults(model: str) -> dict[str, Any]:
    fmt = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": f"sess_{secrets.token_hex(8)}",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "truncation": "auto",
        "audio": {
            "input": {
                "format": fmt,
                "noise_reduction": None,
                "transcription": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": fmt, "voice": "alloy", "speed": 1.0},
        },
    }


def merge_session(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if key == "turn_detection" and isinstance(value, dict):
            old = base.get(key)
            if not isinstance(old, dict) or old.get("type") != value.get("type", old.get("type")):
                base[key] = dict(value)  # a new VAD type replaces the object
                continue
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_session(base[key], value)
        else:
            base[key] = value
    return base


def billed_text(item: dict[str, Any]) -> str:
    """Everything in an item billed as text (message texts, call name + args, outputs)."""
    if item.get("type") == "function_call_output":
        return str(item.get("output", ""))
    if item.get("type") == "function_call":
        return str(item.get("name", "")) + str(item.get("arguments", ""))
    parts = item.get("content") if isinstance(item.get("content"), list) else []
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def frozen_fields(
    current: dict[str, Any], session: dict[str, Any], *, spoke: bool
) -> Rejection | None:
    """A change the service refuses: the model (fixed by the URL), the voice once it spoke."""
    model = session.get("model")
    if model is not None and model != current["model"]:
        return Rejection("invalid_value", "The model cannot be changed.", "session.model")
    voice = ((session.get("audio") or {}).get("output") or {}).get("voice")
    if voice is not None and spoke and voice != current["audio"]["output"]["voice"]:
        msg = "Cannot update a conversation's voice if assistant audio is present."
        return Rejection("cannot_update_voice", msg, "session.audio.output.voice")
    return None
