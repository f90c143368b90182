"""Shelly Gen1 ("classic" ESP8266 HTTP API): relays, dimmers and colour bulbs.

Wire (devices.md §1): ``GET /status`` (``relays[]``, ``lights[]``, ``meters[]``, ``tmp``),
``GET /relay/<n>?turn=on|off``, ``GET /light/<n>?turn=on&brightness=1..100``,
``GET /color/<n>?turn=on&red=&green=&blue=&gain=``. Writes are GETs, so they are never retried.
Auth: HTTP Basic when the device has ``auth:true``; 401 otherwise. Errors: 400 wrong mode or
value, 404 bad channel, plain-text bodies. ``/settings`` is never read (old firmware echoes the
password there).
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.http import json_body, send

__all__ = ["ShellyGen1Driver"]


class ShellyGen1Driver(Driver):
    """A Shelly Gen1 relay (kind switch/outlet) or light (kind light, `/light/<n>`)."""

    family: ClassVar[str] = "shelly_gen1"

    @property
    def _is_light(self) -> bool:
        return self.device.kind == "light"

    def _auth(self) -> httpx.BasicAuth | None:
        if not self.device.password:
            return None
        return httpx.BasicAuth(self.device.username or "admin", self.device.password.reveal())

    async def _get(self, path: str, params: dict[str, Any], *, read: bool) -> dict[str, Any]:
        response = await send(
            self.http,
            "GET",
            self.base_url + path,
            params=params,
            auth=self._auth(),
            timeout_s=self.timeout_s,
            idempotent=read,
        )
        if response.status_code == 401:
            raise DeviceError("unauthorized", "the device refused our credentials")
        if response.status_code == 404:
            raise DeviceError("device_error", f"the device has no channel {self.device.channel}")
        if response.status_code == 400:
            raise DeviceError("device_error", "the device refused the request (wrong mode?)")
        if response.status_code >= 300:
            raise DeviceError("device_error", f"HTTP {response.status_code}")
        body = json_body(response)
        if not isinstance(body, dict):
            raise DeviceError("bad_response", "answer is not a JSON object")
        return body

    async def get_state(self) -> DeviceState:
        status = await self._get("/status", {}, read=True)
        ch = self.device.channel
        items = status.get("lights" if self._is_light else "relays")
        if not isinstance(items, list) or ch >= len(items) or not isinstance(items[ch], dict):
            raise DeviceError("bad_response", f"status has no channel {ch}")
        sensors: dict[str, float] = {}
        meters = status.get("meters")
        if isinstance(meters, list) and ch < len(meters) and isinstance(meters[ch], dict):
            _put(sensors, "power_w", meters[ch].get("power"))
            total_wmin = meters[ch].get("total")  # Gen1 meters count watt-minutes
            if isinstance(total_wmin, int | float):
                sensors["energy_kwh"] = round(total_wmin / 60000, 3)
        tmp = status.get("tmp")
        if isinstance(tmp, dict) and tmp.get("is_valid", True):
            _put(sensors, "temperature_c", tmp.get("tC"))
        return _state(items[ch], sensors)

    async def set_power(self, on: bool) -> DeviceState:
        kind = "light" if self._is_light else "relay"
        answer = await self._get(
            f"/{kind}/{self.device.channel}", {"turn": "on" if on else "off"}, read=False
        )
        return _state(answer, {})

    async def set_brightness(self, pct: int) -> DeviceState:
        if not self._is_light:
            return await super().set_brightness(pct)
        params: dict[str, Any] = {"turn": "off"} if pct <= 0 else {"turn": "on", "brightness": pct}
        answer = await self._get(f"/light/{self.device.channel}", params, read=False)
        return _state(answer, {})

    async def set_color(
        self, rgb: tuple[int, int, int] | None = None, kelvin: int | None = None
    ) -> DeviceState:
        if not self._is_light or rgb is None:
            return await super().set_color(rgb, kelvin)
        red, green, blue = rgb
        params = {"turn": "on", "red": red, "green": green, "blue": blue, "gain": 100}
        answer = await self._get(f"/color/{self.device.channel}", params, read=False)
        return _state(answer, {})


def _state(item: dict[str, Any], sensors: dict[str, float]) -> DeviceState:
    ison = item.get("ison")
    if not isinstance(ison, bool):
        raise DeviceError("bad_response", "answer has no 'ison'")
    brightness = item.get("brightness")
    rgb = None
    if all(isinstance(item.get(k), int) for k in ("red", "green", "blue")):
        rgb = (item["red"], item["green"], item["blue"])
    return DeviceState(
        on=ison,
        brightness_pct=brightness if isinstance(brightness, int) else None,
        rgb=rgb,
        sensors=sensors,
    )


def _put(out: dict[str, float], key: str, value: object) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        out[key] = float(value)
