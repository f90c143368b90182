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

from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.drivers.scales import put_number
from edge_agent.tools.http import json_object, maybe_json
from edge_agent.tools.sanitize import finite_number

__all__ = ["ShellyGen2Driver"]


class ShellyGen2Driver(Driver):
    """A Gen2+ switch (kind switch/outlet: ``Switch.*``) or light (kind light: ``Light.*``)."""

    family: ClassVar[str] = "shelly_gen2"

    def make_auth(self) -> httpx.Auth | None:
        # One DigestAuth per device keeps the last challenge, so fw ≥ 2.0 skips the 401 trip.
        if not self.device.password:
            return None
        return httpx.DigestAuth("admin", self.device.password.reveal())

    @property
    def _component(self) -> str:
        return "Light" if self.device.kind == "light" else "Switch"

    async def _rpc(self, method: str, params: dict[str, Any], *, read: bool) -> dict[str, Any]:
        # 429 (fw 2.0.0, on the challenge path) executed nothing: one retry, writes included.
        response = await self.exchange.send(
            "POST", f"/rpc/{method}", label=method, json=params, idempotent=read,
            retry_statuses=(429,),
        )  # fmt: skip
        if response.status_code == 401:
            raise DeviceError("unauthorized", "the device refused our credentials")
        if response.status_code == 429:
            raise DeviceError("device_error", "the device is overloaded (429); try again")
        if response.status_code >= 300:
            raise DeviceError(
                "device_error", _rpc_error(maybe_json(response), response.status_code)
            )
        body = json_object(response)
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
        put_number(sensors, "power_w", status.get("apower"))
        energy = status.get("aenergy")
        if isinstance(energy, dict) and isinstance(energy.get("total"), int | float):
            sensors["energy_kwh"] = round(energy["total"] / 1000, 3)  # Gen2 counts Wh
        temperature = status.get("temperature")
        if isinstance(temperature, dict):
            put_number(sensors, "temperature_c", temperature.get("tC"))
        brightness = finite_number(status.get("brightness"))
        return DeviceState(
            on=output,
            brightness_pct=round(brightness) if brightness is not None else None,
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
