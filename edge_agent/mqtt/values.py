"""What the device publishes: the daemon's state as one retained JSON document. Pure.

One state topic carries every value (each entity picks its field with a ``value_template``), so
a change is one message and a reconnect re-sends everything at once. The published state is the
turn core's state, except that a ringing timer shows as ``ringing`` (ringing is not a core
state: it runs beside idle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from edge_agent.states import State

__all__ = ["STATES", "DeviceValues", "display_state", "state_payload"]

STATES: Final = ("idle", "listening", "thinking", "speaking", "muted", "error", "ringing")
"""The state sensor's options (Home Assistant's ``enum`` sensor), in this order."""

_MAX_TIMERS_LISTED: Final = 20


def display_state(state: State, ringing: bool) -> str:
    """The state shown in Home Assistant: ``ringing`` while a timer rings and nothing else runs."""
    if ringing and state in (State.IDLE, State.ERROR):
        return "ringing"
    return state.value


@dataclass(frozen=True, slots=True)
class DeviceValues:
    """Everything the state topic carries; `timers`: (label, kind, due ISO time) of each."""

    state: State = State.IDLE
    ringing: bool = False
    volume_pct: int | None = None
    latency_ms: int | None = None
    cost_today_usd: float | None = None
    timers: tuple[tuple[str, str, str], ...] = field(default=())


def state_payload(v: DeviceValues) -> bytes:
    """The retained JSON of the state topic (keys are what the discovery templates read)."""
    doc = {
        "state": display_state(v.state, v.ringing),
        "muted": "ON" if v.state is State.MUTED else "OFF",
        "volume": v.volume_pct,
        "latency_ms": v.latency_ms,
        "cost_today_usd": None if v.cost_today_usd is None else round(v.cost_today_usd, 4),
        "timers": len(v.timers),
        "timer_list": [
            {"label": label, "kind": kind, "due": due}
            for label, kind, due in v.timers[:_MAX_TIMERS_LISTED]
        ],
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
