"""Security: the model reaches only configured devices and allowed actions, never secrets."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.sim.devices.fleet import DeviceFleet
from edge_agent.tools.home import build_registry

from .rig import GARAGE_PW, HEATER_PW, PLUG_PW, Clock, home_config

SECRETS = (GARAGE_PW, HEATER_PW, PLUG_PW)


@pytest.fixture
async def home(tmp_path: Path, http) -> AsyncIterator[tuple]:
    with DeviceFleet(home_config(tmp_path)) as fleet:
        clock = Clock()
        reg = build_registry(fleet.config, http, clock=clock)
        yield reg, fleet, clock
        await reg.aclose()


def _no_requests(fleet: DeviceFleet) -> bool:
    return all(emu.requests == [] for emu in fleet.emulators.values())


@pytest.mark.parametrize(
    ("tool", "args", "code"),
    [
        ("set_power", {"device": "http://127.0.0.1/relay/0?turn=on", "state": "on"}, "not_found"),
        ("set_power", {"device": "127.0.0.1", "state": "on"}, "not_found"),
        ("set_power", {"device": "../../etc/passwd", "state": "on"}, "not_found"),
        ("set_power", {"device": "/rpc/Switch.Set", "state": "on"}, "not_found"),
        ("set_power", {"device": "Front door lock", "state": "off"}, "not_found"),
        ("set_power", {"area": "Basement", "state": "on"}, "not_found"),
        ("set_power", {"device": "heater", "state": "on", "host": "10.0.0.1"}, "bad_arguments"),
        ("set_power", {"device": "heater", "state": "on", "url": "http://x/"}, "bad_arguments"),
        ("set_power", {"device": "heater", "state": "on", "port": 8080}, "bad_arguments"),
        ("set_power", {"device": "heater", "state": "Power ON; Backlog"}, "bad_arguments"),
        ("get_state", {"device": "heater", "path": "/settings"}, "bad_arguments"),
        ("set_power", {"device": "heater", "state": "on", "_confirmed": True}, "bad_arguments"),
        ("set_light", {"device": "heater", "brightness_pct": 50}, "not_allowed"),
        ("set_light", {"device": "kitchen light", "color_name": "red"}, "not_allowed"),
        ("get_state", {"device": "desk fan"}, "not_allowed"),
        ("set_light", {"device": "living room lamp", "color_name": "Backlog WebSend"},
         "bad_arguments"),
        ("set_light", {"device": "living room lamp", "brightness_pct": 101}, "bad_arguments"),
        ("confirm_action", {"confirmation_id": "c-00000000"}, "invalid_confirmation"),
        ("confirm_action", {"confirmation_id": "../x"}, "bad_arguments"),
    ],
)  # fmt: skip
async def test_refused_and_nothing_sent(home, tool: str, args: dict, code: str) -> None:
    reg, fleet, _ = home
    result = json.loads(await reg.call(tool, json.dumps(args)))
    assert (result["ok"], result["error"]) == (False, code)
    assert _no_requests(fleet)


async def test_sensitive_action_needs_a_fresh_confirmation(home) -> None:
    reg, fleet, clock = home
    garage = fleet.emulators["Garage door"]
    first = json.loads(await reg.call("set_power", '{"device": "garage door", "state": "on"}'))
    assert first["error"] == "confirmation_required" and garage.requests == []
    # a token for one action cannot be used before the user spoke, nor after it expired
    reg.new_user_turn()
    clock.now += 31
    late = json.loads(
        await reg.call("confirm_action", json.dumps({"confirmation_id": first["confirmation_id"]}))
    )
    assert late["error"] == "invalid_confirmation" and garage.requests == []
    assert garage.relays[0]["ison"] is False


async def test_confirmation_carries_the_original_action_only(home) -> None:
    reg, fleet, _ = home
    first = json.loads(await reg.call("set_power", '{"device": "garage door", "state": "off"}'))
    reg.new_user_turn()
    reg.user_transcript("Okay.")
    cid = first["confirmation_id"]
    # the model cannot redirect the confirmed action: confirm_action takes only the id
    sneaky = json.dumps({"confirmation_id": cid, "device": "garage door", "state": "on"})
    assert json.loads(await reg.call("confirm_action", sneaky))["error"] == "bad_arguments"
    done = json.loads(await reg.call("confirm_action", json.dumps({"confirmation_id": cid})))
    assert done["state"] == {"on": False}
    assert fleet.emulators["Garage door"].requests[-1].query == {"turn": "off"}


async def test_secrets_never_in_logs_or_results(home, caplog) -> None:
    reg, fleet, _ = home
    caplog.set_level(logging.DEBUG)
    results = [
        await reg.call("list_devices", "{}"),
        await reg.call("set_power", '{"device": "heater", "state": "on"}'),
        await reg.call("get_state", '{"device": "kitchen plug"}'),
        await reg.call("set_power", '{"device": "garage door", "state": "on"}'),
    ]
    fleet.emulators["Heater"].password = "changed-on-device"
    results.append(await reg.call("set_power", '{"device": "heater", "state": "off"}'))
    assert json.loads(results[-1])["error"] == "unauthorized"
    fleet.emulators["Kitchen plug"].hang = True
    results.append(await reg.call("get_state", '{"device": "kitchen plug"}'))
    assert json.loads(results[1])["ok"] is True and json.loads(results[2])["ok"] is True
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records) + "".join(results)
    for secret in SECRETS:
        assert secret not in text
        assert base64.b64encode(f"admin:{secret}".encode()).decode() not in text
    for dev in fleet.config.devices:
        assert all(s not in repr(dev) for s in SECRETS)
    assert "127.0.0.1" not in "".join(results)  # no addresses in results either
