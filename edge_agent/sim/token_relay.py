"""A home token relay emulator: holds the real key and mints ephemeral client secrets.

The device POSTs to `realtime.token_url` before each connect and gets
``{"value": "ek_...", "expires_at": <unix s>}`` (the shape of OpenAI's
``POST /v1/realtime/client_secrets``). Minted secrets are added to the Realtime emulator's
accepted keys, so the whole chain is tested without the real key on the device.
"""

from __future__ import annotations

import secrets
import time

from edge_agent.sim.http import EmulatedHttpService, Request, Response
from edge_agent.sim.realtime_server import RealtimeEmulator

__all__ = ["TokenRelay"]


class TokenRelay(EmulatedHttpService):
    """POST /token → a fresh `ek_` secret the emulator accepts; `refuse` answers 403."""

    name = "token-relay"

    def __init__(self, emulator: RealtimeEmulator, *, ttl_s: int = 600) -> None:
        super().__init__()
        self.emulator = emulator
        self.ttl_s = ttl_s
        self.refuse = False
        self.minted: list[str] = []

    def handle(self, request: Request) -> Response:
        resp = self._answer(request)
        resp.headers["Connection"] = "close"  # one request per connection: stop() never waits
        return resp

    def _answer(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/token":
            return Response(404, {"error": "not found"})
        if self.refuse:
            return Response(403, {"error": "this device is not allowed"})
        value = f"ek_{secrets.token_hex(12)}"
        self.minted.append(value)
        self.emulator.api_keys.add(value)
        return Response(200, {"value": value, "expires_at": int(time.time()) + self.ttl_s})

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"
