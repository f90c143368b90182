"""Home Assistant REST API driver (devices.md §6): one entity per configured device.

Reads `GET /api/states/<entity>`; acts with `POST /api/services/<domain>/<service>`. Service
calls are never retried: HA shields them from client disconnects, so after a timeout the call may
still complete ("state unknown"). Locks and covers follow HA's Assist convention (devices.md §8):
power on = lock / open, power off = unlock / close. Sensor states become normalised `sensors`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import httpx

from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.drivers.scales import level_to_pct, mired_to_kelvin, sensor_reading
from edge_agent.tools.http import json_body
from edge_agent.tools.sanitize import finite_number

__all__ = ["HomeAssistantDriver"]

_TOGGLEABLE: Final = frozenset(
    {
        "light",
        "switch",
        "fan",
        "input_boolean",
        "automation",
        "humidifier",
        "media_player",
        "climate",
        "water_heater",
        "siren",
        "remote",
        "vacuum",
    }
)
# domain -> (service for on, service for off)
_SERVICES: Final[dict[str, tuple[str, str]]] = {
    "lock": ("lock", "unlock"),
    "cover": ("open_cover", "close_cover"),
    "valve": ("open_valve", "close_valve"),
}
_ON_STATES: Final = frozenset({"on", "locked", "locking", "open", "opening", "home", "playing"})
_OFF_STATES: Final = frozenset({"off", "unlocked", "unlocking", "closed", "closing", "idle"})


class HomeAssistantDriver(Driver):
    """One HA entity (`device.entity`), bearer token `device.token`, default port 8123."""

    family: ClassVar[str] = "homeassistant"
    default_port: ClassVar[int] = 8123
    default_tls_port: ClassVar[int] = 8123

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._domain = self.device.domain  # parsed once at config load

    async def get_state(self) -> DeviceState:
        resp = await self._send("GET", f"/api/states/{self._entity()}", None)
        data = json_body(resp)
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            raise DeviceError("bad_response", "home assistant answered with an unexpected shape")
        return self._parse(data)

    async def set_power(self, on: bool) -> DeviceState:
        if self._domain in _SERVICES:
            service = _SERVICES[self._domain][0 if on else 1]
        elif self._domain in _TOGGLEABLE:
            service = "turn_on" if on else "turn_off"
        else:
            raise DeviceError("not_supported", f"{self._domain} entities cannot be switched")
        return await self._call(service, {}, DeviceState(on=on))

    async def set_brightness(self, pct: int) -> DeviceState:
        self._need_light("brightness")
        if pct <= 0:
            return await self._call("turn_off", {}, DeviceState(on=False))
        pct = min(pct, 100)
        return await self._call(
            "turn_on", {"brightness_pct": pct}, DeviceState(on=True, brightness_pct=pct)
        )

    async def set_color(
        self, rgb: tuple[int, int, int] | None = None, kelvin: int | None = None
    ) -> DeviceState:
        self._need_light("colour")
        if rgb is not None:
            return await self._call(
                "turn_on", {"rgb_color": list(rgb)}, DeviceState(on=True, rgb=rgb)
            )
        if kelvin is not None:
            return await self._call(
                "turn_on", {"color_temp_kelvin": kelvin}, DeviceState(on=True, color_temp_k=kelvin)
            )
        raise DeviceError("not_supported", "give a colour or a colour temperature")

    def _need_light(self, what: str) -> None:
        if self._domain != "light":
            raise DeviceError("not_supported", f"{self._domain} entities have no {what}")

    def _entity(self) -> str:
        target = self.device.target
        if target is None:
            raise DeviceError(
                "not_supported", "set entity to a home assistant entity_id like 'light.kitchen'"
            )
        return f"{target.domain}.{target.path[0]}"

    async def _call(
        self, service: str, data: dict[str, Any], requested: DeviceState
    ) -> DeviceState:
        body = {"entity_id": self._entity(), **data}
        resp = await self._send("POST", f"/api/services/{self._domain}/{service}", body)
        changed = json_body(resp)
        if not isinstance(changed, list):
            raise DeviceError("bad_response", "home assistant answered with an unexpected shape")
        for item in changed:  # the states changed by this call; may be [] and still succeed
            if isinstance(item, dict) and item.get("entity_id") == body["entity_id"]:
                return self._parse(item)
        return requested.requested()

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        token = self.device.token.reveal()
        if not token:
            raise DeviceError("unauthorized", "no home assistant token configured")
        resp = await self.exchange.send(
            method,
            path,
            label=path.rpartition("/")[2] if method == "POST" else "state",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            idempotent=method == "GET",
        )
        if resp.status_code in (401, 403):
            raise DeviceError("unauthorized", "home assistant refused the token; create a new one")
        if resp.status_code == 404:
            raise DeviceError(
                "device_error", "home assistant does not know this entity; check entity"
            )
        if resp.status_code == 400:
            raise DeviceError("device_error", "home assistant rejected the request")
        if not 200 <= resp.status_code < 300:
            raise DeviceError("device_error", f"home assistant failed (http {resp.status_code})")
        return resp

    def _parse(self, data: dict[str, Any]) -> DeviceState:
        state = str(data.get("state", "")).strip().lower()
        attrs = data.get("attributes")
        attrs = attrs if isinstance(attrs, dict) else {}
        if self._domain == "sensor":
            return _parse_sensor(state, attrs)
        on = True if state in _ON_STATES else False if state in _OFF_STATES else None
        bri, rgb = finite_number(attrs.get("brightness")), attrs.get("rgb_color")
        brightness_pct: int | None = None
        if self._domain == "light" and on is False:
            brightness_pct = 0
        elif on and bri is not None:
            brightness_pct = level_to_pct(bri, 255)
        return DeviceState(  # DeviceState drops what is not a finite number in range
            on=on,
            brightness_pct=brightness_pct,
            rgb=tuple(rgb[:3]) if isinstance(rgb, list) and len(rgb) >= 3 else None,  # type: ignore[arg-type]
            color_temp_k=_kelvin(attrs),
            raw_state=None if state in ("on", "off") else state,
        )


def _kelvin(attrs: dict[str, Any]) -> int | None:
    kelvin, mired = (
        finite_number(attrs.get("color_temp_kelvin")),
        finite_number(attrs.get("color_temp")),
    )
    if kelvin is not None:
        return round(kelvin)
    if mired is not None:  # mired, before HA 2025.3
        return mired_to_kelvin(mired)
    return None


def _parse_sensor(state: str, attrs: dict[str, Any]) -> DeviceState:
    try:
        value = finite_number(float(state))
    except ValueError:
        value = None
    if value is None:
        return DeviceState(raw_state=state)  # "unavailable", "unknown" or a text sensor
    unit = str(attrs.get("unit_of_measurement", ""))
    if unit == "%" and attrs.get("device_class") not in (None, "humidity"):
        return DeviceState(raw_state=state)  # a battery or other percentage, not humidity
    reading = sensor_reading(value, unit)
    if reading is None:
        return DeviceState(raw_state=state)
    return DeviceState(sensors=dict([reading]))
