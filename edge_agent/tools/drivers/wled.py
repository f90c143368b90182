"""WLED JSON API driver (devices.md §4): `/json/state` GET to read, POST to set.

Writes send `"v": true` so the answer is the new state; older firmware answers
`{"success": true}` instead, and then the requested state is reported. `device.channel` is the
segment id. Never sends `"on": "t"` (toggle), `rb`, `psave` or anything under `/json/cfg`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.drivers.scales import kelvin_to_rgb, level_to_pct, pct_to_level
from edge_agent.tools.http import json_body, maybe_json

__all__ = ["WledDriver"]

# WLED `{"error": N}` codes (wled00/json.cpp, const.h ERR_*).
_ERRORS: dict[int, str] = {
    1: "the device needs its settings pin for this",
    3: "the device is busy; try again",
    4: "this firmware does not support the request",
    9: "the device rejected the request as malformed",
}


class WledDriver(Driver):
    """A WLED controller; brightness 0–255 ↔ %, colour on segment `device.channel`."""

    family: ClassVar[str] = "wled"

    async def get_state(self) -> DeviceState:
        resp = await self.exchange.send(
            "GET", "/json/state", label="state", idempotent=True, retry_statuses=(503,)
        )
        return self._parse_state(self._checked(resp))

    async def set_power(self, on: bool) -> DeviceState:
        return await self._post({"on": on}, DeviceState(on=on))

    async def set_brightness(self, pct: int) -> DeviceState:
        if pct <= 0:
            return await self.set_power(False)
        return await self._post(
            {"on": True, "bri": pct_to_level(pct, 255)},
            DeviceState(on=True, brightness_pct=min(pct, 100)),
        )

    async def set_color(
        self, rgb: tuple[int, int, int] | None = None, kelvin: int | None = None
    ) -> DeviceState:
        if rgb is None and kelvin is None:
            raise DeviceError("not_supported", "give a colour or a colour temperature")
        color = rgb if rgb is not None else kelvin_to_rgb(kelvin or 0)
        body = {"on": True, "seg": [{"id": self.device.channel, "col": [list(color)]}]}
        return await self._post(body, DeviceState(on=True, rgb=tuple(color)))  # type: ignore[arg-type]

    async def _post(self, body: dict[str, Any], requested: DeviceState) -> DeviceState:
        # 503 {"error":3} means the JSON buffer was busy and nothing was applied: safe to resend.
        resp = await self.exchange.send(
            "POST", "/json/state", label="state", json={**body, "v": True}, retry_statuses=(503,)
        )
        data = self._checked(resp)
        if data.get("success") is True and "on" not in data:
            return requested.requested()  # firmware before "v": applied, but not reported
        return self._parse_state(data)

    def _checked(self, resp: httpx.Response) -> dict[str, Any]:
        ok_status = 200 <= resp.status_code < 300
        if not ok_status and maybe_json(resp) is None:
            raise DeviceError("device_error", f"the device refused (http {resp.status_code})")
        data = json_body(resp)
        if not isinstance(data, dict):
            raise DeviceError("bad_response", "the device answered with an unexpected shape")
        if "error" in data or not ok_status:
            code = data.get("error")
            if resp.status_code == 401 or code == 1:
                raise DeviceError("unauthorized", _ERRORS[1])
            detail = _ERRORS.get(code, "") if isinstance(code, int) else ""
            raise DeviceError(
                "device_error", detail or f"the device refused (http {resp.status_code})"
            )
        return data

    def _parse_state(self, data: dict[str, Any]) -> DeviceState:
        on, bri = data.get("on"), data.get("bri")
        if not isinstance(on, bool) or not isinstance(bri, int):
            raise DeviceError("bad_response", "the device state lacks on/bri")
        rgb: tuple[int, int, int] | None = None
        for seg in data.get("seg") or []:
            if isinstance(seg, dict) and seg.get("id", 0) == self.device.channel:
                rgb = _first_color(seg.get("col"))
                break
        return DeviceState(on=on, brightness_pct=level_to_pct(bri, 255) if on else 0, rgb=rgb)


def _first_color(col: Any) -> tuple[int, int, int] | None:
    if isinstance(col, list) and col and isinstance(col[0], list) and len(col[0]) >= 3:
        r, g, b = col[0][:3]
        if all(isinstance(c, int) for c in (r, g, b)):
            return (r, g, b)
    return None
