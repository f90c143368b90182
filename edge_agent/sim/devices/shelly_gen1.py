"""A Shelly Gen1 emulator (devices.md §1, §9): relays or lights, Basic auth, 400/404 errors.

State persists between requests; ``/relay/<n>?turn=on&timer=S`` reverts after S seconds (checked
lazily on the next request). Requests are served one at a time like the ESP8266 firmware.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from edge_agent.config import DeviceConfig
from edge_agent.sim.devices.esp import EspHttpService
from edge_agent.sim.http import Request, Response

__all__ = ["ShellyGen1Emulator"]


class ShellyGen1Emulator(EspHttpService):
    """`mode` is "relay" or "light" (a dimmer/bulb); `password` enables Basic auth."""

    name = "shelly_gen1"

    def __init__(
        self, *, mode: str = "relay", channels: int = 1, password: str = "", username: str = ""
    ) -> None:
        super().__init__()
        self.mode = mode
        self.username = username or "admin"
        self.password = password
        self.relays: list[dict[str, Any]] = [_relay() for _ in range(channels)]
        self.lights: list[dict[str, Any]] = [
            {"ison": False, "brightness": 100, "red": 255, "green": 255, "blue": 255, "gain": 100}
            for _ in range(channels)
        ]
        self.power_w = 12.5
        self.total_wmin = 123456
        self.temperature_c = 31.4
        self._timers: dict[int, tuple[float, bool]] = {}

    @classmethod
    def for_device(cls, dev: DeviceConfig) -> ShellyGen1Emulator:
        return cls(
            mode="light" if dev.kind == "light" else "relay",
            channels=dev.channel + 1,
            password=dev.password.reveal(),
            username=dev.username,
        )

    def route(self, request: Request) -> Response:
        self._run_timers()
        parts = request.path.strip("/").split("/")
        if parts == ["shelly"]:
            return Response(200, self._identity())
        if not self._authorized(request):
            return Response(401, "401 Unauthorized", {"WWW-Authenticate": 'Basic realm="shelly"'})
        if parts == ["status"]:
            return Response(200, self._status())
        if len(parts) == 2 and parts[0] in ("relay", "light", "color"):
            return self._switch(parts[0], parts[1], request.query)
        return Response(404, "Not Found")

    def _identity(self) -> dict[str, Any]:
        return {
            "type": "SHPLG-S" if self.mode == "relay" else "SHBDUO-1",
            "mac": "AABBCCDDEEFF",
            "auth": bool(self.password),
            "fw": "20230913-113421/v1.14.0-gcb84623",
            "num_outputs": len(self.relays),
            "num_meters": 1,
        }

    def _status(self) -> dict[str, Any]:
        meters = [{"power": self.power_w, "is_valid": True, "total": self.total_wmin}]
        status: dict[str, Any] = {
            "meters": meters,
            "tmp": {
                "tC": self.temperature_c,
                "tF": self.temperature_c * 9 / 5 + 32,
                "is_valid": True,
            },
            "temperature": self.temperature_c,
        }
        if self.mode == "relay":
            status["relays"] = [dict(r) for r in self.relays]
        else:
            status["lights"] = [dict(light) for light in self.lights]
        return status

    def _authorized(self, request: Request) -> bool:
        if not self.password:
            return True
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    def _switch(self, kind: str, channel: str, query: dict[str, str]) -> Response:
        if (kind == "relay") != (self.mode == "relay"):
            return Response(400, f"Bad request: /{kind} in {self.mode} mode")
        items = self.relays if kind == "relay" else self.lights
        if not channel.isdigit() or int(channel) >= len(items):
            return Response(404, "Not Found")
        ch = int(channel)
        item = items[ch]
        turn = query.get("turn")
        if turn is not None and turn not in ("on", "off", "toggle"):
            return Response(400, "Bad turn!")
        try:
            self._apply_levels(item, kind, query)
        except ValueError as exc:
            return Response(400, str(exc))
        if turn == "toggle":
            item["ison"] = not item["ison"]
        elif turn is not None:
            item["ison"] = turn == "on"
        if "timer" in query and kind == "relay":
            seconds = float(query["timer"])
            self._timers[ch] = (time.monotonic() + seconds, not item["ison"])
            item.update(has_timer=True, timer_duration=seconds, timer_remaining=seconds)
        if kind == "relay":
            item["source"] = "http"
        return Response(200, dict(item))

    @staticmethod
    def _apply_levels(item: dict[str, Any], kind: str, query: dict[str, str]) -> None:
        limits = {"brightness": (0, 100), "red": (0, 255), "green": (0, 255), "blue": (0, 255)}
        limits["gain"] = (0, 100)
        for key, (lo, hi) in limits.items():
            if key not in query:
                continue
            if kind == "relay" or (kind == "light" and key != "brightness"):
                raise ValueError(f"Bad {key}!")
            value = int(query[key]) if query[key].lstrip("-").isdigit() else -1
            if not lo <= value <= hi:
                raise ValueError(f"Bad {key}!")
            item[key] = value

    def _run_timers(self) -> None:
        now = time.monotonic()
        for ch, (due, state) in list(self._timers.items()):
            if now >= due:
                self.relays[ch].update(ison=state, has_timer=False, timer_remaining=0)
                del self._timers[ch]


def _relay() -> dict[str, Any]:
    return {
        "ison": False,
        "has_timer": False,
        "timer_started": 0,
        "timer_duration": 0,
        "timer_remaining": 0,
        "overpower": False,
        "source": "init",
    }
