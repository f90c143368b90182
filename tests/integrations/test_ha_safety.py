"""Home Assistant's live context parsed, and the unlock/disarm/open rules, with literal inputs."""

from __future__ import annotations

import json

import pytest

from edge_agent.integrations.homeassistant.live_context import (
    Entity,
    parse_live_context,
    parse_live_context_result,
)
from edge_agent.integrations.homeassistant.safety import Risk, candidates, needs_context, risks

# The shape Home Assistant's GetLiveContext returns (helpers/llm.py: yaml of exposed entities).
LIVE = """Live Context: An overview of the areas and the devices in this smart home:
- names: Kitchen Light, Cooker Lamp
  domain: light
  state: 'on'
  areas: Kitchen
  attributes:
    brightness: '180'
- names: Front Door
  domain: lock
  state: locked
  areas: Hallway
- names: Garage Door
  domain: cover
  state: closed
  areas: Garage
  attributes:
    device_class: garage
    current_position: '0'
- names: Blinds
  domain: cover
  state: open
  areas: Kitchen
  attributes:
    device_class: shade
- names: 'House Alarm'
  domain: alarm_control_panel
  state: armed_away
- names: "Odd \\"Quoted\\" Fan\u202e"
  domain: fan
  state: 'off'
"""

KITCHEN = Entity(("Kitchen Light", "Cooker Lamp"), "light", "on", ("Kitchen",))
DOOR = Entity(("Front Door",), "lock", "locked", ("Hallway",))
GARAGE = Entity(("Garage Door",), "cover", "closed", ("Garage",), "garage")
BLINDS = Entity(("Blinds",), "cover", "open", ("Kitchen",), "shade")
ALARM = Entity(("House Alarm",), "alarm_control_panel", "armed_away")
FAN = Entity(('Odd "Quoted" Fan',), "fan", "off")
ALL = [KITCHEN, DOOR, GARAGE, BLINDS, ALARM, FAN]


def test_parse_live_context_reads_names_domains_areas_and_device_class() -> None:
    assert parse_live_context(LIVE) == ALL


def test_parse_live_context_result_unwraps_the_json_envelope() -> None:
    text = json.dumps({"success": True, "result": LIVE})
    assert parse_live_context_result(text) == ALL
    assert parse_live_context_result("not json, not yaml") == []
    assert parse_live_context_result(json.dumps({"success": False, "error": "x"})) == []


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        # "turn off the kitchen lights": nothing risky
        ("HassTurnOff", {"area": "Kitchen", "domain": ["light"]}, []),
        ("HassTurnOff", {"name": "Kitchen Light"}, []),
        ("HassLightSet", {"name": "Front Door", "brightness": 10}, []),
        # "unlock the front door"
        ("HassTurnOff", {"name": "front door"}, [Risk(DOOR, "unlock")]),
        # a name we cannot place that shares a word with a lock: may be an alias
        ("HassTurnOff", {"name": "the front door lock"}, [Risk(DOOR, "unlock")]),
        # a whole area with no domain reaches the lock in it (and the alarm that has no area)
        ("HassTurnOff", {"area": "Hallway"}, [Risk(DOOR, "unlock"), Risk(ALARM, "disarm")]),
        ("HassTurnOn", {"name": "Front Door"}, []),  # locking is fine
        ("HassTurnOff", {"name": "House Alarm"}, [Risk(ALARM, "disarm")]),
        ("AlarmDisarm", {"name": "House Alarm"}, [Risk(ALARM, "disarm")]),
        ("HassTurnOn", {"name": "Garage Door"}, [Risk(GARAGE, "open")]),
        ("HassSetPosition", {"name": "Garage Door", "position": 40}, [Risk(GARAGE, "open")]),
        ("HassSetPosition", {"name": "Garage Door", "position": 0}, []),
        ("HassTurnOff", {"name": "Garage Door"}, []),  # closing is fine
        ("HassTurnOn", {"name": "Blinds"}, []),  # a shade is not a door
        ("HassTurnOn", {"device_class": ["garage"]}, [Risk(GARAGE, "open")]),
        ("HassTurnOff", {"domain": ["light"]}, []),
    ],
)
def test_risks(tool: str, args: dict[str, object], expected: list[Risk]) -> None:
    assert risks(tool, args, ALL) == expected


def test_needs_context_only_for_tools_that_can_unlock_or_open() -> None:
    assert [t for t in ("HassTurnOff", "HassLightSet", "GetLiveContext", "HassTurnOn",
                        "HassSetPosition", "script_open_gate", "HassMediaPause")
            if needs_context(t)] == [
        "HassTurnOff", "HassTurnOn", "HassSetPosition", "script_open_gate"]  # fmt: skip


def test_candidates_by_area_keep_entities_without_an_area() -> None:
    assert candidates({"area": "kitchen"}, ALL) == [KITCHEN, BLINDS, ALARM, FAN]
