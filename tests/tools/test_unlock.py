"""devices.md §8.4: unlock/disarm stay off unless enabled per device (`allow_unlock`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.config import Config, DaemonConfig, DeviceConfig, Secret, ToolsConfig
from edge_agent.tools.home import is_unlock

from .rig import Home, serve_home


def _config(state_dir: Path) -> Config:
    def dev(name: str, family: str, **kw: object) -> DeviceConfig:
        return DeviceConfig(name=name, family=family, host="192.0.2.1", **kw)  # type: ignore[arg-type]

    devices = (
        dev("Front door", "homeassistant", kind="lock", entity="lock.front_door",
            token=Secret("ha-token-1")),
        dev("Back door", "homeassistant", kind="lock", entity="lock.back_door",
            token=Secret("ha-token-2"), allow_unlock=True),
        dev("Shed lock", "esphome", entity="lock/Shed Lock"),  # kind switch, lock entity
        dev("Alarm", "shelly_gen1", kind="alarm"),
        dev("Garage door", "shelly_gen1", kind="garage"),
    )  # fmt: skip
    return Config(
        daemon=DaemonConfig(state_dir=str(state_dir)),
        tools=ToolsConfig(timeout_s=3.0, http_timeout_s=0.8),
        devices=devices,
    )


@pytest.fixture
async def home(tmp_path: Path, http) -> AsyncIterator[Home]:
    async with serve_home(_config(tmp_path), http, weather=False) as home:
        yield home


def test_which_actions_count_as_unlock() -> None:
    lock = DeviceConfig(name="l", family="shelly_gen1", host="h", kind="lock")
    esp = DeviceConfig(name="e", family="esphome", host="h", entity="lock/Front")
    hue = DeviceConfig(name="h", family="hue", host="h", entity="light/3")
    garage = DeviceConfig(name="g", family="shelly_gen1", host="h", kind="garage")
    assert [is_unlock(d, False) for d in (lock, esp, hue, garage)] == [True, True, False, False]
    assert [is_unlock(d, True) for d in (lock, esp, hue, garage)] == [False] * 4


@pytest.mark.parametrize("name", ["front door", "shed lock", "alarm"])
async def test_unlock_and_disarm_refused_by_default(home: Home, name: str) -> None:
    result = await home.call("set_power", device=name, state="off")
    assert result["ok"] is False and result["error"] == "not_allowed"
    assert "allow_unlock" in result["detail"] and "confirmation_id" not in result
    assert all(emu.requests == [] for emu in home.fleet.emulators.values())


async def test_locking_still_works_with_confirmation(home: Home) -> None:
    done = await home.confirmed("set_power", device="front door", state="on")
    assert done["ok"] is True and done["state"]["state"] == "locked"
    shed = await home.confirmed("set_power", device="shed lock", state="on")
    assert shed["ok"] is True


async def test_allow_unlock_unlocks_after_confirmation(home: Home) -> None:
    emu = home.fleet.emulators["Back door"]
    done = await home.confirmed("set_power", device="back door", state="off")
    assert done["ok"] is True and done["state"]["state"] == "unlocked"
    assert emu.entities["lock.back_door"]["state"] == "unlocked"  # type: ignore[attr-defined]


async def test_garage_opens_after_confirmation_without_flag(home: Home) -> None:
    emu = home.fleet.emulators["Garage door"]
    done = await home.confirmed("set_power", device="garage door", state="on")
    assert done["ok"] is True
    assert emu.relays[0]["ison"] is True  # type: ignore[attr-defined]
