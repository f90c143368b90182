"""EsphomeDriver against EsphomeEmulator over real HTTP (web_server, Basic and Digest)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from edge_agent.sim.devices.esphome import EsphomeEmulator
from edge_agent.tools.drivers.base import DeviceError
from edge_agent.tools.drivers.esphome import EsphomeDriver

from .conftest import device, on_port

PASSWORD = "esphome-web-secret-9012"


@pytest.fixture
def rig(serve, http):
    """make(entity, **kw) -> (driver, emulator); the emulator applies actions at once."""

    def make(entity: str, timeout_s: float = 1.0, **kw):
        dev = device("esphome", entity=entity, **kw)
        emu = serve(EsphomeEmulator.for_device(dev))
        emu.lag_ms = 0
        return EsphomeDriver(on_port(dev, emu), http, timeout_s=timeout_s), emu

    return make


async def test_light_on_off_brightness_colour(rig) -> None:
    driver, emu = rig("light/Living Room Lights")
    assert (await driver.set_power(True)).on is True
    req = emu.requests[-1]
    assert (req.method, req.raw_path) == ("POST", "/light/Living%20Room%20Lights/turn_on")
    assert req.body == b""
    assert emu.state_of("light/Living Room Lights")["state"] == "ON"
    state = await driver.set_brightness(40)
    assert emu.requests[-1].raw_path == "/light/Living%20Room%20Lights/turn_on?brightness=102"
    assert emu.state_of("light/Living Room Lights")["brightness"] == 102
    assert state.brightness_pct == 40
    await driver.set_color(rgb=(255, 0, 128))
    assert emu.requests[-1].query == {"r": "255", "g": "0", "b": "128"}
    assert emu.state_of("light/Living Room Lights")["color"] == {"r": 255, "g": 0, "b": 128}
    await driver.set_color(kelvin=4000)
    assert emu.requests[-1].query == {"color_temp": "250"}
    read = await driver.get_state()
    assert (read.on, read.brightness_pct, read.rgb, read.color_temp_k) == (True, 40, None, 4000)
    await driver.set_power(False)
    assert emu.requests[-1].path == "/light/Living Room Lights/turn_off"
    assert (await driver.get_state()).on is False


async def test_switch_and_sub_device_entity(rig) -> None:
    driver, emu = rig("switch/Garage Node/Heater")
    await driver.set_power(True)
    assert emu.requests[-1].raw_path == "/switch/Garage%20Node/Heater/turn_on"
    state = await driver.get_state()
    assert state.on is True and emu.state_of("switch/Garage Node/Heater")["value"] is True


async def test_name_with_slash_like_characters_is_encoded(rig) -> None:
    driver, emu = rig("switch/Pump 1?x=2#frag")
    await driver.set_power(True)
    assert emu.requests[-1].raw_path == "/switch/Pump%201%3Fx%3D2%23frag/turn_on"
    assert emu.state_of("switch/Pump 1?x=2#frag")["state"] == "ON"


async def test_state_lags_behind_the_post(rig) -> None:
    driver, emu = rig("switch/Heater")
    emu.lag_ms = 300
    assert (await driver.set_power(True)).on is True  # requested, not yet confirmed
    assert (await driver.get_state()).on is False  # the main loop has not run yet
    await asyncio.sleep(0.35)
    assert (await driver.get_state()).on is True


async def test_sensor_values_are_normalised(rig) -> None:
    driver, emu = rig("sensor/Outside Temperature")
    state = await driver.get_state()
    assert state.sensors == {"temperature_c": 19.767} and state.on is None
    assert emu.requests[-1].raw_path == "/sensor/Outside%20Temperature"
    emu.add("sensor/Outside Temperature", state="48.2 %", value=48.2)
    assert (await driver.get_state()).sensors == {"humidity_pct": 48.2}
    emu.add("sensor/Outside Temperature", state="1520 Wh", value=1520)
    assert (await driver.get_state()).sensors == {"energy_kwh": 1.52}
    emu.add("sensor/Outside Temperature", state="NA", value=None)
    assert (await driver.get_state()).raw_state == "unknown"  # free text never passes
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "not_supported"


async def test_cover_and_lock_mapping(rig) -> None:
    driver, emu = rig("cover/Garage Door")
    state = await driver.set_power(True)
    assert emu.requests[-1].path == "/cover/Garage Door/open" and state.on is True
    read = await driver.get_state()
    assert (read.on, read.raw_state) == (True, "open")
    driver, emu = rig("lock/Front Door")
    await driver.set_power(False)
    assert emu.requests[-1].path == "/lock/Front Door/unlock"
    assert (await driver.get_state()).raw_state == "unlocked"


@pytest.mark.parametrize(
    ("mode", "sent"), [("digest", ["", "Digest", "Digest"]), ("basic", ["Basic", "Basic"])]
)
async def test_auth_modes(rig, mode, sent) -> None:
    driver, emu = rig("switch/Heater", username="admin", password=PASSWORD, auth_scheme=mode)
    emu.auth_mode = mode
    await driver.set_power(True)
    await driver.set_power(False)
    assert emu.state_of("switch/Heater")["state"] == "OFF"
    statuses = [r.headers.get("authorization", "").split(" ")[0] for r in emu.requests]
    # digest: one unauthenticated probe, then the reused challenge; basic: configured, sent
    assert statuses == sent


async def test_a_basic_challenge_cannot_downgrade_a_digest_device(rig) -> None:
    """Whoever answers at the address asks for Basic: the password is never sent."""
    driver, emu = rig("switch/Heater", username="admin", password=PASSWORD)  # digest default
    emu.auth_mode = "basic"
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "unauthorized" and "auth_scheme" in err.value.detail
    assert [r.headers.get("authorization", "") for r in emu.requests] == [""]
    assert emu.state_of("switch/Heater")["state"] == "OFF"


async def test_wrong_password_is_unauthorized(rig) -> None:
    for mode in ("digest", "basic"):
        driver, emu = rig("switch/Heater", username="admin", password="wrong", auth_scheme=mode)
        emu.password = PASSWORD
        emu.auth_mode = mode
        with pytest.raises(DeviceError) as err:
            await driver.set_power(True)
        assert err.value.code == "unauthorized"
    assert emu.state_of("switch/Heater")["state"] == "OFF"
    emu.auth_mode = "digest"
    with pytest.raises(DeviceError) as err:
        await EsphomeDriver(
            device("esphome", entity="switch/Heater", port=emu.port), driver.http
        ).get_state()
    assert err.value.code == "unauthorized"


async def test_unknown_entity_is_device_error(rig) -> None:
    driver, emu = rig("switch/Heater")
    bad = EsphomeDriver(
        device("esphome", entity="switch/Nope", port=emu.port), driver.http, timeout_s=1.0
    )
    with pytest.raises(DeviceError) as err:
        await bad.set_power(True)
    assert err.value.code == "device_error" and "check entity" in err.value.detail


async def test_bad_entity_config_sends_nothing(rig) -> None:
    driver, emu = rig("switch/../../update")
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "not_supported" and emu.requests == []


async def test_legacy_object_id_urls(rig, http) -> None:
    _, emu = rig("sensor/Outside Temperature")
    resp = await http.get(emu.url + "/sensor/outside_temperature")
    assert resp.json()["id"] == "sensor/Outside Temperature"
    emu.legacy_object_id = False  # 2026.7.0 removed object_id matching
    assert (await http.get(emu.url + "/sensor/outside_temperature")).status_code == 404


async def test_timeout_garbage_and_server_error(rig) -> None:
    driver, emu = rig("switch/Heater", timeout_s=0.5)
    emu.garbage_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.get_state()
    assert err.value.code == "bad_response"
    emu.fail_next = 1
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "device_error"
    emu.delay_ms = 1000  # past the 0.5 s budget; the emulator's thread is free again sooner
    t0 = time.monotonic()
    with pytest.raises(DeviceError) as err:
        await driver.set_power(True)
    assert err.value.code == "timeout" and time.monotonic() - t0 < 0.9


async def test_colour_temperature_reads_back_in_kelvin(rig) -> None:
    driver, emu = rig("light/Desk Lamp")
    await driver.set_color(kelvin=2700)
    assert emu.requests[-1].query == {"color_temp": "370"}
    state = await driver.get_state()
    assert (state.color_temp_k, state.rgb) == (2700, None)


async def test_events_replay_every_state(rig, http) -> None:
    _, emu = rig("switch/Heater", username="admin", password=PASSWORD)
    emu.auth_mode = "none"
    resp = await http.get(emu.url + "/events")
    assert resp.headers["content-type"] == "text/event-stream"
    events = [block.split("\n") for block in resp.text.strip().split("\n\n")]
    assert [e[0] for e in events] == ["event: ping", "event: state", "event: state"]
    ids = {json.loads(e[1].removeprefix("data: "))["id"] for e in events[1:]}
    assert ids == {"sensor/Outside Temperature", "switch/Heater"}
