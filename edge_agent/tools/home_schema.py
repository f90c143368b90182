"""The JSON schemas and descriptions of the smart-home tools, and the unit tables they use.

Every schema has ``additionalProperties: false`` and bounded strings: the model can pass names,
areas and typed values, never a URL, host, path or command (devices.md §8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

__all__ = ["COLORS", "QUANTITIES", "home_tool_specs"]

# name → (RGB, kelvin): whites are colour temperatures, the rest RGB.
COLORS: Final[dict[str, tuple[tuple[int, int, int] | None, int | None]]] = {
    "red": ((255, 0, 0), None),
    "orange": ((255, 128, 0), None),
    "yellow": ((255, 220, 0), None),
    "green": ((0, 255, 0), None),
    "cyan": ((0, 255, 255), None),
    "blue": ((0, 0, 255), None),
    "purple": ((128, 0, 255), None),
    "magenta": ((255, 0, 255), None),
    "pink": ((255, 105, 180), None),
    "white": ((255, 255, 255), None),
    "warm white": (None, 2700),
    "soft white": (None, 3000),
    "neutral white": (None, 4000),
    "daylight": (None, 5500),
    "cool white": (None, 6500),
}

QUANTITIES: Final[dict[str, str]] = {
    "temperature": "temperature_c",
    "humidity": "humidity_pct",
    "power": "power_w",
    "energy": "energy_kwh",
}

_NAME: Final = {"type": "string", "minLength": 1, "maxLength": 60}
_DEVICE: Final = {**_NAME, "description": "device name or alias, as the user said it"}
_AREA: Final = {**_NAME, "description": "area (room) name"}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def home_tool_specs(kinds: Sequence[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, description, parameters) of each home tool."""
    kind = {"type": "string", "enum": list(kinds) or ["switch"]}
    return [
        (
            "list_devices",
            "List the smart-home devices you may control, with area, kind, allowed actions and "
            "current state. Optional filters: area, kind.",
            _obj({"area": _AREA, "kind": kind}),
        ),
        (
            "get_state",
            "Read the current state of one device (on/off, brightness, sensor values).",
            _obj({"device": _DEVICE}, ["device"]),
        ),
        (
            "set_power",
            "Switch a configured device, or all in an area, on or off.",
            _obj(
                {
                    "device": _DEVICE,
                    "area": _AREA,
                    "state": {"type": "string", "enum": ["on", "off"]},
                },
                ["state"],
            ),
        ),
        (
            "set_light",
            "Set brightness and/or colour of a light, or of all lights in an area. Brightness "
            "in percent (0 switches off); a colour name or a white colour temperature in kelvin.",
            _obj(
                {
                    "device": _DEVICE,
                    "area": _AREA,
                    "brightness_pct": {"type": "integer", "minimum": 0, "maximum": 100},
                    "color_name": {"type": "string", "enum": sorted(COLORS)},
                    "color_temp_k": {"type": "integer", "minimum": 1500, "maximum": 9000},
                }
            ),
        ),
        (
            "read_sensor",
            "Read a measurement (temperature °C, humidity %, power W, energy kWh) from a device "
            "or from the devices in an area.",
            _obj(
                {
                    "device": _DEVICE,
                    "area": _AREA,
                    "quantity": {"type": "string", "enum": sorted(QUANTITIES)},
                },
                ["quantity"],
            ),
        ),
    ]
