"""Tasmota (``GET /cm?cmnd=…``): relays, dimmers, colour and white lights, sensors.

Wire (devices.md §3). Commands come only from these templates, filled with typed integers:
``Power<n> ON|OFF``, ``Dimmer <0..100>``, ``Color <r>,<g>,<b>``, ``CT <153..500>``, ``Status 0``.
Nothing else (Backlog, WebSend, Rule, SetOption…) can be built. Tasmota answers errors with 200:
``{"Command":"Unknown"}``, ``{"WARNING":"Need user=…"}`` (401 on current builds, 200 on old),
so success is judged by the body. Auth: HTTP Basic (user ``admin``), never the query form
(query passwords end up in logs). We send ``Referer: http://<host>/`` because builds since
15.4.0.2 refuse ``/cm`` without it unless ``SetOption128 1``; they answer nothing then.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.http import json_body, send

__all__ = ["TasmotaDriver"]


class TasmotaDriver(Driver):
    """One Tasmota relay (`channel` 0 = ``Power``, n = ``Power<n>``) and its light, if any."""

    family: ClassVar[str] = "tasmota"

    @property
    def _power_key(self) -> str:
        return f"POWER{self.device.channel}" if self.device.channel else "POWER"

    async def _command(self, cmnd: str, *, read: bool) -> dict[str, Any]:
        auth = None
        if self.device.password:
            auth = httpx.BasicAuth(self.device.username or "admin", self.device.password.reveal())
        try:
            response = await send(
                self.http,
                "GET",
                self.base_url + "/cm",
                params={"cmnd": cmnd},
                headers={"Referer": f"http://{self.device.host}/"},
                auth=auth,
                timeout_s=self.timeout_s,
                idempotent=read,
            )
        except DeviceError as exc:
            if exc.code == "unreachable" and "closed" in exc.detail:
                raise DeviceError(
                    "device_error",
                    "the device closed the connection without answering "
                    "(Tasmota >= 15.4 needs SetOption128 1 for the HTTP API)",
                ) from None
            raise
        if response.status_code == 401:
            raise DeviceError("unauthorized", "the device refused our credentials")
        if response.status_code >= 300:
            raise DeviceError("device_error", f"HTTP {response.status_code}")
        body = json_body(response)
        if not isinstance(body, dict):
            raise DeviceError("bad_response", "answer is not a JSON object")
        warning = body.get("WARNING")
        if isinstance(warning, str) and warning.startswith("Need user="):
            raise DeviceError("unauthorized", "the device refused our credentials")
        if body.get("Command") == "Unknown" or warning is not None:
            raise DeviceError("device_error", "the device did not accept the command")
        return body

    async def get_state(self) -> DeviceState:
        status = await self._command("Status 0", read=True)
        sts = status.get("StatusSTS")
        if not isinstance(sts, dict):
            raise DeviceError("bad_response", "status has no StatusSTS")
        sns = status.get("StatusSNS")
        return _state(sts, _sensors(sns if isinstance(sns, dict) else {}), self._power_key)

    async def set_power(self, on: bool) -> DeviceState:
        n = self.device.channel or ""
        answer = await self._command(f"Power{n} {'ON' if on else 'OFF'}", read=False)
        return _state(answer, {}, self._power_key)

    async def set_brightness(self, pct: int) -> DeviceState:
        if pct <= 0:
            return await self.set_power(False)
        answer = await self._command(f"Dimmer {int(pct)}", read=False)
        if "Dimmer" not in answer:
            raise DeviceError("not_supported", "this Tasmota device has no dimmer")
        return _state(answer, {}, self._power_key)

    async def set_color(
        self, rgb: tuple[int, int, int] | None = None, kelvin: int | None = None
    ) -> DeviceState:
        if rgb is not None:
            red, green, blue = (max(0, min(255, int(c))) for c in rgb)
            answer = await self._command(f"Color {red},{green},{blue}", read=False)
            key = "Color"
        elif kelvin is not None:
            mired = max(153, min(500, round(1_000_000 / kelvin)))
            answer = await self._command(f"CT {mired}", read=False)
            key = "CT"
        else:
            raise DeviceError("not_supported", "give a colour or a colour temperature")
        if key not in answer:
            raise DeviceError("not_supported", f"this Tasmota device has no {key}")
        return _state(answer, {}, self._power_key)


def _state(body: dict[str, Any], sensors: dict[str, float], power_key: str) -> DeviceState:
    power = body.get(power_key, body.get("POWER1") if power_key == "POWER" else None)
    if power not in ("ON", "OFF"):
        raise DeviceError("bad_response", f"answer has no {power_key}")
    dimmer = body.get("Dimmer")
    ct = body.get("CT")
    return DeviceState(
        on=power == "ON",
        brightness_pct=dimmer if isinstance(dimmer, int) else None,
        rgb=_rgb(body.get("Color")),
        color_temp_k=round(1_000_000 / ct) if isinstance(ct, int) and ct > 0 else None,
        sensors=sensors,
    )


def _rgb(color: object) -> tuple[int, int, int] | None:
    """Tasmota reports ``Color`` as hex ``"FF0000"`` (or more channels) or ``"255,0,0"``."""
    if not isinstance(color, str):
        return None
    try:
        if "," in color:
            parts = [int(p) for p in color.split(",")[:3]]
        else:
            parts = [int(color[i : i + 2], 16) for i in (0, 2, 4)]
    except ValueError:
        return None
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def _sensors(sns: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    fahrenheit = sns.get("TempUnit") == "F"
    for value in sns.values():
        if not isinstance(value, dict):
            continue
        for key, name in (("Temperature", "temperature_c"), ("Humidity", "humidity_pct")):
            reading = value.get(key)
            if isinstance(reading, int | float) and name not in out:
                out[name] = (
                    round((reading - 32) * 5 / 9, 1)
                    if key == "Temperature" and fahrenheit
                    else float(reading)
                )
    energy = sns.get("ENERGY")
    if isinstance(energy, dict):
        if isinstance(energy.get("Power"), int | float):
            out["power_w"] = float(energy["Power"])
        if isinstance(energy.get("Total"), int | float):
            out["energy_kwh"] = float(energy["Total"])
    return out
