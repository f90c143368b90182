"""WLED emulator (devices.md §4, §9): `/json/info`, `/json/state`, `/json/si`, error shapes.

Faults beyond the base class: `busy_next` answers 503 `{"error":3}` with `Retry-After: 1`;
`ignore_v` answers writes with `{"success": true}` as firmware before `"v"` did.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from edge_agent.config import DeviceConfig
from edge_agent.sim.http import EmulatedHttpService, Request, Response

__all__ = ["WledEmulator"]


class WledEmulator(EmulatedHttpService):
    name = "wled"

    def __init__(self, segments: int = 1, device_name: str = "WLED") -> None:
        super().__init__()
        self.busy_next = 0
        self.ignore_v = False  # old firmware: always answer {"success": true}
        self.info: dict[str, Any] = {
            "ver": "0.14.4",
            "name": device_name,
            "brand": "WLED",
            "product": "FOSS",
            "mac": "aabbccddeeff",
            "arch": "esp32",
            "leds": {"count": 30},
        }
        self.state: dict[str, Any] = {
            "on": False,
            "bri": 128,
            "transition": 7,
            "ps": -1,
            "seg": [
                {
                    "id": i,
                    "start": 0,
                    "stop": 30,
                    "on": True,
                    "bri": 255,
                    "col": [[255, 160, 0], [0, 0, 0], [0, 0, 0]],
                    "fx": 0,
                }
                for i in range(segments)
            ],
        }

    @classmethod
    def for_device(cls, dev: DeviceConfig) -> WledEmulator:
        return cls(segments=dev.channel + 1, device_name=dev.name)

    def handle(self, request: Request) -> Response:
        if self.busy_next > 0:
            self.busy_next -= 1
            return Response(503, {"error": 3}, {"Retry-After": "1"})
        path = request.path.rstrip("/")
        if request.method == "GET":
            if path in ("/json/state", "/json/info", "/json/si", "/json"):
                return Response(200, self._read(path))
        elif request.method == "POST" and path in ("/json/state", "/json", "/json/si"):
            return self._write(request.body)
        if path == "/json/cfg":
            return Response(401, {"error": 1})
        if path.startswith("/json/"):
            return Response(501, {"error": 4})
        return Response(404, "Not Found")

    def _read(self, path: str) -> dict[str, Any]:
        if path == "/json/state":
            return copy.deepcopy(self.state)
        if path == "/json/info":
            return copy.deepcopy(self.info)
        return {"state": copy.deepcopy(self.state), "info": copy.deepcopy(self.info)}

    def _write(self, body: bytes) -> Response:
        try:
            data = json.loads(body)
        except ValueError:
            return Response(400, {"error": 9})
        if not isinstance(data, dict):
            return Response(400, {"error": 9})
        if "on" in data:
            self.state["on"] = (not self.state["on"]) if data["on"] == "t" else bool(data["on"])
        if isinstance(data.get("bri"), int):
            self.state["bri"] = max(0, min(255, data["bri"]))
            if data["bri"] == 0:
                self.state["on"] = False
        if isinstance(data.get("ps"), int):
            self.state["ps"] = data["ps"]
        for seg in data.get("seg") or []:
            self._write_segment(seg)
        if data.get("v") and not self.ignore_v:
            return Response(200, copy.deepcopy(self.state))
        return Response(200, {"success": True})

    def _write_segment(self, seg: dict[str, Any]) -> None:
        target = next((s for s in self.state["seg"] if s["id"] == seg.get("id", 0)), None)
        if target is None:
            return
        for i, col in enumerate(seg.get("col") or []):
            if isinstance(col, str) and len(col) == 6:
                col = [int(col[j : j + 2], 16) for j in (0, 2, 4)]
            if isinstance(col, list) and len(col) >= 3:
                target["col"][i] = [max(0, min(255, int(c))) for c in col[:3]]
        if "on" in seg:
            target["on"] = bool(seg["on"])
