"""Philips Hue bridge API v1 driver (devices.md §5).

Target: a light (`device.channel` = light id, or `entity = "light/<id>"`) or a group
(`entity = "group/<id>"`, 0 = all lights). `device.token` is the bridge username; it sits in
the URL path, so nothing here logs a URL. The bridge answers errors with HTTP 200 and an array of
`{"error": {...}}`, possibly mixed with successes: success is judged by the body. Every PUT that
changes brightness or colour carries `"on": true`, which avoids error 201 (not modifiable while off).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import httpx

from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.drivers.scales import (
    hs_to_rgb,
    kelvin_to_mired,
    level_to_pct,
    mired_to_kelvin,
    pct_to_level,
    rgb_to_xy,
    xy_to_rgb,
)
from edge_agent.tools.http import json_body
from edge_agent.tools.sanitize import finite_number

__all__ = ["HueDriver"]

_RETRY = (429, 503)  # bridge overloaded: nothing applied, one retry (devices.md §8.5)


class _RedactUsernames(logging.Filter):
    """httpx logs each request URL at INFO, and a v1 URL carries the bridge username: mask it."""

    def __init__(self) -> None:
        super().__init__()
        self.usernames: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and self.usernames:
            record.args = tuple(self._mask(arg) for arg in record.args)
        return True

    def _mask(self, arg: object) -> object:
        if not isinstance(arg, httpx.URL | str):
            return arg
        text = str(arg)
        for username in self.usernames:
            text = text.replace(username, "***")
        return text


_REDACT = _RedactUsernames()


class HueDriver(Driver):
    """One Hue light or group behind a bridge; brightness 1–254 ↔ %, kelvin ↔ mired."""

    family: ClassVar[str] = "hue"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exchange.min_interval_s = 0.25  # aiohue spaces bridge requests
        if self.device.token:
            _REDACT.usernames.add(self.device.token.reveal())
            httpx_log = logging.getLogger("httpx")
            if _REDACT not in httpx_log.filters:
                httpx_log.addFilter(_REDACT)
        target = self.device.target  # parsed once at config load
        if target is not None:
            self._kind, self._id = target.domain, target.path[0]
        elif not self.device.entity and self.device.channel > 0:
            self._kind, self._id = "light", str(self.device.channel)
        else:
            self._kind, self._id = "", ""

    async def get_state(self) -> DeviceState:
        path = f"/lights/{self._id}" if self._kind == "light" else f"/groups/{self._id}"
        data = await self._call("GET", path, None)
        if not isinstance(data, dict):
            raise DeviceError("bad_response", "the bridge answered with an unexpected shape")
        return _parse_light(data) if self._kind == "light" else _parse_group(data)

    async def set_power(self, on: bool) -> DeviceState:
        return await self._put({"on": on}, DeviceState(on=on))

    async def set_brightness(self, pct: int) -> DeviceState:
        if pct <= 0:
            return await self.set_power(False)
        return await self._put(
            {"on": True, "bri": pct_to_level(pct, 254)},
            DeviceState(on=True, brightness_pct=min(pct, 100)),
        )

    async def set_color(
        self, rgb: tuple[int, int, int] | None = None, kelvin: int | None = None
    ) -> DeviceState:
        if rgb is not None:
            x, y = rgb_to_xy(rgb)
            return await self._put({"on": True, "xy": [x, y]}, DeviceState(on=True, rgb=rgb))
        if kelvin is not None:
            mired = kelvin_to_mired(kelvin)
            requested = DeviceState(on=True, color_temp_k=mired_to_kelvin(mired))
            return await self._put({"on": True, "ct": mired}, requested)
        raise DeviceError("not_supported", "give a colour or a colour temperature")

    async def _put(self, body: dict[str, Any], requested: DeviceState) -> DeviceState:
        path = (
            f"/lights/{self._id}/state" if self._kind == "light" else f"/groups/{self._id}/action"
        )
        data = await self._call("PUT", path, body)
        if not isinstance(data, list) or not any(
            isinstance(item, dict) and "success" in item for item in data
        ):
            raise DeviceError("bad_response", "the bridge confirmed nothing")
        return requested

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        if not self._kind:
            raise DeviceError(
                "not_supported", "set channel to the hue light id or entity to 'group/<id>'"
            )
        username = self.device.token.reveal()
        if not username:
            raise DeviceError("unauthorized", "no hue username configured; pair with the bridge")
        resp = await self.exchange.send(
            method,
            f"/api/{username}{path}",
            label=f"{self._kind}/{self._id}",
            json=body,
            idempotent=method == "GET",
            retry_statuses=_RETRY,
        )
        _check_status(resp)
        data = json_body(resp)
        _raise_first_error(data)
        return data


def _check_status(resp: httpx.Response) -> None:
    if resp.status_code in (401, 403):
        raise DeviceError("unauthorized", "the bridge refused our username; pair again")
    if resp.status_code in _RETRY:
        raise DeviceError("device_error", "the bridge is overloaded; try again shortly")
    if not 200 <= resp.status_code < 300:
        raise DeviceError("device_error", f"the bridge refused (http {resp.status_code})")


# Hue v1 error types (developers.meethue.com "Error messages").
_ERROR_DETAILS: dict[int, str] = {
    2: "the bridge could not parse the request",
    3: "the light or group is not on the bridge; check channel/entity",
    5: "the bridge missed a parameter",
    6: "the light does not support that setting",
    7: "the light rejected the value as out of range",
    201: "the light is off and cannot change that now",
    901: "the bridge had an internal error",
}


def _raise_first_error(data: Any) -> None:
    if not isinstance(data, list):
        return
    for item in data:
        err = item.get("error") if isinstance(item, dict) else None
        if isinstance(err, dict):
            kind = err.get("type")
            if kind == 1:
                raise DeviceError("unauthorized", "the bridge refused our username; pair again")
            detail = _ERROR_DETAILS.get(kind, "") if isinstance(kind, int) else ""
            raise DeviceError("device_error", detail or "the bridge reported an error")


def _parse_light(data: dict[str, Any]) -> DeviceState:
    state = data.get("state")
    if not isinstance(state, dict) or not isinstance(state.get("on"), bool):
        raise DeviceError("bad_response", "the light state lacks 'on'")
    return _parse_action(state, state["on"], unreachable=state.get("reachable") is False)


def _parse_group(data: dict[str, Any]) -> DeviceState:
    summary, action = data.get("state"), data.get("action")
    if not isinstance(summary, dict) or not isinstance(action, dict):
        raise DeviceError("bad_response", "the group lacks state/action")
    return _parse_action(action, bool(summary.get("any_on")), unreachable=False)


def _parse_action(state: dict[str, Any], on: bool, unreachable: bool) -> DeviceState:
    bri, mode = state.get("bri"), state.get("colormode")
    rgb: tuple[int, int, int] | None = None
    kelvin: int | None = None
    if mode == "ct" and isinstance(state.get("ct"), int):
        kelvin = mired_to_kelvin(state["ct"])
    elif mode == "xy" and isinstance(state.get("xy"), list) and len(state["xy"]) == 2:
        x, y = (finite_number(v) for v in state["xy"])
        rgb = xy_to_rgb((float(x), float(y))) if x is not None and y is not None else None
    elif mode == "hs" and isinstance(state.get("hue"), int) and isinstance(state.get("sat"), int):
        rgb = hs_to_rgb(state["hue"], state["sat"])
    return DeviceState(
        on=on,
        brightness_pct=(level_to_pct(bri, 254) if on else 0) if isinstance(bri, int) else None,
        rgb=rgb,
        color_temp_k=kelvin,
        raw_state="unavailable" if unreachable else None,
    )
