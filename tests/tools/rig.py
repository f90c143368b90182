"""A small configured home served by emulators, for the home, security and CLI tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge_agent.config import Config, DaemonConfig, DeviceConfig, Secret, ToolsConfig
from edge_agent.sim.devices.fleet import DeviceFleet
from edge_agent.sim.http import EmulatedHttpService
from edge_agent.tools.home import build_registry
from edge_agent.tools.registry import ToolRegistry

GARAGE_PW = "garage-secret-1"
HEATER_PW = "heater-secret-2"
PLUG_PW = "plug-secret-3"


def home_config(state_dir: Path) -> Config:
    def dev(name: str, family: str, **kw: object) -> DeviceConfig:
        return DeviceConfig(name=name, family=family, host="192.0.2.1", **kw)  # type: ignore[arg-type]

    devices = (
        dev("Kitchen light", "shelly_gen2", kind="light", area="Kitchen",
            aliases=("kitchen lamp",), actions=("power", "brightness", "read")),
        dev("Kitchen plug", "tasmota", kind="outlet", area="Kitchen",
            password=Secret(PLUG_PW)),
        dev("Living room lamp", "tasmota", kind="light", area="Living room",
            actions=("power", "brightness", "color", "read")),
        dev("Desk fan", "shelly_gen1", area="Office", actions=("power",)),
        dev("Heater", "shelly_gen2", area="Office", password=Secret(HEATER_PW)),
        dev("Garage door", "shelly_gen1", kind="garage", area="Garage",
            password=Secret(GARAGE_PW)),
    )  # fmt: skip
    return Config(
        daemon=DaemonConfig(state_dir=str(state_dir)),
        tools=ToolsConfig(timeout_s=3.0, http_timeout_s=0.8, confirm_timeout_s=30.0),
        devices=devices,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Home:
    """A registry over a fleet of emulators, called as the model would."""

    reg: ToolRegistry
    fleet: DeviceFleet
    clock: Clock

    async def call(self, name: str, **args: object) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(await self.reg.call(name, json.dumps(args)))
        return result

    async def confirmed(self, name: str, **args: object) -> dict[str, Any]:
        """Call, expect a confirmation request, let the user say yes, then confirm."""
        first = await self.call(name, **args)
        assert first["error"] == "confirmation_required"
        assert self.reg.wants_user_transcript()
        self.reg.new_user_turn()
        self.reg.user_transcript("Yes, please.")
        return await self.call("confirm_action", confirmation_id=first["confirmation_id"])

    def emu(self, name: str) -> Any:
        emu: EmulatedHttpService = self.fleet.emulators[name]
        return emu


@asynccontextmanager
async def serve_home(
    cfg: Config, http: httpx.AsyncClient, *, weather: bool = True
) -> AsyncIterator[Home]:
    """Emulators for `cfg`'s devices and the registry over them, closed afterwards."""
    with DeviceFleet(cfg, weather=weather) as fleet:
        clock = Clock()
        reg = build_registry(fleet.config, http, clock=clock)
        try:
            yield Home(reg, fleet, clock)
        finally:
            await reg.aclose()
