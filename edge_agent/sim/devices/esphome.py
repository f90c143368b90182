"""ESPHome `web_server` emulator (devices.md §7, §9).

Name URLs (each segment URL-decoded), sub-device paths and legacy object_id URLs; GET answers
the entity JSON; POST answers 200 with an empty body and applies the change `lag_ms` later, as
the firmware's main loop does; unknown entity or action → 404 (empty). Auth: `auth_mode` is
"none", "basic" or "digest" (MD5, qop=auth, deterministic nonces). `/events` (SSE) sends a
ping and replays every state, then ends (a real node keeps the stream open).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from edge_agent.config import DeviceConfig
from edge_agent.sim.devices.lag import DelayedChanges
from edge_agent.sim.http import EmulatedHttpService, Request, Response

__all__ = ["EsphomeEmulator", "object_id"]

REALM = "asyncesp"
_DIGEST_FIELD = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def _seed(domain: str) -> dict[str, Any]:
    if domain == "sensor":
        return {"state": "19.8 °C", "value": 19.76666, "unit": "°C"}
    if domain == "light":
        return {
            "state": "OFF",
            "brightness": 255,
            "color_mode": "rgb",
            "color": {"r": 255, "g": 255, "b": 255},
            "effect": "None",
        }
    if domain == "cover":
        return {"state": "CLOSED", "value": 0.0, "current_operation": "IDLE"}
    if domain == "lock":
        return {"state": "LOCKED"}
    return {"state": "OFF", "value": False}


def object_id(name: str) -> str:
    """ESPHome's legacy object_id: lower case, anything else than [a-z0-9] → '_'."""
    return re.sub(r"[^a-z0-9]", "_", name.lower())


class EsphomeEmulator(EmulatedHttpService):
    name = "esphome"

    def __init__(self, username: str = "", password: str = "", auth_mode: str = "none") -> None:
        super().__init__()
        self.username, self.password, self.auth_mode = username, password, auth_mode
        self.changes = DelayedChanges(lag_ms=100)
        self.legacy_object_id = True  # before 2026.7.0
        self.entities: dict[str, dict[str, Any]] = {}
        self._nonces: set[str] = set()
        self._nonce_counter = 0
        self.add("sensor/Outside Temperature")

    @property
    def lag_ms(self) -> int:
        """How long after a POST its change shows (the node's main loop); default 100 ms."""
        return self.changes.lag_ms

    @lag_ms.setter
    def lag_ms(self, value: int) -> None:
        self.changes.lag_ms = value

    @classmethod
    def for_device(cls, dev: DeviceConfig) -> EsphomeEmulator:
        password = dev.password.reveal()
        emu = cls(dev.username or "admin", password, dev.auth_scheme if password else "none")
        if "/" in dev.entity:
            emu.add(dev.entity)
        return emu

    def add(self, entity_id: str, **fields: Any) -> None:
        """Seed an entity by id "domain/[device/]Name"."""
        domain, _, name = entity_id.partition("/")
        self.entities[entity_id] = {
            "id": entity_id,
            "name": name.rpartition("/")[2],
            **_seed(domain),
            **fields,
        }

    def state_of(self, entity_id: str) -> dict[str, Any]:
        """The entity as the device holds it now (pending actions that are due applied)."""
        self.changes.apply_due()
        return self.entities[entity_id]

    # -- HTTP ------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        self.changes.apply_due()
        if not self._authorized(request):
            return self._challenge()
        segments = [unquote(s) for s in urlsplit(request.raw_path).path.split("/")[1:]]
        if segments == ["events"] and request.method == "GET":
            return self._events()
        if request.method == "GET":
            entity = self._find(segments)
            if entity is None:
                return Response(404)
            return Response(200, self._public(entity))
        if request.method == "POST" and len(segments) >= 3:
            entity = self._find(segments[:-1])
            action = segments[-1]
            if entity is None or not self._valid_action(entity["id"], action):
                return Response(404)
            query = dict(request.query)
            self.changes.defer(lambda: self._apply(entity, action, query))
            return Response(200)
        return Response(404)

    def _find(self, segments: list[str]) -> dict[str, Any] | None:
        if len(segments) < 2:
            return None
        entity = self.entities.get("/".join(segments))
        if entity is None and self.legacy_object_id and len(segments) == 2:
            domain, oid = segments
            entity = next(
                (
                    e
                    for i, e in self.entities.items()
                    if i.startswith(domain + "/") and object_id(e["name"]) == oid
                ),
                None,
            )
        return entity

    def _events(self) -> Response:
        """SSE: a ping, then every state replayed (as on connect); then the stream ends here."""
        lines = ['event: ping\ndata: {"title":"emulated","lang":"en"}\n\n']
        lines += [
            f"event: state\ndata: {json.dumps(self._public(e))}\n\n" for e in self.entities.values()
        ]
        return Response(200, "".join(lines), {"Content-Type": "text/event-stream"})

    @staticmethod
    def _public(entity: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(entity)
        out.pop("unit", None)
        return out

    @staticmethod
    def _valid_action(entity_id: str, action: str) -> bool:
        domain = entity_id.partition("/")[0]
        allowed = {
            "switch": {"turn_on", "turn_off", "toggle"},
            "light": {"turn_on", "turn_off", "toggle"},
            "fan": {"turn_on", "turn_off", "toggle"},
            "cover": {"open", "close", "stop", "set"},
            "lock": {"lock", "unlock", "open"},
        }
        return action in allowed.get(domain, set())

    @staticmethod
    def _apply(entity: dict[str, Any], action: str, query: dict[str, str]) -> None:
        domain = entity["id"].partition("/")[0]
        if domain == "cover":
            if action in ("open", "close"):
                entity["state"] = "OPEN" if action == "open" else "CLOSED"
                entity["value"] = 1.0 if action == "open" else 0.0
            return
        if domain == "lock":
            entity["state"] = "UNLOCKED" if action in ("unlock", "open") else "LOCKED"
            return
        on = {"turn_on": True, "turn_off": False}.get(action, entity["state"] != "ON")
        entity["state"] = "ON" if on else "OFF"
        if "value" in entity:
            entity["value"] = on
        if domain == "light" and on:
            if "brightness" in query:
                entity["brightness"] = max(0, min(255, int(query["brightness"])))
            if all(k in query for k in "rgb"):
                entity["color"] = {k: max(0, min(255, int(query[k]))) for k in "rgb"}
                entity["color_mode"] = "rgb"
            if "color_temp" in query:
                entity["color_temp"] = float(query["color_temp"])
                entity["color_mode"] = "color_temp"

    # -- auth ------------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        if self.auth_mode == "none":
            return True
        header = request.headers.get("authorization", "")
        scheme, _, rest = header.partition(" ")
        if self.auth_mode == "basic" and scheme.lower() == "basic":
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return rest == expected
        if self.auth_mode == "digest" and scheme.lower() == "digest":
            return self._digest_ok(request.method, rest)
        return False

    def _challenge(self) -> Response:
        if self.auth_mode == "basic":
            return Response(401, headers={"WWW-Authenticate": 'Basic realm="Login Required"'})
        self._nonce_counter += 1
        nonce = hashlib.md5(f"emu-nonce-{self._nonce_counter}".encode()).hexdigest()
        self._nonces.add(nonce)
        header = f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", opaque="{"0" * 32}"'
        return Response(401, headers={"WWW-Authenticate": header})

    def _digest_ok(self, method: str, params: str) -> bool:
        f = {
            m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _DIGEST_FIELD.finditer(params)
        }
        if f.get("username") != self.username or f.get("nonce") not in self._nonces:
            return False

        def md5(s: str) -> str:
            return hashlib.md5(s.encode()).hexdigest()

        ha1 = md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = md5(f"{method}:{f.get('uri', '')}")
        expected = md5(f"{ha1}:{f['nonce']}:{f.get('nc', '')}:{f.get('cnonce', '')}:auth:{ha2}")
        return f.get("response") == expected
