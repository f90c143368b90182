"""Lock safety: entity strings parsed once at config load, light actions kept off locks, brightness
0 is off, covers sensitive (issue 14 §2). Through `parse_config` and the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import Config, DaemonConfig, DeviceConfig, ToolsConfig, parse_config
from edge_agent.errors import ConfigError
from edge_agent.sim.devices.esphome import EsphomeEmulator
from edge_agent.sim.devices.homeassistant import HomeAssistantEmulator
from edge_agent.tools.home import build_registry


def toml(**device: Any) -> str:
    device = {"name": "Cellar door", "family": "esphome", "host": "192.0.2.7", **device}
    lines = [f"{k} = {json.dumps(v)}" for k, v in device.items()]
    return "[[devices]]\n" + "\n".join(lines) + "\n"


def load(text: str) -> Config:
    return parse_config(text, source="/etc/edge-agent/config.toml", require_api_key=False)


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ({"entity": " lock/Cellar"}, "devices[0].entity = ' lock/Cellar': expected 'domain/Entity"),
        ({"entity": "lock /Cellar"}, "no spaces around '/'"),
        ({"entity": "lock/Cellar "}, "no spaces around '/'"),
        ({"entity": "lock//Cellar"}, "no empty parts"),
        ({"entity": "Lock/Cellar"}, "unknown domain 'Lock'"),
        ({"entity": "door/Cellar"}, "unknown domain 'door'"),
        ({"family": "homeassistant", "entity": " lock.cellar"}, "expected a Home Assistant"),
        ({"family": "homeassistant", "entity": "Lock.cellar"}, "expected a Home Assistant"),
        ({"family": "homeassistant", "entity": "door.cellar"}, "unknown domain 'door'"),
        ({"family": "hue", "entity": "light/ 3"}, "expected 'light/<id>'"),
        ({"entity": "lock/Cellar", "kind": "lock", "actions": ["power", "brightness"]},
         "brightness is not allowed on kind 'lock'"),
        ({"entity": "light/Strike", "kind": "garage", "actions": ["color"]},
         "color is not allowed on kind 'garage'"),
        ({"family": "homeassistant", "entity": "lock.cellar", "actions": ["power", "brightness"]},
         "brightness is not allowed on a lock entity"),
    ],
)  # fmt: skip
def test_config_load_refuses(device: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(toml(**device))
    assert message in str(err.value) and "/etc/edge-agent/config.toml" in str(err.value)


def test_parsed_entity_is_what_every_check_reads() -> None:
    dev = load(toml(entity="lock/Cellar Door")).devices[0]
    assert (dev.domain, dev.target.path if dev.target else None) == ("lock", ("Cellar Door",))


def registry(tmp_path: Path, http: Any, *devices: DeviceConfig) -> Any:
    cfg = Config(daemon=DaemonConfig(state_dir=str(tmp_path)),
                 tools=ToolsConfig(enabled=("home",), http_timeout_s=1.0), devices=devices)  # fmt: skip
    return build_registry(cfg, http)


async def call(reg: Any, name: str, **args: Any) -> dict[str, Any]:
    return json.loads(await reg.call(name, json.dumps(args)))


@pytest.mark.parametrize("entity", [" lock/Cellar", "lock /Cellar"])
async def test_a_misspelt_lock_entity_never_unlocks(tmp_path, serve, http, entity) -> None:
    """Built around config load (as a tool source might): the driver refuses, nothing is sent."""
    emu = serve(EsphomeEmulator())
    emu.add("lock/Cellar")
    dev = DeviceConfig(name="Cellar", family="esphome", host="127.0.0.1", port=emu.port,
                       entity=entity)  # fmt: skip
    reg = registry(tmp_path, http, dev)
    result = await call(reg, "set_power", device="cellar", state="off")
    await reg.aclose()
    assert result["ok"] is False and result["error"] in ("not_supported", "not_allowed")
    assert emu.requests == [] and emu.state_of("lock/Cellar")["state"] == "LOCKED"


async def test_brightness_zero_on_a_lock_is_an_unlock(tmp_path, serve, http) -> None:
    emu = serve(EsphomeEmulator())
    emu.add("light/Strike")
    dev = DeviceConfig(name="Door strike", family="esphome", host="127.0.0.1", port=emu.port,
                       entity="light/Strike", kind="lock", actions=("power", "brightness"))  # fmt: skip
    reg = registry(tmp_path, http, dev)
    result = await call(reg, "set_light", device="door strike", brightness_pct=0)
    await reg.aclose()
    assert result["error"] == "not_allowed" and "allow_unlock" in result["detail"]
    assert emu.requests == []


async def test_brightness_zero_is_asked_as_switch_off(tmp_path, serve, http) -> None:
    emu = serve(EsphomeEmulator())
    emu.add("light/Aquarium")
    dev = DeviceConfig(name="Aquarium", family="esphome", host="127.0.0.1", port=emu.port,
                       entity="light/Aquarium", sensitive=True,
                       actions=("power", "brightness"))  # fmt: skip
    reg = registry(tmp_path, http, dev)
    result = await call(reg, "set_light", device="aquarium", brightness_pct=0)
    await reg.aclose()
    assert (result["error"], result["say"]) == ("confirmation_required", "Switch off Aquarium?")


@pytest.mark.parametrize(("family", "entity"), [("homeassistant", "cover.gate"),
                                                ("esphome", "cover/Gate")])  # fmt: skip
async def test_covers_need_confirmation(tmp_path, serve, http, family, entity) -> None:
    dev = DeviceConfig(name="Gate", family=family, host="127.0.0.1", entity=entity)  # type: ignore[arg-type]
    emu = serve(HomeAssistantEmulator.for_device(dev) if family == "homeassistant"
                else EsphomeEmulator.for_device(dev))  # fmt: skip
    dev = DeviceConfig(name="Gate", family=family, host="127.0.0.1", entity=entity,  # type: ignore[arg-type]
                       port=emu.port)  # fmt: skip
    reg = registry(tmp_path, http, dev)
    listed = await call(reg, "list_devices")
    result = await call(reg, "set_power", device="gate", state="on")
    await reg.aclose()
    assert listed["devices"][0]["needs_confirmation"] is True
    assert result["error"] == "confirmation_required" and result["say"] == "Switch on Gate?"
    assert [r for r in emu.requests if r.method == "POST"] == []
