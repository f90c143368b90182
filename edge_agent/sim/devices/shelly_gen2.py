"""A Shelly Gen2+ emulator (devices.md §2, §9): JSON-RPC in its three HTTP shapes, SHA-256 digest.

- ``GET /shelly`` and ``Shelly.GetDeviceInfo`` never need auth.
- ``GET /rpc/<M>?k=v``, ``POST /rpc/<M>`` (JSON params) → bare result; errors as bare
  ``{"code","message"}`` with `error_status` (500 like Mongoose OS, or 400 like 2026 firmware).
- ``POST /rpc`` frames → ``{"id","src","dst","result"|"error"}`` with HTTP 200.
- Digest (RFC 7616, SHA-256, user ``admin``, realm = device id): 401 with an empty body and the
  exact ``WWW-Authenticate`` header; nonces are deterministic counters, single-use unless
  `reuse_nonce` (fw ≥ 2.0 behaviour, rising ``nc``). `overload_next` answers 429 on the
  challenge path like fw 2.0.0.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from typing import Any

from edge_agent.config import DeviceConfig
from edge_agent.sim.devices.esp import EspHttpService
from edge_agent.sim.http import Request, Response

__all__ = ["ShellyGen2Emulator"]

_OPEN_METHODS = frozenset({"Shelly.GetDeviceInfo"})


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ShellyGen2Emulator(EspHttpService):
    """A Plus Plug S (switch mode) or a Plus dimmer (light mode)."""

    name = "shelly_gen2"

    def __init__(
        self,
        *,
        mode: str = "switch",
        channels: int = 1,
        password: str = "",
        device_id: str = "shellyplusplugs-aabbccddeeff",
        reuse_nonce: bool = True,
        error_status: int = 500,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.password = password
        self.device_id = device_id
        self.reuse_nonce = reuse_nonce
        self.error_status = error_status
        self.overload_next = 0
        self.switches = [
            {"id": i, "source": "init", "output": False, "apower": 0.0, "voltage": 227.9,
             "aenergy": {"total": 7258.589}, "temperature": {"tC": 32.1}}
            for i in range(channels)
        ]  # fmt: skip
        self.lights = [
            {"id": i, "source": "init", "output": False, "brightness": 50.0,
             "temperature": {"tC": 40.2}}
            for i in range(channels)
        ]  # fmt: skip
        self._next_nonce = 600
        self._nonces: dict[str, int] = {}  # nonce -> last nc seen
        self.auth_failures = 0

    @classmethod
    def for_device(cls, dev: DeviceConfig) -> ShellyGen2Emulator:
        return cls(
            mode="light" if dev.kind == "light" else "switch",
            channels=dev.channel + 1,
            password=dev.password.reveal(),
        )

    # -- HTTP ----------------------------------------------------------------------------------
    def route(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/shelly":
            return Response(200, self._device_info())
        if path == "/rpc" and request.method == "POST":
            return self._frame(request)
        if path.startswith("/rpc/"):
            method = path[len("/rpc/") :]
            if method not in _OPEN_METHODS and (denied := self._check_auth(request)):
                return denied
            try:
                params = self._params(request)
                return Response(200, self.call(method, params))
            except _RpcError as exc:
                status = exc.code if exc.code in (403, 404) else self.error_status
                return Response(status, {"code": exc.code, "message": exc.message})
        return Response(404, "Not Found")

    def _frame(self, request: Request) -> Response:
        try:
            frame = json.loads(request.body)
            method = str(frame["method"])
        except (ValueError, KeyError, TypeError):
            return Response(400, {"code": -103, "message": "Invalid frame"})
        if method not in _OPEN_METHODS and (denied := self._check_auth(request)):
            return denied
        out: dict[str, Any] = {"id": frame.get("id"), "src": self.device_id}
        if "src" in frame:
            out["dst"] = frame["src"]
        try:
            out["result"] = self.call(method, frame.get("params") or {})
        except _RpcError as exc:
            out["error"] = {"code": exc.code, "message": exc.message}
        return Response(200, out)

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        if request.method == "POST" and request.body:
            try:
                params = json.loads(request.body)
            except ValueError:
                raise _RpcError(-103, "Invalid JSON") from None
            if not isinstance(params, dict):
                raise _RpcError(-103, "Invalid params")
            return params
        out: dict[str, Any] = {}
        for key, value in request.query.items():
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
        return out

    # -- RPC -----------------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "Shelly.GetDeviceInfo":
            return self._device_info()
        if method == "Shelly.GetStatus":
            items = self.switches if self.mode == "switch" else self.lights
            kind = "switch" if self.mode == "switch" else "light"
            return {f"{kind}:{i['id']}": dict(i) for i in items} | {"sys": {"uptime": 100}}
        component, _, verb = method.partition(".")
        if component not in ("Switch", "Light") or verb not in ("GetStatus", "Set", "Toggle"):
            raise _RpcError(404, f"No handler for {method}")
        item = self._item(component, params)
        if verb == "GetStatus":
            return dict(item)
        was_on = item["output"]
        if verb == "Toggle":
            item["output"] = not was_on
        else:
            self._set(component, item, params)
        item["source"] = "HTTP_in"
        if component == "Switch":
            item["apower"] = 8.4 if item["output"] else 0.0
            return {"was_on": was_on}
        return {}

    def _item(self, component: str, params: dict[str, Any]) -> dict[str, Any]:
        if "id" not in params:
            raise _RpcError(-103, "Missing required 'id'")
        items = self.switches if component == "Switch" else self.lights
        if (component == "Switch") != (self.mode == "switch"):
            items = []
        ident = params["id"]
        if not isinstance(ident, int) or not 0 <= ident < len(items):
            raise _RpcError(-105, f"Bad id={ident}")
        return items[ident]

    @staticmethod
    def _set(component: str, item: dict[str, Any], params: dict[str, Any]) -> None:
        on, brightness = params.get("on"), params.get("brightness")
        if component == "Switch" and not isinstance(on, bool):
            raise _RpcError(-103, "Missing required 'on'")
        if on is None and brightness is None:
            raise _RpcError(-103, "Missing required 'on' or 'brightness'")
        if on is not None and not isinstance(on, bool):
            raise _RpcError(-103, "Invalid argument 'on'")
        if brightness is not None:
            if not isinstance(brightness, int | float) or not 0 <= brightness <= 100:
                raise _RpcError(-103, "Invalid argument 'brightness'")
            item["brightness"] = float(brightness)
        if on is not None:
            item["output"] = on

    def _device_info(self) -> dict[str, Any]:
        return {
            "id": self.device_id,
            "mac": "AABBCCDDEEFF",
            "slot": 0,
            "model": "SNPL-00112EU",
            "gen": 2,
            "fw_id": "20231219-134003/1.1.0-g34b5d4f",
            "ver": "1.1.0",
            "app": "PlusPlugS",
            "auth_en": bool(self.password),
            "auth_domain": self.device_id if self.password else None,
        }

    # -- digest auth ---------------------------------------------------------------------------
    def _check_auth(self, request: Request) -> Response | None:
        """None when authorized, else the 401 (or 429) answer."""
        if not self.password:
            return None
        header = request.headers.get("authorization", "")
        if header.startswith("Digest ") and self._valid(request, header[len("Digest ") :]):
            return None
        if header:
            self.auth_failures += 1
        if self.overload_next > 0:
            self.overload_next -= 1
            return Response(429, {"code": 429, "message": "Too many requests"})
        nonce = str(self._next_nonce)
        self._next_nonce += 1
        self._nonces[nonce] = 0
        challenge = (
            f'Digest qop="auth", realm="{self.device_id}", nonce="{nonce}", algorithm=SHA-256'
        )
        return Response(401, b"", {"WWW-Authenticate": challenge})

    def _valid(self, request: Request, header: str) -> bool:
        fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(header))
        nonce, nc_hex = fields.get("nonce", ""), fields.get("nc", "0")
        if nonce not in self._nonces or fields.get("username") != "admin":
            return False
        if fields.get("realm") != self.device_id or fields.get("algorithm") != "SHA-256":
            return False
        if fields.get("uri") != request.raw_path:
            return False
        nc = int(nc_hex, 16)
        if nc <= self._nonces[nonce]:
            return False  # replayed nc
        ha1 = _sha256(f"admin:{self.device_id}:{self.password}")
        ha2 = _sha256(f"{request.method}:{fields['uri']}")
        expected = _sha256(f"{ha1}:{nonce}:{nc_hex}:{fields.get('cnonce', '')}:auth:{ha2}")
        if fields.get("response") != expected:
            return False
        if self.reuse_nonce:
            self._nonces[nonce] = nc
        else:
            del self._nonces[nonce]
        return True


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
