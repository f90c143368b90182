"""What the home tools report: merging two answers, whether a re-read shows what was asked, and
how a pending action is spoken ("Switch off Garage door?"). Pure functions over `DeviceState`."""

from __future__ import annotations

import dataclasses
from typing import Any

from edge_agent.tools.drivers.base import DeviceState

__all__ = ["agrees", "merge", "spoken"]


def merge(first: DeviceState, second: DeviceState) -> DeviceState:
    """What two successive answers tell together (the later one wins where both know)."""
    known = {
        f.name: getattr(second, f.name)
        for f in dataclasses.fields(second)
        if f.name != "confirmed" and getattr(second, f.name) not in (None, {})
    }
    known["confirmed"] = first.confirmed and second.confirmed
    return dataclasses.replace(first, **known)


def agrees(requested: DeviceState, read: DeviceState) -> bool:
    """Whether a read shows what was requested (levels round-trip through device scales)."""
    if requested.on is not None and read.on != requested.on:
        return False
    if requested.brightness_pct is not None and (
        read.brightness_pct is None or abs(read.brightness_pct - requested.brightness_pct) > 1
    ):
        return False
    if requested.rgb is not None and read.rgb != requested.rgb:
        return False
    return requested.color_temp_k is None or (
        read.color_temp_k is not None and abs(read.color_temp_k - requested.color_temp_k) <= 50
    )


def spoken(tool: str, args: dict[str, Any]) -> str:
    if tool == "set_power":
        return "Switch on" if args.get("state") == "on" else "Switch off"
    if args.get("brightness_pct") == 0:
        return "Switch off"
    return "Change the light on"
