"""HueDriver against HueEmulator over real HTTP (bridge API v1)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from edge_agent.sim.devices.hue import HueEmulator
from edge_agent.tools.drivers.base import DeviceError
from edge_agent.tools.drivers.hue import HueDriver

from .conftest import device, on_port

USERNAME = "hue-secret-username-1234"


@pytest.fixture
def dev():
    return device("hue", channel=3, token=USERNAME)


@pytest.fixture
def emu(serve, dev) -> HueEmulator:
    return serve(HueEmulator.for_device(dev))


@pytest.fixture
def paced_driver(emu, dev, http: httpx.AsyncClient) -> HueDriver:
    """As configured: requests 0.25 s apart."""
    return HueDriver(on_port(dev, emu), http, timeout_s=1.0)


@pytest.fixture
def driver(paced_driver: HueDriver) -> HueDriver:
    """Pacing off, to keep the suite fast; `test_requests_are_paced_and_serialised` keeps it."""
    paced_driver.exchange.min_interval_s = 0.0
    return paced_driver


def last(emu: HueEmulator) -> tuple[str, str, dict]:
    req = emu.requests[-1]
    return req.method, req.path, json.loads(req.body) if req.body else {}


async def test_power_on_off(driver, emu) -> None:
    assert (await driver.set_power(True)).on is True
    assert emu.lights["3"]["state"]["on"] is True
    assert last(emu) == ("PUT", f"/api/{USERNAME}/lights/3/state", {"on": True})
    assert (await driver.set_power(False)).on is False
    assert emu.lights["3"]["state"]["on"] is False
    assert emu.lights["1"]["state"]["on"] is False  # only the configured light


async def test_brightness_percent_maps_to_1_254_with_on(driver, emu) -> None:
    state = await driver.set_brightness(50)
    assert last(emu)[2] == {"on": True, "bri": 127}
    assert emu.lights["3"]["state"]["bri"] == 127 and emu.lights["3"]["state"]["on"]
    assert state.brightness_pct == 50
    await driver.set_brightness(1)
    assert emu.lights["3"]["state"]["bri"] == 3
    await driver.set_brightness(100)
    assert emu.lights["3"]["state"]["bri"] == 254


async def test_color_temperature_kelvin_to_mired(driver, emu) -> None:
    state = await driver.set_color(kelvin=2700)
    assert last(emu)[2] == {"on": True, "ct": 370}
    assert emu.lights["3"]["state"]["colormode"] == "ct"
    assert state.color_temp_k == 2700
    await driver.set_color(kelvin=10000)  # beyond the lamp: clamped to 153 mired
    assert emu.lights["3"]["state"]["ct"] == 153


async def test_rgb_colour_goes_as_xy_and_reads_back(driver, emu) -> None:
    await driver.set_color(rgb=(255, 0, 0))
    x, y = last(emu)[2]["xy"]
    assert 0.6 < x < 0.75 and 0.25 < y < 0.35
    state = await driver.get_state()
    r, g, b = state.rgb
    assert r == 255 and g < 60 and b < 60


async def test_get_state_reads_light(driver, emu) -> None:
    emu.lights["3"]["state"].update(on=True, bri=254, ct=250, colormode="ct", reachable=False)
    state = await driver.get_state()
    assert (state.on, state.brightness_pct, state.color_temp_k) == (True, 100, 4000)
    assert state.raw_state == "unavailable"
    assert last(emu)[:2] == ("GET", f"/api/{USERNAME}/lights/3")


async def test_group_target(http, serve) -> None:
    dev = device("hue", entity="group/1", token=USERNAME)
    emu = serve(HueEmulator.for_device(dev))
    drv = HueDriver(on_port(dev, emu), http, timeout_s=1.0)
    await drv.set_brightness(20)
    assert last(emu) == ("PUT", f"/api/{USERNAME}/groups/1/action", {"on": True, "bri": 51})
    assert all(emu.lights[i]["state"]["bri"] == 51 for i in ("1", "2"))
    state = await drv.get_state()
    assert state.on is True and state.brightness_pct == 20


async def test_wrong_username_is_unauthorized_despite_http_200(http, serve, dev) -> None:
    emu = serve(HueEmulator.for_device(dev))
    wrong = device("hue", channel=3, token="not-the-user", port=emu.port)
    with pytest.raises(DeviceError) as err:
        await HueDriver(wrong, http, timeout_s=1.0).set_power(True)
    assert err.value.code == "unauthorized"
    assert emu.lights["3"]["state"]["on"] is False
    with pytest.raises(DeviceError) as err:
        await HueDriver(device("hue", channel=3, port=emu.port), http).get_state()
    assert err.value.code == "unauthorized"


async def test_unknown_light_is_device_error_type_3(http, serve, dev, emu) -> None:
    drv = HueDriver(device("hue", channel=9, token=USERNAME, port=emu.port), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.set_power(True)
    assert err.value.code == "device_error" and "not on the bridge" in err.value.detail


async def test_emulator_error_arrays(emu, http) -> None:
    base = f"{emu.url}/api/{USERNAME}/lights/3/state"
    off = (await http.put(base, json={"bri": 100})).json()
    assert off == [
        {
            "error": {
                "type": 201,
                "address": "/lights/3/state/bri",
                "description": "parameter, bri, is not modifiable. Device is set to off.",
            }
        }
    ]
    mixed = (await http.put(base, json={"on": True, "ct": 600})).json()
    assert mixed[0] == {"success": {"/lights/3/state/on": True}}
    assert mixed[1]["error"]["type"] == 7
    bad = await http.put(base, content=b"{nope")
    assert (bad.status_code, bad.json()[0]["error"]["type"]) == (200, 2)
    assert (await http.get(f"{emu.url}/api/nobody/lights")).json()[0]["error"]["type"] == 1


async def test_pairing_needs_the_link_button(emu, http) -> None:
    first = (await http.post(f"{emu.url}/api", json={"devicetype": "edge-agent#pi"})).json()
    assert first[0]["error"]["type"] == 101
    emu.press_link_button()
    second = (await http.post(f"{emu.url}/api", json={"devicetype": "edge-agent#pi"})).json()
    username = second[0]["success"]["username"]
    assert (await http.get(f"{emu.url}/api/{username}/lights")).json()["3"]["name"]


async def test_value_error_from_bridge_is_device_error(driver, emu) -> None:
    emu.lights["3"]["capabilities"]["control"]["ct"]["max"] = 454  # an older bulb
    with pytest.raises(DeviceError) as err:
        await driver.set_color(kelvin=2000)  # 500 mired: the bridge answers error type 7
    assert err.value.code == "device_error" and "out of range" in err.value.detail


async def test_overload_is_retried_once(driver, emu) -> None:
    emu.overload_status, emu.overload_next = 429, 1
    assert (await driver.set_power(True)).on is True
    assert [r.method for r in emu.requests] == ["PUT", "PUT"]
    emu.overload_next = 2
    with pytest.raises(DeviceError) as err:
        await driver.set_power(False)
    assert err.value.code == "device_error" and "overloaded" in err.value.detail


async def test_timeout_garbage_and_server_error(driver, emu) -> None:
    emu.garbage_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "bad_response"
    emu.fail_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "device_error"
    emu.hang = True
    t0 = time.monotonic()
    with pytest.raises(DeviceError) as err:
        await driver.get_state()
    assert err.value.code == "timeout" and time.monotonic() - t0 < 1.4


async def test_unconfigured_target_is_not_supported(http) -> None:
    with pytest.raises(DeviceError) as err:
        await HueDriver(device("hue", token=USERNAME), http).get_state()
    assert err.value.code == "not_supported"


async def test_requests_are_paced_and_serialised(paced_driver, emu) -> None:
    driver = paced_driver
    t0 = time.monotonic()
    states = await asyncio.gather(driver.set_power(True), driver.get_state(), driver.get_state())
    assert time.monotonic() - t0 >= 0.5  # three requests, 0.25 s apart (aiohue's v1 pacing)
    assert [s.on for s in states] == [True, True, True]
    assert [r.method for r in emu.requests] == ["PUT", "GET", "GET"]
