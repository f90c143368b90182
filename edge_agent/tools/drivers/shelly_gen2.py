"""Shelly Gen2/Gen3/Gen4 (JSON-RPC over HTTP): switches and lights.

Wire (devices.md §2): ``POST /rpc/<Method>`` with a JSON params body, answered by the bare
result (``Switch.Set`` → ``{"was_on":false}``). Methods used: ``Switch.GetStatus``,
``Switch.Set``, ``Light.GetStatus``, ``Light.Set`` — from fixed templates, never a method name
from the model. Errors: any non-2xx carries ``{"code","message"}`` or ``{"error":{...}}``
(-103 invalid argument, -105 not found, …); firmware answers 500 or 400 for them.
Auth: RFC 7616 digest with SHA-256, user ``admin`` (httpx.DigestAuth does the round trip and
reuses the nonce with a rising ``nc`` where fw ≥ 2.0 allows it). 429 (fw 2.0.0 on the
challenge path) is retried once, also for writes: an overloaded answer executed nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from edge_agent.config import DeviceConfig
from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.http import json_body, send

__all__ = ["ShellyGen2Driver"]


class ShellyGen2Driver(Driver):
    """A Gen2+ switch (kind switch/outlet: ``Switch.*``) or light (kind light: ``Light.*``)."""

    family: ClassVar[str] = "shelly_gen2"

    def __init__(
        self, device: DeviceConfig, http: httpx.AsyncClient, timeout_s: float = 2.5
    ) -> None:
        super().__init__(device, http, timeout_s)
        # One DigestAuth per device keeps the last challenge, so fw ≥ 2.0 skips the 401 trip.
        self._auth = (
            httpx.DigestAuth("admin", device.password.reveal()) if device.password else None
        )

    @property
    def _component(self) -> str:
        return "Light" if self.device.kind == "light" else "Switch"

    async def _rpc(self, method: str, params: dict[str, Any], *, read: bool) -> dict[str, Any]:
        response = await send(
            self.http,
            "POST",
            f"{self.base_url}/rpc/{method}",
            json=params,
            auth=self._auth,
            timeout_s=self.timeout_s,
            idempotent=read,
            retry_overload=True,
        )
        if response.status_code == 401:
            raise DeviceError("unauthorized", "the device refused our credentials")
        if response.status_code == 429:
            raise DeviceError("device_error", "the device is overloaded (429); try again")
        if response.status_code >= 300:
            raise DeviceError(
                "device_error", _rpc_error(_maybe_json(response), response.status_code)
            )
        body = json_body(response)
        if not isinstance(body, dict):
            raise DeviceError("bad_response", "answer is not a JSON object")
        if isinstance(body.get("error"), dict):  # a frame-shaped error with HTTP 200
            raise DeviceError("device_error", _rpc_error(body, response.status_code))
        return body

    async def get_state(self) -> DeviceState:
        status = await self._rpc(
            f"{self._component}.GetStatus", {"id": self.device.channel}, read=True
        )
        output = status.get("output")
        if not isinstance(output, bool):
            raise DeviceError("bad_response", "status has no 'output'")
        sensors: dict[str, float] = {}
        _put(sensors, "power_w", status.get("apower"))
        energy = status.get("aenergy")
        if isinstance(energy, dict) and isinstance(energy.get("total"), int | float):
            sensors["energy_kwh"] = round(energy["total"] / 1000, 3)  # Gen2 counts Wh
        temperature = status.get("temperature")
        if isinstance(temperature, dict):
            _put(sensors, "temperature_c", temperature.get("tC"))
        brightness = status.get("brightness")
        return DeviceState(
            on=output,
            brightness_pct=round(brightness) if isinstance(brightness, int | float) else None,
            sensors=sensors,
        )

    async def set_power(self, on: bool) -> DeviceState:
        await self._rpc(f"{self._component}.Set", {"id": self.device.channel, "on": on}, read=False)
        return DeviceState(on=on)

    async def set_brightness(self, pct: int) -> DeviceState:
        if self._component != "Light":
            return await super().set_brightness(pct)
        params: dict[str, Any] = {"id": self.device.channel, "on": pct > 0}
        if pct > 0:
            params["brightness"] = pct
        await self._rpc("Light.Set", params, read=False)
        return DeviceState(on=pct > 0, brightness_pct=pct if pct > 0 else None)


def _maybe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _rpc_error(body: Any, status: int) -> str:
    err = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("code"), int):
        meaning = _RPC_CODES.get(err["code"], "error")
        return f"rpc error {err['code']} ({meaning})"
    return f"HTTP {status}"


_RPC_CODES = {
    -103: "invalid argument",
    -104: "deadline exceeded",
    -105: "not found",
    -108: "resource exhausted",
    -114: "unavailable",
    404: "no such method",
}


def _put(out: dict[str, float], key: str, value: object) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        out[key] = float(value)
