"""The emulator base: stop() must not wait on a client's idle keep-alive connection."""

from __future__ import annotations

import time

import httpx

from edge_agent.sim.http import EmulatedHttpService, Request, Response

from .conftest import TIME_SCALE


class Echo(EmulatedHttpService):
    def handle(self, request: Request) -> Response:
        return Response(200, {"path": request.path})


async def test_stop_with_an_idle_keep_alive_connection() -> None:
    emu = Echo().start()
    async with httpx.AsyncClient(trust_env=False) as client:
        assert (await client.get(emu.url + "/x")).json() == {"path": "/x"}
        start = time.monotonic()
        emu.stop()  # the client still holds its keep-alive connection
        assert time.monotonic() - start < 1.0 * TIME_SCALE
