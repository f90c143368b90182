"""Home Assistant REST API emulator (devices.md §6, §9).

Bearer-token check (401 plain text), `/api/`, `/api/states[/<id>]` (404 JSON body for unknown
entities), services that change state and return the changed states (or `[]` with
`quiet_services`), the 400 shapes, and `service_delay_ms`: a slow service that still completes
after the client gave up, as HA shields service calls from disconnects.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from typing import Any

from edge_agent.config import DeviceConfig
from edge_agent.sim.http import EmulatedHttpService, Request, Response

__all__ = ["HomeAssistantEmulator"]

_SWITCHES = ("light", "switch", "fan", "input_boolean")
_SERVICES: dict[str, dict[str, str | None]] = {
    # service -> resulting state (None: toggle)
    **{d: {"turn_on": "on", "turn_off": "off", "toggle": None} for d in _SWITCHES},
    "lock": {"lock": "locked", "unlock": "unlocked", "open": "open"},
    "cover": {"open_cover": "open", "close_cover": "closed", "stop_cover": "stopped"},
}
_SEED: dict[str, tuple[str, dict[str, Any]]] = {
    "light": ("off", {"supported_color_modes": ["color_temp", "rgb"], "brightness": None}),
    "switch": ("off", {}),
    "fan": ("off", {}),
    "input_boolean": ("off", {}),
    "lock": ("locked", {}),
    "cover": ("closed", {"current_position": 0, "device_class": "garage"}),
    "sensor": ("21.5", {"unit_of_measurement": "°C", "device_class": "temperature"}),
    "binary_sensor": ("off", {"device_class": "door"}),
}


class HomeAssistantEmulator(EmulatedHttpService):
    name = "homeassistant"

    def __init__(self, token: str = "emu-token") -> None:
        super().__init__()
        self.token = token
        self.quiet_services = False  # answer service calls with [] (state changes anyway)
        self.service_delay_ms = 0
        self.entities: dict[str, dict[str, Any]] = {}
        self.add(
            "sensor.outdoor_humidity", "55.0", unit_of_measurement="%", device_class="humidity"
        )
        self.add("sensor.plug_power", "12.5", unit_of_measurement="W", device_class="power")
        self.add("sensor.plug_energy", "1234", unit_of_measurement="Wh", device_class="energy")

    @classmethod
    def for_device(cls, dev: DeviceConfig) -> HomeAssistantEmulator:
        emu = cls(token=dev.token.reveal() or "emu-token")
        domain = dev.entity.partition(".")[0]
        if domain in _SEED:
            state, attrs = _SEED[domain]
            emu.add(dev.entity, state, friendly_name=dev.name, **attrs)
        return emu

    def add(self, entity_id: str, state: str, **attributes: Any) -> None:
        """Seed or replace an entity."""
        now = datetime.now(UTC).isoformat()
        self.entities[entity_id] = {
            "entity_id": entity_id,
            "state": state,
            "attributes": attributes,
            "last_changed": now,
            "last_updated": now,
            "context": {"id": f"ctx{len(self.entities):06d}", "parent_id": None, "user_id": None},
        }

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Response(401, "401: Unauthorized", {"Content-Type": "text/plain"})
        path = request.path
        if path == "/api/" and request.method == "GET":
            return Response(200, {"message": "API running."})
        if path == "/api/states" and request.method == "GET":
            return Response(200, copy.deepcopy(list(self.entities.values())))
        if path.startswith("/api/states/") and request.method == "GET":
            entity = self.entities.get(path.removeprefix("/api/states/"))
            if entity is None:
                return Response(404, {"message": "Entity not found."})
            return Response(200, copy.deepcopy(entity))
        if path.startswith("/api/services/") and request.method == "POST":
            domain, _, service = path.removeprefix("/api/services/").partition("/")
            return self._service(domain, service, request.body)
        return Response(404, "404: Not Found", {"Content-Type": "text/plain"})

    def _service(self, domain: str, service: str, body: bytes) -> Response:
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return Response(400, {"message": "Data should be valid JSON."})
        if service not in _SERVICES.get(domain, {}) or not isinstance(data, dict):
            return Response(400, "400: Bad Request", {"Content-Type": "text/plain"})
        pct = data.get("brightness_pct")
        if pct is not None and (not isinstance(pct, int | float) or not 0 <= pct <= 100):
            return Response(400, "400: Bad Request", {"Content-Type": "text/plain"})
        if self.service_delay_ms:
            time.sleep(self.service_delay_ms / 1000)  # the service runs on after we disconnect
        ids = data.get("entity_id")
        ids = [ids] if isinstance(ids, str) else ids if isinstance(ids, list) else []
        changed = [self._apply(domain, service, i, data) for i in ids if i in self.entities]
        return Response(200, [] if self.quiet_services else copy.deepcopy(changed))

    def _apply(self, domain: str, service: str, entity_id: str, data: dict[str, Any]) -> Any:
        entity = self.entities[entity_id]
        target = _SERVICES[domain][service]
        if target is None:
            target = "off" if entity["state"] == "on" else "on"
        entity["state"] = target
        attrs = entity["attributes"]
        if domain == "light":
            if target == "on":
                if "brightness_pct" in data:
                    attrs["brightness"] = round(data["brightness_pct"] * 255 / 100)
                elif attrs.get("brightness") is None:
                    attrs["brightness"] = 255
                if "rgb_color" in data:
                    attrs.update(rgb_color=list(data["rgb_color"]), color_mode="rgb")
                    attrs.pop("color_temp_kelvin", None)
                if "color_temp_kelvin" in data:
                    attrs.update(
                        color_temp_kelvin=data["color_temp_kelvin"], color_mode="color_temp"
                    )
                    attrs.pop("rgb_color", None)
            else:
                attrs["brightness"] = None
        if domain == "cover":
            attrs["current_position"] = 100 if target == "open" else 0
        entity["last_changed"] = entity["last_updated"] = datetime.now(UTC).isoformat()
        return entity
