"""A Tasmota emulator (devices.md §3, §9): ``/cm`` commands, Basic/query auth, the Referer gate.

Commands (case-insensitive): ``Power[<n>] [ON|OFF|TOGGLE|1|0]``, ``Dimmer [n]``,
``Color [r,g,b|#RRGGBB]``, ``CT [153..500]``, ``Status 0|10|11``; anything else answers 200
``{"Command":"Unknown"}``. Auth (when `password` is set): Basic first, then ``?user=&password=``;
failure → 401 ``{"WARNING":"Need user=…"}`` (200 with `legacy_auth_200`, like old builds).
`referer_gate` imitates 15.4.0.2+ without ``SetOption128 1``: a request whose Referer does not
start with ``http://<host>`` gets no answer (the connection is closed).
"""

from __future__ import annotations

import base64
import contextlib
import re
from typing import Any

from edge_agent.config import DeviceConfig
from edge_agent.sim.devices.esp import EspHttpService
from edge_agent.sim.http import Request, Response

__all__ = ["TasmotaEmulator"]

_NEED_AUTH = {"WARNING": "Need user=<username>&password=<password>"}


class _Dropped(Exception):
    """Answer nothing (the Referer gate)."""


class TasmotaEmulator(EspHttpService):
    """A Tasmota plug or bulb with `relays` outputs; `light` adds Dimmer/Color/CT."""

    name = "tasmota"

    def __init__(
        self,
        *,
        relays: int = 1,
        light: bool = False,
        password: str = "",
        legacy_auth_200: bool = False,
        referer_gate: bool = False,
        hostname: str = "127.0.0.1",
    ) -> None:
        super().__init__()
        self.power = ["OFF"] * relays
        self.light = light
        self.dimmer = 100
        self.color = (255, 255, 255)
        self.ct = 300
        self.password = password
        self.legacy_auth_200 = legacy_auth_200
        self.referer_gate = referer_gate
        self.hostname = hostname
        self.sensors: dict[str, Any] = {
            "ENERGY": {"Power": 5, "Voltage": 233, "Current": 0.021, "Total": 3.705},
            "AM2301": {"Temperature": 15.5, "Humidity": 50.6},
            "TempUnit": "C",
        }
        self.commands: list[str] = []

    @classmethod
    def for_device(cls, dev: DeviceConfig) -> TasmotaEmulator:
        return cls(
            relays=max(1, dev.channel),
            light=dev.kind == "light",
            password=dev.password.reveal(),
        )

    def _dispatch(self, h: Any) -> None:
        # The Referer gate answers nothing at all: close before the base class writes.
        referer = h.headers.get("Referer") or ""
        if self.referer_gate and h.path.startswith("/cm"):
            host_ok = referer.startswith(f"http://{self.hostname}")
            if not host_ok:
                with self.lock:
                    self.commands.append("<referer denied>")
                with contextlib.suppress(OSError):
                    h.connection.shutdown(2)
                h.close_connection = True
                return
        super()._dispatch(h)

    def route(self, request: Request) -> Response:
        if request.path != "/cm":
            return Response(
                404, "File Not Found\n\nURI: " + request.path, {"Content-Type": "text/plain"}
            )
        if not self._authorized(request):
            return Response(200 if self.legacy_auth_200 else 401, dict(_NEED_AUTH))
        cmnd = request.query.get("cmnd", "").strip()
        self.commands.append(cmnd)
        if not cmnd:
            return Response(200, {"WARNING": "Enter command cmnd="})
        name, _, arg = cmnd.partition(" ")
        return Response(200, self._run(name.lower(), arg.strip()))

    def _authorized(self, request: Request) -> bool:
        if not self.password:
            return True
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            with contextlib.suppress(ValueError):
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                return user == "admin" and pw == self.password
            return False
        q = request.query
        return q.get("user") == "admin" and q.get("password") == self.password

    # -- commands ------------------------------------------------------------------------------
    def _run(self, name: str, arg: str) -> dict[str, Any]:
        if m := re.fullmatch(r"power(\d?)", name):
            return self._power(int(m.group(1) or 1), arg.lower())
        if name == "status":
            return self._status(arg)
        if self.light and name in ("dimmer", "color", "ct"):
            try:
                getattr(self, f"_set_{name}")(arg)
            except ValueError:
                return {"Command": "Error"}
            return self._light_state()
        return {"Command": "Unknown"}

    def _power(self, n: int, arg: str) -> dict[str, Any]:
        if not 1 <= n <= len(self.power):
            return {"Command": "Unknown"}
        current = self.power[n - 1]
        new = {"on": "ON", "1": "ON", "off": "OFF", "0": "OFF", "": current}.get(arg)
        if arg in ("toggle", "2"):
            new = "OFF" if current == "ON" else "ON"
        if new is None:
            return {"Command": "Error"}
        self.power[n - 1] = new
        if self.light and n == 1:
            return self._light_state()
        return {self._key(n): new}

    def _key(self, n: int) -> str:
        return "POWER" if len(self.power) == 1 else f"POWER{n}"

    def _set_dimmer(self, arg: str) -> None:
        if arg:
            value = int(arg)
            if not 0 <= value <= 100:
                raise ValueError(arg)
            self.dimmer = value
            self.power[0] = "ON" if value else "OFF"

    def _set_color(self, arg: str) -> None:
        if arg:
            if arg.startswith("#"):
                parts = [int(arg[i : i + 2], 16) for i in (1, 3, 5)]
            else:
                parts = [int(p) for p in arg.split(",")]
            if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
                raise ValueError(arg)
            self.color = (parts[0], parts[1], parts[2])
            self.power[0] = "ON"

    def _set_ct(self, arg: str) -> None:
        if arg:
            value = int(arg)
            if not 153 <= value <= 500:
                raise ValueError(arg)
            self.ct = value
            self.power[0] = "ON"

    def _light_state(self) -> dict[str, Any]:
        out: dict[str, Any] = {self._key(n + 1): p for n, p in enumerate(self.power)}
        out.update(Dimmer=self.dimmer, Color="".join(f"{c:02X}" for c in self.color), CT=self.ct)
        return out

    def _sts(self) -> dict[str, Any]:
        sts: dict[str, Any] = {"Time": "2026-11-25T12:00:00", "Uptime": "0T01:00:00"}
        sts.update(self._light_state() if self.light else {})
        sts.update({self._key(n + 1): p for n, p in enumerate(self.power)})
        return sts

    def _status(self, arg: str) -> dict[str, Any]:
        sns = {"Time": "2026-11-25T12:00:00", **self.sensors}
        if arg in ("10", "8"):
            return {"StatusSNS": sns}
        if arg == "11":
            return {"StatusSTS": self._sts()}
        if arg == "0":
            return {
                "Status": {"Module": 1, "DeviceName": "Tasmota", "FriendlyName": ["Tasmota"]},
                "StatusFWR": {"Version": "15.5.0(tasmota)"},
                "StatusNET": {
                    "Hostname": "tasmota-abc",
                    "IPAddress": self.hostname,
                    "Mac": "AA:BB:CC:DD:EE:FF",
                },
                "StatusSNS": sns,
                "StatusSTS": self._sts(),
            }
        return {"Command": "Unknown"}
