"""The assistant's tools for the registry: clock, timers and alarms, volume.

Schemas are strict (``additionalProperties: false``, bounded strings); the handlers only call
the services, which parse and bound every value and raise `ToolError` with a detail the model
can say. Results are small dicts (the registry adds ``ok`` and logs one line per call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.assistant.clock import describe_now
from edge_agent.assistant.service import TimerService
from edge_agent.assistant.volume import VolumeControl
from edge_agent.tools.registry import Tool

__all__ = ["clock_tools", "timer_tools", "volume_tools"]

_LABEL = {"type": "string", "maxLength": 40}
_KIND = {"enum": ["timer", "alarm"]}


def _schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


def clock_tools(
    zone: ZoneInfo, language: str, wall: Callable[[], float], *, timeout_s: float = 4.0
) -> list[Tool]:
    """``get_time``: the local date, time, weekday and zone at home."""

    async def get_time(args: dict[str, Any]) -> dict[str, Any]:
        return describe_now(wall(), zone, language)

    return [
        Tool(
            "get_time",
            "The current local time, date and weekday at home. Call it for any question about "
            "the time or date, or relative to now.",
            _schema({}),
            get_time,
            timeout_s,
        )
    ]


def timer_tools(service: TimerService, *, timeout_s: float = 4.0) -> list[Tool]:
    """``set_timer``, ``set_alarm``, ``list_timers``, ``cancel_timer``."""

    async def set_timer(args: dict[str, Any]) -> dict[str, Any]:
        return await service.set_timer(args["duration"], args.get("label", ""))

    async def set_alarm(args: dict[str, Any]) -> dict[str, Any]:
        return await service.set_alarm(
            args["time"], args.get("label", ""), args.get("repeat"), args.get("date", "")
        )

    async def list_timers(args: dict[str, Any]) -> dict[str, Any]:
        return await service.list(args.get("label", ""), args.get("kind", ""))

    async def cancel_timer(args: dict[str, Any]) -> dict[str, Any]:
        return await service.cancel(
            id=args.get("id"),
            label=args.get("label", ""),
            kind=args.get("kind", ""),
            all=args.get("all", False),
        )

    return [
        Tool(
            "set_timer",
            "Start a timer, e.g. duration '10 minutes', '1h30m' or 90 (seconds), with an "
            "optional label ('pasta'). Several can run at once.",
            _schema(
                {
                    "duration": {
                        "anyOf": [
                            {"type": "string", "minLength": 1, "maxLength": 60},
                            {"type": "number"},
                        ]
                    },
                    "label": _LABEL,
                },
                ("duration",),
            ),
            set_timer,
            timeout_s,
        ),
        Tool(
            "set_alarm",
            "Set an alarm at a local time of day ('07:30', 24-hour), optionally with a label, "
            "repeat days (['weekdays'], ['mon','fri'], ['daily']) or a date (YYYY-MM-DD). "
            "Without a date it rings at the next such time.",
            _schema(
                {
                    "time": {"type": "string", "minLength": 1, "maxLength": 20},
                    "label": _LABEL,
                    "repeat": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 20},
                        "maxItems": 7,
                    },
                    "date": {"type": "string", "maxLength": 12},
                },
                ("time",),
            ),
            set_alarm,
            timeout_s,
        ),
        Tool(
            "list_timers",
            "List running timers and alarms with the time left, or only those matching a "
            "label ('how long is left on the pasta timer').",
            _schema({"label": _LABEL, "kind": _KIND}),
            list_timers,
            timeout_s,
        ),
        Tool(
            "cancel_timer",
            "Cancel a timer or alarm by id or label, or all of them (all = true, optionally "
            "of one kind).",
            _schema(
                {
                    "id": {"type": "integer", "minimum": 1},
                    "label": _LABEL,
                    "kind": _KIND,
                    "all": {"type": "boolean"},
                }
            ),
            cancel_timer,
            timeout_s,
        ),
    ]


def volume_tools(volume: VolumeControl, *, timeout_s: float = 4.0) -> list[Tool]:
    """``set_volume``: a percentage or a step; no arguments tell the current volume."""

    async def set_volume(args: dict[str, Any]) -> dict[str, Any]:
        if "percent" not in args and "change" not in args:
            return await volume.describe()
        return await volume.set(percent=args.get("percent"), change=args.get("change", ""))

    return [
        Tool(
            "set_volume",
            "Set the speaker volume: percent 0-100, or change 'up'/'down' one step ('louder', "
            "'turn it down'). With no arguments, tells the current volume.",
            _schema(
                {
                    "percent": {"type": "number", "minimum": 0, "maximum": 100},
                    "change": {"enum": ["up", "down"]},
                }
            ),
            set_volume,
            timeout_s,
        )
    ]
