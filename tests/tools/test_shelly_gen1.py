"""Shelly Gen1 driver against its emulator over real HTTP."""

from __future__ import annotations

import time

import pytest

from edge_agent.sim.devices.shelly_gen1 import ShellyGen1Emulator
from edge_agent.tools.drivers.base import DeviceError, DeviceState
from edge_agent.tools.drivers.shelly_gen1 import ShellyGen1Driver

from .conftest import TIME_SCALE, device


async def test_relay_on_off_and_state(serve, http) -> None:
    emu = serve(ShellyGen1Emulator())
    drv = ShellyGen1Driver(device("shelly_gen1", emu), http, timeout_s=1.0)
    assert await drv.set_power(True) == DeviceState(on=True)
    assert emu.relays[0]["ison"] is True
    assert emu.requests[-1].path == "/relay/0" and emu.requests[-1].query == {"turn": "on"}
    state = await drv.get_state()
    assert state == DeviceState(
        on=True, sensors={"power_w": 12.5, "energy_kwh": 2.058, "temperature_c": 31.4}
    )
    await drv.set_power(False)
    assert emu.relays[0]["ison"] is False


async def test_light_brightness_and_colour(serve, http) -> None:
    emu = serve(ShellyGen1Emulator(mode="light"))
    drv = ShellyGen1Driver(device("shelly_gen1", emu, kind="light"), http, timeout_s=1.0)
    state = await drv.set_brightness(40)
    assert (state.on, state.brightness_pct) == (True, 40)
    assert emu.lights[0]["brightness"] == 40 and emu.lights[0]["ison"]
    assert emu.requests[-1].query == {"turn": "on", "brightness": "40"}
    state = await drv.set_color(rgb=(255, 0, 0))
    assert emu.requests[-1].path == "/color/0"
    assert state.rgb == (255, 0, 0)
    assert (await drv.set_brightness(0)).on is False


async def test_relay_has_no_brightness(serve, http) -> None:
    emu = serve(ShellyGen1Emulator())
    drv = ShellyGen1Driver(device("shelly_gen1", emu), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.set_brightness(50)
    assert err.value.code == "not_supported"
    assert emu.requests == []


async def test_basic_auth_right_and_wrong(serve, http) -> None:
    emu = serve(ShellyGen1Emulator(password="hunter22"))
    good = ShellyGen1Driver(device("shelly_gen1", emu, password="hunter22"), http, timeout_s=1.0)
    assert (await good.set_power(True)).on is True
    bad = ShellyGen1Driver(device("shelly_gen1", emu, password="wrong-pw"), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await bad.set_power(False)
    assert err.value.code == "unauthorized"
    assert "wrong-pw" not in str(err.value) and "hunter22" not in str(err.value)
    assert emu.relays[0]["ison"] is True  # the refused request changed nothing


async def test_bad_channel_and_wrong_mode_are_device_errors(serve, http) -> None:
    emu = serve(ShellyGen1Emulator())
    drv = ShellyGen1Driver(device("shelly_gen1", emu, channel=3), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.set_power(True)
    assert err.value.code == "device_error"
    light = ShellyGen1Driver(device("shelly_gen1", emu, kind="light"), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await light.set_power(True)
    assert err.value.code == "device_error" and emu.requests[-1].path == "/light/0"


@pytest.mark.parametrize(
    ("fault", "code"),
    [("hang", "timeout"), ("garbage_next", "bad_response"), ("fail_next", "device_error")],
)
async def test_faults_are_structured_within_the_timeout(serve, http, fault, code) -> None:
    emu = serve(ShellyGen1Emulator())
    setattr(emu, fault, True if fault == "hang" else 1)
    drv = ShellyGen1Driver(device("shelly_gen1", emu), http, timeout_s=0.5)
    start = time.monotonic()
    with pytest.raises(DeviceError) as err:
        await drv.set_power(True)
    assert err.value.code == code
    assert time.monotonic() - start < 1.0 * TIME_SCALE


async def test_read_is_retried_once_after_a_dropped_connection(serve, http) -> None:
    emu = serve(ShellyGen1Emulator())
    emu.drop_next = 1
    drv = ShellyGen1Driver(device("shelly_gen1", emu), http, timeout_s=1.0)
    assert (await drv.get_state()).on is False
    assert [r.path for r in emu.requests] == ["/status", "/status"]


async def test_write_is_not_retried(serve, http) -> None:
    emu = serve(ShellyGen1Emulator())
    emu.drop_next = 1
    drv = ShellyGen1Driver(device("shelly_gen1", emu), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.set_power(True)
    assert err.value.code == "unreachable"
    assert len(emu.requests) == 1


async def test_refused_connection_is_unreachable(http) -> None:
    drv = ShellyGen1Driver(device("shelly_gen1", None), http, timeout_s=0.5)
    with pytest.raises(DeviceError) as err:
        await drv.get_state()
    assert err.value.code == "unreachable"


async def test_timer_reverts(serve, http) -> None:
    emu = serve(ShellyGen1Emulator())
    drv = ShellyGen1Driver(device("shelly_gen1", emu), http, timeout_s=1.0)
    await http.get(emu.url + "/relay/0", params={"turn": "on", "timer": "0.05"})
    time.sleep(0.1)
    assert (await drv.get_state()).on is False
