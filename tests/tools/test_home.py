"""The home tools end to end: registry → resolution → drivers → emulators over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .rig import Home, home_config, serve_home


@pytest.fixture
async def home(tmp_path: Path, http) -> AsyncIterator[Home]:
    async with serve_home(home_config(tmp_path), http) as home:
        yield home


async def test_specs_are_realtime_function_tools(home: Home) -> None:
    specs = {s["name"]: s for s in home.reg.specs()}
    assert set(specs) >= {"list_devices", "get_state", "set_power", "set_light", "read_sensor",
                          "confirm_action", "set_memory", "get_weather"}  # fmt: skip
    assert specs["set_power"] == {
        "type": "function",
        "name": "set_power",
        "description": "Switch a configured device, or all in an area, on or off.",
        "parameters": {
            "type": "object",
            "properties": {
                "device": {"type": "string", "minLength": 1, "maxLength": 60,
                           "description": "device name or alias, as the user said it"},
                "area": {"type": "string", "minLength": 1, "maxLength": 60,
                         "description": "area (room) name"},
                "state": {"type": "string", "enum": ["on", "off"]},
            },
            "additionalProperties": False,
            "required": ["state"],
        },
    }  # fmt: skip


async def test_list_devices_with_live_state(home: Home) -> None:
    result = await home.call("list_devices", area="office")
    assert result == {
        "ok": True,
        "devices": [
            {"name": "Desk fan", "kind": "switch", "actions": ["power"], "area": "Office",
             "state": "not readable"},
            {"name": "Heater", "kind": "switch", "actions": ["power", "read"], "area": "Office",
             "state": {"on": False, "power_w": 0.0, "energy_kwh": 7.259, "temperature_c": 32.1}},
        ],
    }  # fmt: skip
    everything = await home.call("list_devices")
    assert len(everything["devices"]) == 6
    garage = next(d for d in everything["devices"] if d["name"] == "Garage door")
    assert garage["needs_confirmation"] is True


@pytest.mark.parametrize("said", ["Kitchen light", "the kitchen LAMP", "kitchen lite", "kitchen"])
async def test_names_aliases_fuzzy(home: Home, said: str) -> None:
    if said == "kitchen":  # two devices in the kitchen: ask which one
        result = await home.call("set_power", device=said, state="on")
        assert result["error"] == "ambiguous"
        assert result["candidates"] == ["Kitchen light", "Kitchen plug"]
        return
    result = await home.call("set_power", device=said, state="on")
    assert result == {
        "ok": True,
        "device": "Kitchen light",
        "state": {"on": True},
        "state_is": "confirmed",
    }
    assert home.emu("Kitchen light").lights[0]["output"] is True


async def test_ambiguous_then_area_disambiguates(home: Home) -> None:
    result = await home.call("set_power", device="lamp", state="on")
    assert (result["error"], result["candidates"]) == (
        "ambiguous",
        ["Kitchen light", "Living room lamp"],
    )
    result = await home.call("set_power", device="lamp", area="living room", state="on")
    assert result["device"] == "Living room lamp" and result["state"]["on"] is True


async def test_area_power(home: Home) -> None:
    result = await home.call("set_power", area="kitchen", state="on")
    assert result["ok"] is True and [r["device"] for r in result["results"]] == [
        "Kitchen light",
        "Kitchen plug",
    ]
    assert home.emu("Kitchen light").lights[0]["output"] is True
    assert home.emu("Kitchen plug").power == ["ON"]


async def test_set_light_units(home: Home) -> None:
    result = await home.call("set_light", device="kitchen light", brightness_pct=40)
    assert result["state"] == {"on": True, "brightness_pct": 40}
    assert home.emu("Kitchen light").lights[0]["brightness"] == 40.0
    result = await home.call("set_light", device="living room lamp", color_name="warm white")
    assert home.emu("Living room lamp").commands[-1] == "CT 370"  # 2700 K → 370 mired
    assert result["state"]["color_temp_k"] == 2703
    result = await home.call(
        "set_light", device="living room lamp", color_name="blue", brightness_pct=20
    )
    assert home.emu("Living room lamp").commands[-2:] == ["Color 0,0,255", "Dimmer 20"]
    assert result["state"] == {
        "on": True,
        "brightness_pct": 20,
        "rgb": [0, 0, 255],
        "color_temp_k": 2703,
    }


async def test_not_allowed_actions_send_nothing(home: Home) -> None:
    emu = home.emu("Kitchen light")
    result = await home.call("set_light", device="kitchen light", color_name="red")
    assert (
        result["error"] == "not_allowed" and "allowed: power, brightness, read" in result["detail"]
    )
    fan = home.emu("Desk fan")
    assert (await home.call("get_state", device="desk fan"))["error"] == "not_allowed"
    assert emu.requests == [] and fan.requests == []


async def test_read_sensor_and_get_state(home: Home) -> None:
    assert await home.call("read_sensor", device="kitchen plug", quantity="humidity") == {
        "ok": True,
        "device": "Kitchen plug",
        "humidity_pct": 50.6,
    }
    result = await home.call("read_sensor", area="kitchen", quantity="temperature")
    assert result["readings"] == [
        {"device": "Kitchen light", "temperature_c": 40.2},
        {"device": "Kitchen plug", "temperature_c": 15.5},
    ]
    assert (await home.call("get_state", device="heater"))["state"]["on"] is False


async def test_device_failures_are_structured(home: Home) -> None:
    home.emu("Heater").hang = True
    result = await home.call("set_power", device="heater", state="on")
    assert result == {
        "ok": False,
        "error": "timeout",
        "detail": "no answer in 0.8 s; state unknown",
        "device": "Heater",
    }
    home.emu("Kitchen plug").garbage_next = 1
    result = await home.call("get_state", device="kitchen plug")
    assert (result["error"], result["device"]) == ("bad_response", "Kitchen plug")


async def test_confirmation_flow(home: Home) -> None:
    garage = home.emu("Garage door")
    first = await home.call("set_power", device="garage door", state="on")
    assert first["error"] == "confirmation_required" and first["say"] == "Switch on Garage door?"
    assert garage.requests == []
    cid = first["confirmation_id"]
    too_early = await home.call("confirm_action", confirmation_id=cid)
    assert too_early["error"] == "confirmation_needs_user" and garage.requests == []
    home.reg.new_user_turn()
    home.reg.user_transcript("yes")
    done = await home.call("confirm_action", confirmation_id=cid)
    assert done == {
        "ok": True,
        "device": "Garage door",
        "state": {"on": True},
        "state_is": "confirmed",
    }
    assert garage.relays[0]["ison"] is True
    again = await home.call("confirm_action", confirmation_id=cid)
    assert again["error"] == "invalid_confirmation"
    assert len(garage.requests) == 1


async def test_area_actions_skip_sensitive_devices(home: Home) -> None:
    result = await home.call("set_power", area="garage", state="on")
    assert result["error"] == "not_found"
    assert home.emu("Garage door").requests == []
