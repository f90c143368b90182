"""One driver per smart-home device family, all behind `base.Driver`.

`DRIVERS` maps a config `family` to "module:Class"; `driver_class` imports it on demand so only
the families in use are loaded.
"""

from __future__ import annotations

import pkgutil
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from edge_agent.tools.drivers.base import Driver

__all__ = ["DRIVERS", "driver_class"]

DRIVERS: Final[dict[str, str]] = {
    "shelly_gen1": "edge_agent.tools.drivers.shelly_gen1:ShellyGen1Driver",
    "shelly_gen2": "edge_agent.tools.drivers.shelly_gen2:ShellyGen2Driver",
    "tasmota": "edge_agent.tools.drivers.tasmota:TasmotaDriver",
    "wled": "edge_agent.tools.drivers.wled:WledDriver",
    "hue": "edge_agent.tools.drivers.hue:HueDriver",
    "homeassistant": "edge_agent.tools.drivers.homeassistant:HomeAssistantDriver",
    "esphome": "edge_agent.tools.drivers.esphome:EsphomeDriver",
}


def driver_class(family: str) -> type[Driver]:
    cls: type[Driver] = pkgutil.resolve_name(DRIVERS[family])
    return cls
