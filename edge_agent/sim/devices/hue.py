"""Hue bridge API v1 emulator (devices.md §5, §9).

Lights and groups in memory; pairing answers error 101 until `press_link_button()`; PUTs answer
per-attribute success arrays; errors come as HTTP 200 arrays (types 1, 2, 3, 6, 7, 201).
Faults beyond the base class: `overload_next` answers the next N requests with `overload_status`
(503 by default, or 429).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from edge_agent.config import DeviceConfig
from edge_agent.sim.http import EmulatedHttpService, Request, Response

__all__ = ["HueEmulator"]

_RANGES: dict[str, tuple[int, int]] = {
    "bri": (1, 254),
    "ct": (153, 500),
    "hue": (0, 65535),
    "sat": (0, 254),
}
_NEED_ON = ("bri", "ct", "xy", "hue", "sat")


def _error(kind: int, address: str, description: str) -> dict[str, Any]:
    return {"error": {"type": kind, "address": address, "description": description}}


def _light(name: str) -> dict[str, Any]:
    return {
        "state": {
            "on": False,
            "bri": 254,
            "ct": 366,
            "xy": [0.4573, 0.41],
            "hue": 8418,
            "sat": 140,
            "colormode": "ct",
            "reachable": True,
        },
        "type": "Extended color light",
        "name": name,
        "modelid": "LCT015",
        "capabilities": {"control": {"ct": {"min": 153, "max": 500}}},
    }


class HueEmulator(EmulatedHttpService):
    name = "hue"

    def __init__(self, username: str = "emu-user", light_ids: tuple[str, ...] = ("1", "2")) -> None:
        super().__init__()
        self.usernames: set[str] = {username}
        self.link_button = False
        self.overload_next = 0
        self.overload_status = 503
        self._paired = 0
        self.config = {
            "name": "Emulated Bridge",
            "bridgeid": "001788FFFE000000",
            "modelid": "BSB002",
            "apiversion": "1.65.0",
            "swversion": "1965111030",
        }
        self.lights: dict[str, dict[str, Any]] = {i: _light(f"Hue Lamp {i}") for i in light_ids}
        self.groups: dict[str, dict[str, Any]] = {
            "1": {"name": "Living room", "lights": list(light_ids), "type": "Room"}
        }

    @classmethod
    def for_device(cls, dev: DeviceConfig) -> HueEmulator:
        ids = ["1", "2"]
        kind, _, ident = dev.entity.partition("/")
        if kind == "light" and ident.isdigit():
            ids.append(ident)
        elif dev.channel > 0:
            ids.append(str(dev.channel))
        emu = cls(username=dev.token.reveal() or "emu-user", light_ids=tuple(dict.fromkeys(ids)))
        if kind == "group" and ident.isdigit() and ident != "0":
            emu.groups[ident] = {"name": dev.name, "lights": ["1", "2"], "type": "Room"}
        return emu

    def press_link_button(self) -> None:
        """The physical button: the next pairing request succeeds."""
        self.link_button = True

    def handle(self, request: Request) -> Response:
        if self.overload_next > 0:
            self.overload_next -= 1
            return Response(self.overload_status, "Too Many Requests")
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] != "api":
            return Response(404, "Not Found")
        if len(parts) == 1 and request.method == "POST":
            return self._pair(request.body)
        if parts[1:] == ["config"]:
            return Response(200, dict(self.config))
        if parts[1] not in self.usernames:
            return Response(200, [_error(1, "/" + "/".join(parts[2:]), "unauthorized user")])
        return self._resource(request, parts[2:])

    def _pair(self, body: bytes) -> Response:
        if not self.link_button:
            return Response(200, [_error(101, "", "link button not pressed")])
        self.link_button = False
        self._paired += 1
        username = f"emu-paired-{self._paired:04d}"
        self.usernames.add(username)
        return Response(200, [{"success": {"username": username}}])

    def _resource(self, request: Request, parts: list[str]) -> Response:
        if not parts:
            return Response(200, {"lights": self._all_lights(), "groups": self._all_groups()})
        kind = parts[0]
        if kind not in ("lights", "groups"):
            return Response(
                200,
                [
                    _error(
                        4,
                        "/" + "/".join(parts),
                        f"method, {request.method}, not available for resource, /{kind}",
                    )
                ],
            )
        if len(parts) == 1 and request.method == "GET":
            return Response(200, self._all_lights() if kind == "lights" else self._all_groups())
        address = f"/{kind}/{parts[1]}"
        table = self.lights if kind == "lights" else self._all_groups()
        if parts[1] not in table:
            return Response(200, [_error(3, address, f"resource, {address}, not available")])
        if len(parts) == 2 and request.method == "GET":
            return Response(200, copy.deepcopy(table[parts[1]]))
        wanted = "state" if kind == "lights" else "action"
        if len(parts) == 3 and parts[2] == wanted and request.method == "PUT":
            try:
                body = json.loads(request.body)
            except ValueError:
                return Response(
                    200, [_error(2, address + "/" + wanted, "body contains invalid json")]
                )
            if not isinstance(body, dict):
                return Response(
                    200, [_error(2, address + "/" + wanted, "body contains invalid json")]
                )
            ids = [parts[1]] if kind == "lights" else self._group_lights(parts[1])
            return Response(200, self._apply(ids, body, f"{address}/{wanted}"))
        return Response(
            200,
            [
                _error(
                    4, address, f"method, {request.method}, not available for resource, {address}"
                )
            ],
        )

    def _apply(self, ids: list[str], body: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
        """Per-attribute results, as the bridge does: successes and errors side by side."""
        results: list[dict[str, Any]] = []
        turning_on = body.get("on") is True
        for key, value in body.items():
            address = f"{prefix}/{key}"
            if key == "on" and isinstance(value, bool):
                for i in ids:
                    self.lights[i]["state"]["on"] = value
            elif key in _RANGES or key == "xy":
                if not self._valid(key, value) or not self._in_lamp_range(ids, key, value):
                    results.append(
                        _error(7, address, f"invalid value, {value}, for parameter, {key}")
                    )
                    continue
                if not turning_on and ids and not all(self.lights[i]["state"]["on"] for i in ids):
                    results.append(
                        _error(
                            201,
                            address,
                            f"parameter, {key}, is not modifiable. Device is set to off.",
                        )
                    )
                    continue
                for i in ids:
                    state = self.lights[i]["state"]
                    state[key] = value
                    if key in ("ct", "xy"):
                        state["colormode"] = key
                    elif key in ("hue", "sat"):
                        state["colormode"] = "hs"
            elif key == "transitiontime" and isinstance(value, int):
                pass
            else:
                results.append(_error(6, address, f"parameter, {key}, not available"))
                continue
            results.append({"success": {address: value}})
        return results

    @staticmethod
    def _valid(key: str, value: Any) -> bool:
        if key == "xy":
            return (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int | float) and 0 <= v <= 1 for v in value)
            )
        lo, hi = _RANGES[key]
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi

    def _in_lamp_range(self, ids: list[str], key: str, value: Any) -> bool:
        """Each lamp's own `ct` range (older bulbs stop at 454 mired, about 2200 K)."""
        if key != "ct":
            return True
        for i in ids:
            limits = self.lights[i].get("capabilities", {}).get("control", {}).get("ct", {})
            if not limits.get("min", 153) <= value <= limits.get("max", 500):
                return False
        return True

    def _group_lights(self, group_id: str) -> list[str]:
        if group_id == "0":
            return list(self.lights)
        return [i for i in self.groups[group_id]["lights"] if i in self.lights]

    def _all_lights(self) -> dict[str, Any]:
        return copy.deepcopy(self.lights)

    def _all_groups(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "0": {"name": "Group 0", "lights": list(self.lights), "type": "LightGroup"}
        }
        out.update(copy.deepcopy(self.groups))
        for gid, group in out.items():
            states = [self.lights[i]["state"] for i in self._group_lights(gid)]
            first = states[0] if states else {"on": False}
            group["action"] = copy.deepcopy(first)
            group["state"] = {
                "all_on": bool(states) and all(s["on"] for s in states),
                "any_on": any(s["on"] for s in states),
            }
        return out
