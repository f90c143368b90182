"""A small configured home served by emulators, for the home, security and CLI tests."""

from __future__ import annotations

from pathlib import Path

from edge_agent.config import Config, DaemonConfig, DeviceConfig, Secret, ToolsConfig

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
