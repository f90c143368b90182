"""devices.md §8.8: action results say "requested" or "confirmed"; ESPHome, WLED and Home
Assistant states the device did not report are re-read once ~300 ms later, within the call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.config import Config, DaemonConfig, DeviceConfig, Secret, ToolsConfig
from edge_agent.tools.home import REREAD_DELAY_S

from .conftest import TIME_SCALE
from .rig import Home, serve_home

TOOL_TIMEOUT_S = 2.0
LIGHT = ("power", "brightness", "color", "read")


def _config(state_dir: Path) -> Config:
    def dev(name: str, family: str, **kw: object) -> DeviceConfig:
        return DeviceConfig(name=name, family=family, host="192.0.2.1", **kw)  # type: ignore[arg-type]

    devices = (
        dev("Porch light", "esphome", kind="light", entity="light/Porch Light", actions=LIGHT),
        dev("Porch fan", "esphome", entity="switch/Porch Fan", actions=("power",)),
        dev("Strip", "wled", kind="light", actions=LIGHT),
        dev("Hall light", "homeassistant", kind="light", entity="light.hall", actions=LIGHT,
            token=Secret("ha-token")),
        dev("Plug", "shelly_gen1", actions=("power", "read")),
    )  # fmt: skip
    return Config(
        daemon=DaemonConfig(state_dir=str(state_dir)),
        tools=ToolsConfig(timeout_s=TOOL_TIMEOUT_S, http_timeout_s=0.8),
        devices=devices,
    )


@pytest.fixture
async def home(tmp_path: Path, http) -> AsyncIterator[Home]:
    async with serve_home(_config(tmp_path), http, weather=False) as home:
        yield home


def _gets(emu) -> int:
    return sum(1 for r in emu.requests if r.method == "GET")


async def test_esphome_lag_is_confirmed_by_the_reread(home: Home) -> None:
    home.emu("Porch light").lag_ms = 100  # applied in the main loop, before our re-read
    started = time.monotonic()
    result = await home.call("set_light", device="porch light", brightness_pct=40)
    elapsed_s = time.monotonic() - started
    assert result == {
        "ok": True,
        "device": "Porch light",
        "state": {"on": True, "brightness_pct": 40, "rgb": [255, 255, 255]},
        "state_is": "confirmed",
    }
    assert _gets(home.emu("Porch light")) == 1
    assert REREAD_DELAY_S <= elapsed_s < TOOL_TIMEOUT_S * TIME_SCALE


async def test_esphome_longer_lag_stays_requested_within_the_call(home: Home) -> None:
    home.emu("Porch light").lag_ms = 1500  # not applied yet when we look again
    started = time.monotonic()
    result = await home.call("set_power", device="porch light", state="on")
    assert result == {
        "ok": True,
        "device": "Porch light",
        "state": {"on": True},
        "state_is": "requested",
    }
    assert _gets(home.emu("Porch light")) == 1
    assert time.monotonic() - started < TOOL_TIMEOUT_S * TIME_SCALE


async def test_no_reread_without_read_permission(home: Home) -> None:
    result = await home.call("set_power", device="porch fan", state="on")
    assert result["state_is"] == "requested" and _gets(home.emu("Porch fan")) == 0


async def test_slow_reread_ends_within_the_call(home: Home) -> None:
    emu = home.emu("Porch light")
    emu.lag_ms, emu.delay_ms = 0, 400  # write 0.4 s + 0.3 s + read 0.4 s < 2.0 s - margin
    started = time.monotonic()
    result = await home.call("set_power", device="porch light", state="on")
    assert result["state_is"] == "confirmed" and _gets(emu) == 1
    assert time.monotonic() - started < TOOL_TIMEOUT_S * TIME_SCALE


async def test_hung_reread_leaves_the_requested_state(home: Home) -> None:
    emu = home.emu("Porch light")
    emu.lag_ms = 0
    started = time.monotonic()
    call = asyncio.create_task(home.call("set_power", device="porch light", state="on"))
    await asyncio.sleep(REREAD_DELAY_S / 2)  # the write is done; the re-read not yet sent
    emu.hang = True
    result = await call
    assert result == {"ok": True, "device": "Porch light", "state": {"on": True},
                      "state_is": "requested"}  # fmt: skip
    assert emu.requests[0].method == "POST"  # the write was made; the read hung
    assert time.monotonic() - started < TOOL_TIMEOUT_S * TIME_SCALE


async def test_wled_success_only_answer_is_reread(home: Home) -> None:
    home.emu("Strip").ignore_v = True  # firmware before "v": {"success": true}
    result = await home.call("set_light", device="strip", brightness_pct=50)
    assert result["state_is"] == "confirmed"
    assert result["state"]["on"] is True and result["state"]["brightness_pct"] == 50
    home.emu("Strip").ignore_v = False
    result = await home.call("set_power", device="strip", state="off")
    assert result["state_is"] == "confirmed" and _gets(home.emu("Strip")) == 1


async def test_home_assistant_empty_answer_is_reread(home: Home) -> None:
    home.emu("Hall light").quiet_services = True  # answers [] though the state changed
    result = await home.call("set_power", device="hall light", state="on")
    assert result == {
        "ok": True,
        "device": "Hall light",
        "state": {"on": True, "brightness_pct": 100},
        "state_is": "confirmed",
    }
    assert _gets(home.emu("Hall light")) == 1


@pytest.mark.parametrize(("lag_ms", "state_is"), [(100, "confirmed"), (1500, "requested")])
async def test_home_assistant_lagging_integration(home: Home, lag_ms: int, state_is: str) -> None:
    emu = home.emu("Hall light")
    emu.changes.lag_ms = lag_ms  # the service answers [] and the light follows later
    result = await home.call("set_light", device="hall light", brightness_pct=30)
    assert (result["state_is"], result["state"]["brightness_pct"]) == (state_is, 30)
    assert _gets(emu) == 1
    assert (emu.entities["light.hall"]["state"] == "on") == (state_is == "confirmed")


async def test_reporting_families_are_confirmed_without_reread(home: Home) -> None:
    result = await home.call("set_power", device="plug", state="on")
    assert result == {"ok": True, "device": "Plug", "state": {"on": True}, "state_is": "confirmed"}
    assert len(home.emu("Plug").requests) == 1  # Gen1 writes are GETs: the write only
