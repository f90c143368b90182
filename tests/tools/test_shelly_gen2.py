"""Shelly Gen2+ RPC driver against its emulator over real HTTP (SHA-256 digest auth)."""

from __future__ import annotations

import json
import time

import pytest

from edge_agent.sim.devices.shelly_gen2 import ShellyGen2Emulator
from edge_agent.tools.drivers.base import DeviceError, DeviceState
from edge_agent.tools.drivers.shelly_gen2 import ShellyGen2Driver

from .conftest import TIME_SCALE, device


async def test_switch_on_off_state(serve, http) -> None:
    emu = serve(ShellyGen2Emulator())
    drv = ShellyGen2Driver(device("shelly_gen2", emu), http, timeout_s=1.0)
    assert await drv.set_power(True) == DeviceState(on=True)
    assert emu.switches[0]["output"] is True
    last = emu.requests[-1]
    assert (last.method, last.path, json.loads(last.body)) == (
        "POST",
        "/rpc/Switch.Set",
        {"id": 0, "on": True},
    )
    state = await drv.get_state()
    assert state == DeviceState(
        on=True, sensors={"power_w": 8.4, "energy_kwh": 7.259, "temperature_c": 32.1}
    )
    await drv.set_power(False)
    assert emu.switches[0]["output"] is False


async def test_light_brightness(serve, http) -> None:
    emu = serve(ShellyGen2Emulator(mode="light"))
    drv = ShellyGen2Driver(device("shelly_gen2", emu, kind="light"), http, timeout_s=1.0)
    assert await drv.set_brightness(30) == DeviceState(on=True, brightness_pct=30)
    assert emu.lights[0] | {} == emu.lights[0] and emu.lights[0]["brightness"] == 30.0
    assert json.loads(emu.requests[-1].body) == {"id": 0, "on": True, "brightness": 30}
    assert (await drv.get_state()).brightness_pct == 30


async def test_digest_sha256_with_nonce_reuse(serve, http) -> None:
    emu = serve(ShellyGen2Emulator(password="s3cret-pw", reuse_nonce=True))
    drv = ShellyGen2Driver(device("shelly_gen2", emu, password="s3cret-pw"), http, timeout_s=1.0)
    await drv.set_power(True)
    await drv.set_power(False)
    auths = [r.headers.get("authorization", "") for r in emu.requests]
    assert auths[0] == ""  # the challenge round trip
    assert all("algorithm=SHA-256" in a and 'username="admin"' in a for a in auths[1:])
    assert len(emu.requests) == 3  # fw >= 2.0: the second call reuses the nonce (nc=2)
    assert "nc=00000002" in auths[2]
    assert emu.switches[0]["output"] is False and emu.auth_failures == 0


async def test_digest_per_request_nonce(serve, http) -> None:
    emu = serve(ShellyGen2Emulator(password="s3cret-pw", reuse_nonce=False))
    drv = ShellyGen2Driver(device("shelly_gen2", emu, password="s3cret-pw"), http, timeout_s=1.0)
    await drv.set_power(True)
    assert (await drv.get_state()).on is True


async def test_wrong_password_is_unauthorized(serve, http) -> None:
    emu = serve(ShellyGen2Emulator(password="s3cret-pw"))
    drv = ShellyGen2Driver(device("shelly_gen2", emu, password="nope-nope"), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.set_power(True)
    assert err.value.code == "unauthorized" and "nope" not in str(err.value)
    assert emu.switches[0]["output"] is False
    no_pw = ShellyGen2Driver(device("shelly_gen2", emu), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await no_pw.get_state()
    assert err.value.code == "unauthorized"


async def test_429_on_challenge_is_retried_once(serve, http) -> None:
    emu = serve(ShellyGen2Emulator(password="s3cret-pw"))
    emu.overload_next = 1
    drv = ShellyGen2Driver(device("shelly_gen2", emu, password="s3cret-pw"), http, timeout_s=1.0)
    assert (await drv.set_power(True)).on is True
    assert emu.switches[0]["output"] is True


@pytest.mark.parametrize("error_status", [500, 400])
async def test_rpc_errors_are_device_errors(serve, http, error_status) -> None:
    emu = serve(ShellyGen2Emulator(error_status=error_status))
    drv = ShellyGen2Driver(device("shelly_gen2", emu, channel=7), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.set_power(True)
    assert (err.value.code, err.value.detail) == ("device_error", "rpc error -105 (not found)")


async def test_light_rpc_on_a_switch_is_not_supported(serve, http) -> None:
    emu = serve(ShellyGen2Emulator())
    drv = ShellyGen2Driver(device("shelly_gen2", emu), http, timeout_s=1.0)
    with pytest.raises(DeviceError) as err:
        await drv.set_brightness(20)
    assert err.value.code == "not_supported" and emu.requests == []


@pytest.mark.parametrize(
    ("fault", "code"),
    [("hang", "timeout"), ("garbage_next", "bad_response"), ("fail_next", "device_error")],
)
async def test_faults(serve, http, fault, code) -> None:
    emu = serve(ShellyGen2Emulator())
    setattr(emu, fault, True if fault == "hang" else 1)
    drv = ShellyGen2Driver(device("shelly_gen2", emu), http, timeout_s=0.5)
    start = time.monotonic()
    with pytest.raises(DeviceError) as err:
        await drv.set_power(True)
    assert err.value.code == code
    assert time.monotonic() - start < 1.0 * TIME_SCALE


async def test_emulator_speaks_all_three_shapes(serve, http) -> None:
    emu = serve(ShellyGen2Emulator())
    r = await http.get(emu.url + "/rpc/Switch.Set", params={"id": "0", "on": "true"})
    assert r.json() == {"was_on": False}
    frame = {"id": 7, "src": "edge-agent", "method": "Switch.Set", "params": {"id": 0, "on": False}}
    r = await http.post(emu.url + "/rpc", json=frame)
    assert r.json() == {
        "id": 7,
        "src": "shellyplusplugs-aabbccddeeff",
        "dst": "edge-agent",
        "result": {"was_on": True},
    }
    r = await http.post(emu.url + "/rpc/Switch.Set", json={"on": True})
    assert (r.status_code, r.json()) == (500, {"code": -103, "message": "Missing required 'id'"})
    r = await http.get(emu.url + "/shelly")
    assert r.json()["gen"] == 2
