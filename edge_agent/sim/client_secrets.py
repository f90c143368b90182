"""The emulator's ``POST /v1/realtime/client_secrets``: mints `ek_` secrets its WebSocket accepts.

The service answers this on https://api.openai.com/v1/realtime/client_secrets; websockets'
server only speaks GET upgrades, so the emulator serves it on a port of its own
(`ClientSecretService(emulator).start()`, `.url`). It checks what the service checks (a real key
— an `ek_` secret cannot mint another —, `expires_after.seconds` 10-7200, `session.type`),
records every request (`requests`, `minted`), and answers errors in the service's shape,
including its habit of quoting part of a wrong key in the message, so tests can prove the relay
does not pass that on.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from edge_agent.sim.http import EmulatedHttpService, Request, Response
from edge_agent.sim.realtime_server import RealtimeEmulator

__all__ = ["ClientSecretService"]

PATH = "/v1/realtime/client_secrets"


class ClientSecretService(EmulatedHttpService):
    name = "client-secrets"

    def __init__(self, emulator: RealtimeEmulator) -> None:
        super().__init__()
        self.emulator = emulator
        self.minted: list[dict[str, Any]] = []  # the answers, secrets included

    @property
    def endpoint(self) -> str:
        return f"{self.url}{PATH}"

    def handle(self, request: Request) -> Response:
        resp = self._answer(request)
        resp.headers["Connection"] = "close"  # one request per connection: stop() never waits
        resp.headers["openai-organization"] = "org-emulated"  # a header the relay must not pass on
        return resp

    def _answer(self, request: Request) -> Response:
        if request.path != PATH:
            return _error(
                404, "invalid_request_error", "unknown_url", f"Unknown path {request.path}"
            )
        if request.method != "POST":
            return _error(405, "invalid_request_error", "method_not_allowed", "use POST")
        auth = request.headers.get("authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if key not in self.emulator.api_keys or key.startswith("ek_"):
            shown = f"{key[:3]}***{key[-4:]}" if len(key) > 8 else "***"
            return _error(
                401,
                "invalid_request_error",
                "invalid_api_key",
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
            )
        try:
            body = json.loads(request.body or b"{}")
            seconds = body.get("expires_after", {}).get("seconds", 600)
            session = body.get("session", {"type": "realtime"})
            kind = session.get("type")
        except (ValueError, AttributeError):
            return _error(
                400, "invalid_request_error", "invalid_json", "We could not parse the JSON body"
            )
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 10 <= seconds <= 7200:
            return _error(
                400, "invalid_request_error", "invalid_value", "expires_after.seconds: 10 to 7200"
            )
        if kind != "realtime":
            return _error(400, "invalid_request_error", "invalid_value", "session.type: 'realtime'")
        value = f"ek_{secrets.token_hex(16)}"
        expires_at = int(time.time()) + seconds
        answer = {
            "value": value,
            "expires_at": expires_at,
            "session": {
                "object": "realtime.session",
                "id": f"sess_{secrets.token_hex(6)}",
                **session,
            },
        }
        self.emulator.client_secrets[value] = expires_at
        self.minted.append(answer)
        return Response(200, answer)


def _error(status: int, kind: str, code: str, message: str) -> Response:
    return Response(
        status, {"error": {"message": message, "type": kind, "param": None, "code": code}}
    )
