"""Tasmota driver against its emulator over real HTTP."""

from __future__ import annotations

import time

import pytest

from edge_agent.sim.devices.tasmota import TasmotaEmulator
from edge_agent.tools.drivers.base import DeviceError, DeviceState
from edge_agent.tools.drivers.tasmota import TasmotaDriver

from .conftest import TIME_SCALE, device


async def test_power_and_state(serve, http) -> None:
    emu = serve(TasmotaEmulator())
    drv = TasmotaDriver(device("tasmota", emu), http, timeout_s=1.0)
    assert await drv.set_power(True) == DeviceState(on=True)
    assert emu.power == ["ON"] and emu.commands[-1] == "Power ON"
    assert emu.requests[-1].raw_path == "/cm?cmnd=Power+ON"
    assert emu.requests[-1].headers["referer"] == "http://127.0.0.1/"
    state = await drv.get_state()
    assert state == DeviceState(
        on=True,
        sensors={"temperature_c": 15.5, "humidity_pct": 50.6, "power_w": 5.0, "energy_kwh": 3.705},
    )
    await drv.set_power(False)
    assert emu.power == ["OFF"]


async def test_second_relay(serve, http) -> None:
    emu = serve(TasmotaEmulator(relays=2))
    drv = TasmotaDriver(device("tasmota", emu, channel=2), http, timeout_s=1.0)
    assert (await drv.set_power(True)).on is True
    assert emu.power == ["OFF", "ON"] and emu.commands[-1] == "Power2 ON"
    assert (await drv.get_state()).on is True


async def test_light_dimmer_colour_ct(serve, http) -> None:
    emu = serve(TasmotaEmulator(light=True))
    drv = TasmotaDriver(device("tasmota", emu, kind="light"), http, timeout_s=1.0)
    state = await drv.set_brightness(35)
    assert (state.on, state.brightness_pct) == (True, 35) and emu.dimmer == 35
    state = await drv.set_color(rgb=(0, 128, 255))
    assert state.rgb == (0, 128, 255) and emu.commands[-1] == "Color 0,128,255"
    state = await drv.set_color(kelvin=2700)
    assert emu.commands[-1] == "CT 370" and state.color_temp_k == 2703


async def test_plug_has_no_dimmer(serve, http) -> None:
    emu = serve(TasmotaEmulator())
    drv = TasmotaDriver(device("tasmota", emu), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.set_brightness(50)
    assert err.value.code == "device_error"  # {"Command":"Unknown"} with HTTP 200


@pytest.mark.parametrize("legacy", [False, True])
async def test_wrong_password_is_unauthorized(serve, http, legacy) -> None:
    emu = serve(TasmotaEmulator(password="tasmota-pw", legacy_auth_200=legacy))
    bad = TasmotaDriver(device("tasmota", emu, password="wrong-pw"), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await bad.set_power(True)
    assert err.value.code == "unauthorized" and emu.power == ["OFF"]
    good = TasmotaDriver(device("tasmota", emu, password="tasmota-pw"), http, timeout_s=1.0)
    assert (await good.set_power(True)).on is True
    assert "password" not in emu.requests[-1].raw_path  # header auth, never the query form


async def test_referer_gate_passes_with_our_referer_and_explains_otherwise(serve, http) -> None:
    emu = serve(TasmotaEmulator(referer_gate=True))
    drv = TasmotaDriver(device("tasmota", emu), http, timeout_s=1.0)
    assert (await drv.set_power(True)).on is True
    emu.hostname = "10.0.0.9"  # the device now expects another referer
    with pytest.raises(DeviceError) as err:
        await drv.set_power(False)
    assert err.value.code == "device_error" and "SetOption128" in err.value.detail
    assert emu.power == ["ON"]


@pytest.mark.parametrize(
    ("fault", "code"),
    [("hang", "timeout"), ("garbage_next", "bad_response"), ("fail_next", "device_error")],
)
async def test_faults(serve, http, fault, code) -> None:
    emu = serve(TasmotaEmulator())
    setattr(emu, fault, True if fault == "hang" else 1)
    drv = TasmotaDriver(device("tasmota", emu), http, timeout_s=0.5)
    start = time.monotonic()
    with pytest.raises(DeviceError) as err:
        await drv.set_power(True)
    assert err.value.code == code
    assert time.monotonic() - start < 1.0 * TIME_SCALE


async def test_emulator_shapes(serve, http) -> None:
    emu = serve(TasmotaEmulator())
    assert (await http.get(emu.url + "/cm", params={"cmnd": "Backlog Power ON"})).json() == {
        "Command": "Unknown"
    }
    assert (await http.get(emu.url + "/cm")).json() == {"WARNING": "Enter command cmnd="}
    r = await http.get(emu.url + "/nope")
    assert r.status_code == 404 and r.text.startswith("File Not Found")
    assert (await http.get(emu.url + "/cm", params={"cmnd": "power toggle"})).json() == {
        "POWER": "ON"
    }
