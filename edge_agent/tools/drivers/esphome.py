"""ESPHome `web_server` driver (devices.md §7): `device.entity` is "domain/Entity Name".

URLs are `/<domain>/<name>[/<action>]` with each segment URL-encoded (2026.1+ name URLs; a
sub-device entity is "domain/Device/Entity Name"). GET reads; POST acts and answers 200 with an
empty body, while the change happens later in the device's main loop, so a write reports the
requested state, marked unconfirmed (the home tools re-read it). Auth is optional: Arduino
builds challenge with Digest, ESP-IDF builds with Basic (until 2027.1 makes Digest the
default). The scheme is configured (``auth_scheme``, default digest), never taken from the
challenge: whoever answers at the device's address cannot downgrade us to Basic and read the
password; a Basic challenge to a digest device is ``unauthorized`` with nothing sent.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Final
from urllib.parse import quote

import httpx

from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.drivers.scales import (
    kelvin_to_mired,
    level_to_pct,
    mired_to_kelvin,
    pct_to_level,
    sensor_reading,
)
from edge_agent.tools.http import json_body

__all__ = ["EsphomeDriver"]

# domain -> (action for power on, action for power off)
_ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "switch": ("turn_on", "turn_off"),
    "light": ("turn_on", "turn_off"),
    "fan": ("turn_on", "turn_off"),
    "cover": ("open", "close"),
    "lock": ("lock", "unlock"),
}
_READ_ONLY: Final = frozenset({"sensor", "binary_sensor", "text_sensor"})
_ON: Final = frozenset({"ON", "OPEN", "LOCKED", "OPENING"})
_OFF: Final = frozenset({"OFF", "CLOSED", "UNLOCKED", "CLOSING"})


class EsphomeDriver(Driver):
    """One entity of an ESPHome node; brightness 0–255 ↔ %, kelvin → mired."""

    family: ClassVar[str] = "esphome"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        target = self.device.target  # parsed once at config load: no stray spaces, known domain
        self._segments = [target.domain, *target.path] if target is not None else []
        self._domain = self.device.domain

    def make_auth(self) -> httpx.Auth | None:
        password = self.device.password.reveal()
        if not password:
            return None
        user = self.device.username or "admin"
        if self.device.auth_scheme == "basic":
            return httpx.BasicAuth(user, password)
        return httpx.DigestAuth(user, password)  # answers Digest challenges only

    async def get_state(self) -> DeviceState:
        resp = await self._send("GET", "", None)
        data = json_body(resp)
        if not isinstance(data, dict):
            raise DeviceError("bad_response", "the device answered with an unexpected shape")
        return self._parse(data)

    async def set_power(self, on: bool) -> DeviceState:
        if self._domain not in _ACTIONS:
            raise DeviceError("not_supported", f"{self._domain} entities cannot be switched")
        await self._send("POST", _ACTIONS[self._domain][0 if on else 1], None)
        return DeviceState(on=on, confirmed=False)

    async def set_brightness(self, pct: int) -> DeviceState:
        self._need_light("brightness")
        if pct <= 0:
            return await self.set_power(False)
        await self._send("POST", "turn_on", {"brightness": pct_to_level(pct, 255)})
        return DeviceState(on=True, brightness_pct=min(pct, 100), confirmed=False)

    async def set_color(
        self, rgb: tuple[int, int, int] | None = None, kelvin: int | None = None
    ) -> DeviceState:
        self._need_light("colour")
        if rgb is not None:
            await self._send("POST", "turn_on", {"r": rgb[0], "g": rgb[1], "b": rgb[2]})
            return DeviceState(on=True, rgb=rgb, confirmed=False)
        if kelvin is not None:
            await self._send("POST", "turn_on", {"color_temp": kelvin_to_mired(kelvin)})
            return DeviceState(on=True, color_temp_k=kelvin, confirmed=False)
        raise DeviceError("not_supported", "give a colour or a colour temperature")

    def _need_light(self, what: str) -> None:
        if self._domain != "light":
            raise DeviceError("not_supported", f"{self._domain} entities have no {what}")

    def _path(self, action: str) -> str:
        segments = self._segments + ([action] if action else [])
        if len(self._segments) < 2:
            raise DeviceError("not_supported", "set entity to 'domain/Entity Name'")
        return "/" + "/".join(quote(s, safe="") for s in segments)

    async def _send(
        self, method: str, action: str, params: dict[str, int] | None
    ) -> httpx.Response:
        resp = await self.exchange.send(
            method,
            self._path(action),
            label=action or "state",
            params=params,
            idempotent=method == "GET",
        )
        if resp.status_code == 401:
            raise DeviceError("unauthorized", self._refusal(resp))
        if resp.status_code == 404:
            raise DeviceError(
                "device_error", "the device has no such entity or action; check entity"
            )
        if not 200 <= resp.status_code < 300:
            raise DeviceError("device_error", f"the device refused (http {resp.status_code})")
        return resp

    def _refusal(self, resp: httpx.Response) -> str:
        offered = {h.split(" ", 1)[0].lower() for h in resp.headers.get_list("www-authenticate")}
        if self.device.password and offered and self.device.auth_scheme not in offered:
            return (
                f"the device asked for {'/'.join(sorted(offered))} auth but auth_scheme = "
                f"'{self.device.auth_scheme}'; no credentials were sent (change auth_scheme "
                "only if the node's web_server really uses it)"
            )
        return "the device refused our credentials; check them"

    def _parse(self, data: dict[str, Any]) -> DeviceState:
        state, value = data.get("state"), data.get("value")
        if self._domain == "sensor":
            return _parse_sensor(state, value)
        if not isinstance(state, str):
            raise DeviceError("bad_response", "the entity state is missing")
        on = True if state in _ON else False if state in _OFF else None
        bri, color = data.get("brightness"), data.get("color")
        rgb: tuple[int, int, int] | None = None
        if isinstance(color, dict) and all(isinstance(color.get(k), int) for k in "rgb"):
            rgb = (color["r"], color["g"], color["b"])
        brightness_pct: int | None = None
        if self._domain == "light":
            brightness_pct = level_to_pct(bri, 255) if on and isinstance(bri, int) else 0
        mired = data.get("color_temp")
        kelvin = None
        if data.get("color_mode") == "color_temp" and isinstance(mired, int | float) and mired > 0:
            kelvin, rgb = mired_to_kelvin(mired), None
        return DeviceState(
            on=on,
            brightness_pct=brightness_pct if on is not None else None,
            rgb=rgb,
            color_temp_k=kelvin,
            raw_state=None if state in ("ON", "OFF") else state.lower(),
        )


def _parse_sensor(state: Any, value: Any) -> DeviceState:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return DeviceState(raw_state=str(state).lower() if state is not None else None)
    unit = state.partition(" ")[2] if isinstance(state, str) else ""
    reading = sensor_reading(value, unit)
    if reading is None:
        return DeviceState(raw_state=str(state))
    return DeviceState(sensors=dict([reading]))
