"""WledDriver against WledEmulator over real HTTP."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from edge_agent.sim.devices.wled import WledEmulator
from edge_agent.tools.drivers.base import DeviceError
from edge_agent.tools.drivers.wled import WledDriver
from tests.tools_drivers.conftest import device, on_port


@pytest.fixture
def emu(serve) -> WledEmulator:
    return serve(WledEmulator.for_device(device("wled", channel=1)))


@pytest.fixture
def driver(emu: WledEmulator, http: httpx.AsyncClient) -> WledDriver:
    return WledDriver(on_port(device("wled", channel=1), emu), http, timeout_s=1.0)


def last_body(emu: WledEmulator) -> dict:
    return json.loads(emu.requests[-1].body)


async def test_power_on_off_sets_state_and_sends_explicit_on(driver, emu) -> None:
    state = await driver.set_power(True)
    assert state.on is True and emu.state["on"] is True
    req = emu.requests[-1]
    assert (req.method, req.path) == ("POST", "/json/state")
    assert last_body(emu) == {"on": True, "v": True}
    state = await driver.set_power(False)
    assert state.on is False and emu.state["on"] is False
    assert last_body(emu)["on"] is False  # never the "t" toggle


async def test_brightness_percent_maps_to_0_255(driver, emu) -> None:
    state = await driver.set_brightness(40)
    assert last_body(emu) == {"on": True, "bri": 102, "v": True}
    assert emu.state["bri"] == 102 and emu.state["on"] is True
    assert state.brightness_pct == 40
    await driver.set_brightness(0)
    assert emu.state["on"] is False


async def test_color_goes_to_configured_segment(driver, emu) -> None:
    state = await driver.set_color(rgb=(255, 0, 10))
    assert last_body(emu)["seg"] == [{"id": 1, "col": [[255, 0, 10]]}]
    assert emu.state["seg"][1]["col"][0] == [255, 0, 10]
    assert emu.state["seg"][0]["col"][0] == [255, 160, 0]
    assert state.rgb == (255, 0, 10)
    warm = await driver.set_color(kelvin=2700)
    r, g, b = warm.rgb
    assert r == 255 and g < 200 and b < g  # warm white is red-heavy


async def test_get_state_reads_json_state(driver, emu) -> None:
    emu.state.update(on=True, bri=255)
    state = await driver.get_state()
    assert (state.on, state.brightness_pct, state.rgb) == (True, 100, (255, 160, 0))
    assert (emu.requests[-1].method, emu.requests[-1].path) == ("GET", "/json/state")


async def test_old_firmware_success_answer_reports_requested_state(driver, emu) -> None:
    emu.ignore_v = True
    state = await driver.set_power(True)
    assert state.on is True and emu.state["on"] is True


async def test_busy_503_is_retried_once_after_retry_after(driver, emu) -> None:
    emu.busy_next = 1
    t0 = time.monotonic()
    with pytest.raises(DeviceError):  # Retry-After 1 s leaves no time in a 1 s budget
        await driver.set_power(True)
    assert time.monotonic() - t0 < 1.5
    emu.busy_next = 1
    driver.timeout_s = 2.5
    state = await driver.set_power(True)
    assert state.on is True
    assert [r.method for r in emu.requests[-2:]] == ["POST", "POST"]


async def test_busy_twice_is_device_error(driver, emu) -> None:
    driver.timeout_s = 2.5
    emu.busy_next = 2
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "device_error" and "busy" in err.value.detail
    assert len(emu.requests) == 2


async def test_server_error_and_garbage(driver, emu) -> None:
    emu.fail_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "device_error"
    emu.garbage_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.get_state()
    assert err.value.code == "bad_response"


async def test_hang_times_out_within_budget(driver, emu) -> None:
    emu.hang = True
    t0 = time.monotonic()
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    elapsed = time.monotonic() - t0
    assert err.value.code == "timeout" and 0.9 < elapsed < 1.4


async def test_read_retries_once_after_dropped_connection(driver, emu) -> None:
    emu.drop_next = 1
    state = await driver.get_state()
    assert state.on is False
    assert [r.path for r in emu.requests] == ["/json/state", "/json/state"]


async def test_write_is_not_retried_after_dropped_connection(driver, emu) -> None:
    emu.drop_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "unreachable" and len(emu.requests) == 1


async def test_refused_connection_is_unreachable(http) -> None:
    emu = WledEmulator().start()
    port = emu.port
    emu.stop()
    drv = WledDriver(device("wled", port=port), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.get_state()
    assert err.value.code == "unreachable"


async def test_emulator_error_shapes(emu, http) -> None:
    bad = await http.post(emu.url + "/json/state", content=b"{nope")
    assert (bad.status_code, bad.json()) == (400, {"error": 9})
    unknown = await http.get(emu.url + "/json/nodes2")
    assert (unknown.status_code, unknown.json()) == (501, {"error": 4})
    emu.busy_next = 1
    busy = await http.get(emu.url + "/json/state")
    assert (busy.status_code, busy.json(), busy.headers["retry-after"]) == (503, {"error": 3}, "1")
    toggled = await http.post(emu.url + "/json/state", json={"on": "t", "v": True})
    assert toggled.json()["on"] is True
    info = await http.get(emu.url + "/json/info")
    assert info.json()["brand"] == "WLED"


async def test_invalid_host_is_unreachable_not_a_crash(http) -> None:
    drv = WledDriver(device("wled", host="bad host name"), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.get_state()
    assert err.value.code == "unreachable"
