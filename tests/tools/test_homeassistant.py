"""HomeAssistantDriver against HomeAssistantEmulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from edge_agent.sim.devices.homeassistant import HomeAssistantEmulator
from edge_agent.tools.drivers.base import DeviceError
from edge_agent.tools.drivers.homeassistant import HomeAssistantDriver

from .conftest import device, on_port

TOKEN = "ha-long-lived-secret-token-5678"


@pytest.fixture
def rig(serve, http):
    """make(entity, **kw) -> (driver, emulator) for one HA entity."""

    def make(entity: str, timeout_s: float = 1.0, **kw):
        dev = device("homeassistant", entity=entity, token=TOKEN, **kw)
        emu = serve(HomeAssistantEmulator.for_device(dev))
        return HomeAssistantDriver(on_port(dev, emu), http, timeout_s=timeout_s), emu

    return make


def last(emu: HomeAssistantEmulator) -> tuple[str, str, dict]:
    req = emu.requests[-1]
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    return req.method, req.path, json.loads(req.body) if req.body else {}


async def test_light_on_off_brightness_colour(rig) -> None:
    driver, emu = rig("light.kitchen")
    state = await driver.set_power(True)
    assert last(emu) == ("POST", "/api/services/light/turn_on", {"entity_id": "light.kitchen"})
    assert emu.entities["light.kitchen"]["state"] == "on"
    assert (state.on, state.brightness_pct) == (True, 100)  # parsed from the changed state
    state = await driver.set_brightness(40)
    assert last(emu)[2] == {"entity_id": "light.kitchen", "brightness_pct": 40}
    assert emu.entities["light.kitchen"]["attributes"]["brightness"] == 102
    assert state.brightness_pct == 40
    state = await driver.set_color(kelvin=2700)
    assert last(emu)[2] == {"entity_id": "light.kitchen", "color_temp_kelvin": 2700}
    assert state.color_temp_k == 2700
    state = await driver.set_color(rgb=(0, 0, 255))
    assert emu.entities["light.kitchen"]["attributes"]["rgb_color"] == [0, 0, 255]
    assert state.rgb == (0, 0, 255)
    state = await driver.set_power(False)
    assert last(emu)[1] == "/api/services/light/turn_off"
    assert (state.on, state.brightness_pct) == (False, 0)


async def test_get_state(rig) -> None:
    driver, emu = rig("switch.heater")
    emu.entities["switch.heater"]["state"] = "on"
    state = await driver.get_state()
    assert state.on is True and state.raw_state is None
    assert last(emu)[:2] == ("GET", "/api/states/switch.heater")
    emu.entities["switch.heater"]["state"] = "unavailable"
    state = await driver.get_state()
    assert state.on is None and state.raw_state == "unavailable"


async def test_empty_changed_list_is_success_with_requested_state(rig) -> None:
    driver, emu = rig("switch.heater")
    emu.quiet_services = True
    state = await driver.set_power(True)
    assert state.on is True and emu.entities["switch.heater"]["state"] == "on"


async def test_lock_uses_lock_and_unlock_services(rig) -> None:
    driver, emu = rig("lock.front_door")
    emu.entities["lock.front_door"]["state"] = "unlocked"
    state = await driver.set_power(True)
    assert last(emu)[1] == "/api/services/lock/lock"
    assert (state.on, state.raw_state) == (True, "locked")
    state = await driver.set_power(False)
    assert last(emu)[1] == "/api/services/lock/unlock"
    assert (state.on, state.raw_state) == (False, "unlocked")
    with pytest.raises(DeviceError) as err:
        await driver.set_brightness(50)
    assert err.value.code == "not_supported"


async def test_cover_open_close(rig) -> None:
    driver, emu = rig("cover.garage_door")
    state = await driver.set_power(True)
    assert last(emu)[1] == "/api/services/cover/open_cover"
    assert state.raw_state == "open" and emu.entities["cover.garage_door"]["state"] == "open"
    await driver.set_power(False)
    assert last(emu)[1] == "/api/services/cover/close_cover"
    assert emu.entities["cover.garage_door"]["attributes"]["current_position"] == 0


@pytest.mark.parametrize(
    ("entity", "state", "unit", "cls", "expected"),
    [
        ("sensor.t", "21.5", "°C", "temperature", {"temperature_c": 21.5}),
        ("sensor.t", "70.7", "°F", "temperature", {"temperature_c": 21.5}),
        ("sensor.h", "48", "%", "humidity", {"humidity_pct": 48.0}),
        ("sensor.p", "1.5", "kW", "power", {"power_w": 1500.0}),
        ("sensor.e", "1234", "Wh", "energy", {"energy_kwh": 1.234}),
    ],
)
async def test_sensor_values_are_normalised(rig, entity, state, unit, cls, expected) -> None:
    driver, emu = rig(entity)
    emu.add(entity, state, unit_of_measurement=unit, device_class=cls)
    result = await driver.get_state()
    assert result.sensors == expected and result.on is None


async def test_non_numeric_sensor_and_battery_percent(rig) -> None:
    driver, emu = rig("sensor.t")
    emu.add("sensor.t", "unavailable", unit_of_measurement="°C")
    assert (await driver.get_state()).raw_state == "unavailable"
    emu.add("sensor.t", "87", unit_of_measurement="%", device_class="battery")
    result = await driver.get_state()
    assert result.sensors == {} and result.raw_state == "unknown"  # not a state word
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "not_supported" and len(emu.requests) == 2


async def test_wrong_token_is_unauthorized(serve, http) -> None:
    dev = device("homeassistant", entity="light.kitchen", token=TOKEN)
    emu = serve(HomeAssistantEmulator.for_device(dev))
    wrong = device("homeassistant", entity="light.kitchen", token="wrong", port=emu.port)
    with pytest.raises(DeviceError) as err:
        await HomeAssistantDriver(wrong, http).set_power(True)
    assert err.value.code == "unauthorized"
    assert emu.entities["light.kitchen"]["state"] == "off"
    none = device("homeassistant", entity="light.kitchen", port=emu.port)
    with pytest.raises(DeviceError) as err:
        await HomeAssistantDriver(none, http).get_state()
    assert err.value.code == "unauthorized" and len(emu.requests) == 1


async def test_unknown_entity_is_device_error(rig) -> None:
    driver, emu = rig("light.kitchen")
    del emu.entities["light.kitchen"]
    with pytest.raises(DeviceError) as err:
        await driver.get_state()
    assert err.value.code == "device_error" and "entity" in err.value.detail


async def test_bad_entity_config_is_refused_before_sending(rig) -> None:
    driver, emu = rig("light.kitchen/../../api/config")
    with pytest.raises(DeviceError) as err:
        await driver.get_state()
    assert err.value.code == "not_supported" and emu.requests == []


async def test_emulator_400_shapes(rig, http) -> None:
    _, emu = rig("light.kitchen")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = await http.post(f"{emu.url}/api/services/light/turn_on", content=b"{x", headers=auth)
    assert (bad.status_code, bad.json()) == (400, {"message": "Data should be valid JSON."})
    unknown = await http.post(f"{emu.url}/api/services/light/explode", json={}, headers=auth)
    assert (unknown.status_code, unknown.text) == (400, "400: Bad Request")
    missing = await http.get(f"{emu.url}/api/states/light.nope", headers=auth)
    assert (missing.status_code, missing.json()) == (404, {"message": "Entity not found."})
    assert (await http.get(f"{emu.url}/api/")).status_code == 401


async def test_unknown_service_is_device_error(rig) -> None:
    driver, emu = rig("valve.garden")  # no valve integration loaded: HA answers 400
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "device_error" and "rejected" in err.value.detail
    assert last(emu)[:2] == ("POST", "/api/services/valve/open_valve")


async def test_slow_service_times_out_but_completes_later(rig) -> None:
    driver, emu = rig("switch.heater", timeout_s=0.3)
    emu.service_delay_ms = 700
    t0 = time.monotonic()
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "timeout" and "unknown" in err.value.detail
    assert time.monotonic() - t0 < 0.6
    assert len(emu.requests) == 1  # a service call is never retried
    deadline = time.monotonic() + 3
    while emu.entities["switch.heater"]["state"] != "on" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert emu.entities["switch.heater"]["state"] == "on"


async def test_garbage_and_server_error(rig) -> None:
    driver, emu = rig("switch.heater")
    emu.garbage_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.get_state()
    assert err.value.code == "bad_response"
    emu.fail_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "device_error"
    emu.hang = True
    with pytest.raises(DeviceError) as err:
        await driver.get_state()
    assert err.value.code == "timeout"
