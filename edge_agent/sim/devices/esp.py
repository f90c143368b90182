"""`EspHttpService`: the HTTP behaviour of ESP8266/ESP32 device firmware, for emulators.

Such servers answer one request per connection (``Connection: close``) and serve one connection
at a time. Closing after every answer also means a client's idle keep-alive connection never
pins the emulator's single server thread, so `stop()` cannot block on it.
"""

from __future__ import annotations

from typing import Any

from edge_agent.sim.http import EmulatedHttpService, Request, Response

__all__ = ["EspHttpService"]


class EspHttpService(EmulatedHttpService):
    """Subclasses implement `route(request)`; every answer closes its connection."""

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def handle(self, request: Request) -> Response:
        response = self.route(request)
        response.headers.setdefault("Connection", "close")
        return response

    def _dispatch(self, h: Any) -> None:
        super()._dispatch(h)
        h.close_connection = True  # also after injected faults, which bypass handle()
