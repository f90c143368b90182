"""Device emulators: one small real HTTP server per family (see `edge_agent.sim.http`).

Every emulator class has ``for_device(device: DeviceConfig)`` that seeds its auth and entities
from a config entry, so `edge-agent sim devices --config FILE` can serve the configured devices.
"""

from __future__ import annotations

import pkgutil
from typing import Final

from edge_agent.sim.http import EmulatedHttpService

__all__ = ["EMULATORS", "emulator_class"]

EMULATORS: Final[dict[str, str]] = {
    "shelly_gen1": "edge_agent.sim.devices.shelly_gen1:ShellyGen1Emulator",
    "shelly_gen2": "edge_agent.sim.devices.shelly_gen2:ShellyGen2Emulator",
    "tasmota": "edge_agent.sim.devices.tasmota:TasmotaEmulator",
    "wled": "edge_agent.sim.devices.wled:WledEmulator",
    "hue": "edge_agent.sim.devices.hue:HueEmulator",
    "homeassistant": "edge_agent.sim.devices.homeassistant:HomeAssistantEmulator",
    "esphome": "edge_agent.sim.devices.esphome:EsphomeEmulator",
}


def emulator_class(family: str) -> type[EmulatedHttpService]:
    cls: type[EmulatedHttpService] = pkgutil.resolve_name(EMULATORS[family])
    return cls
