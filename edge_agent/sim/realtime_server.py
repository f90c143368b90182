"""A local OpenAI Realtime (GA) emulator on 127.0.0.1 for tests, `simulate` and the demo.

Follows the "Emulator checklist" of realtime-protocol.md §8: Bearer/api-key auth at the HTTP
upgrade (401 otherwise), session.created/updated with merge, energy VAD on the appended audio,
scripted replies from a `Scenario` (audio deltas as fast as possible or paced, transcripts,
function calls that wait for their outputs and a response.create), one active response,
response.cancel, truncate bookkeeping, interrupt on speech, idle timeout, session expiry,
rate limits, usage, and fault injection (`Faults`). It records every client event and the raw
input audio (`client_events`, `input_audio`, per connection `session_audio`), every server
event it sent (`server_events`), what each committed user item held (`committed`, a list of
`CommittedItem`) and every response's billed usage (`usage_log`, a list of `UsageRecord`).

It is not the real model: replies follow the script, not the question.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from edge_agent.realtime.auth import RedactingLogger
from edge_agent.sim.realtime_faults import Faults, ResponseFault
from edge_agent.sim.realtime_history import UsageRecord
from edge_agent.sim.realtime_input import CommittedItem
from edge_agent.sim.realtime_session import EmulatedSession
from edge_agent.sim.realtime_vad import SEMANTIC_WAIT_MS
from edge_agent.sim.scenario import Scenario, Turn, default_scenario

__all__ = ["CommittedItem", "Faults", "RealtimeEmulator", "ResponseFault", "UsageRecord"]

log = logging.getLogger(__name__)


class RealtimeEmulator:
    """The server: `await start()`, point the client at `url`, `await stop()`."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        api_keys: Iterable[str] = ("sk-test",),
        pace: float = 0.0,
        delta_ms: int = 100,
        session_max_s: float = 3600.0,
        max_size: int | None = 16 * 2**20,
        semantic_wait_ms: Mapping[str, int] = SEMANTIC_WAIT_MS,
        context_tokens: int = 0,
    ) -> None:
        """
        Args:
            pace: 0 sends reply audio as fast as the socket takes it; 1.0 at real time.
            delta_ms: audio per response.output_audio.delta.
            session_max_s: the session cap (the service uses 60 min); short in tests.
            semantic_wait_ms: semantic_vad's silence per eagerness (default: the documented
                maximum waits, 8/4/2 s); tests may shorten them.
            context_tokens: the context window `truncation` works against (0 = the model's:
                32k for gpt-realtime/-mini/1.5, 128k for 2.x); small in tests.
        """
        self.scenario = scenario or default_scenario()
        self.api_keys = set(api_keys)
        self.client_secrets: dict[str, int] = {}  # ek_ value → expires_at (sim/client_secrets.py)
        self.pace = pace
        self.delta_ms = delta_ms
        self.session_max_s = session_max_s
        self.max_size = max_size
        self.semantic_wait_ms = dict(semantic_wait_ms)
        self.context_tokens = context_tokens
        self.faults = Faults()
        self.client_events: list[dict[str, Any]] = []
        self.server_events: list[dict[str, Any]] = []
        self.input_audio = bytearray()
        self.truncations: list[tuple[str, int, int]] = []  # item_id, audio_end_ms, item audio ms
        self.handshakes: list[int] = []  # HTTP status per upgrade attempt
        self.auth_schemes: list[str] = []  # "bearer" | "api-key" | "none" per upgrade attempt
        self.premature_responses = 0  # responses created while tool outputs were missing
        self.sessions: list[EmulatedSession] = []  # open connections
        self.committed: list[CommittedItem] = []  # every committed user audio item, in order
        self.session_audio: list[bytearray] = []  # all audio appended, per connection
        self.usage_log: list[UsageRecord] = []  # every response.done's usage, in order
        self._turns: list[Turn] = list(self.scenario.turns)
        self._server: Server | None = None
        self._ids = itertools.count(1)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, port: int = 0, host: str = "127.0.0.1") -> RealtimeEmulator:
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._check_request,
            max_size=self.max_size,
            compression=None,
            logger=RedactingLogger(logging.getLogger("websockets.server")),
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> RealtimeEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def base_url(self) -> str:
        """For the openai SDK's `websocket_base_url`."""
        return f"ws://127.0.0.1:{self.port}/v1"

    @property
    def url(self) -> str:
        """For `realtime.url`."""
        return f"{self.base_url}/realtime"

    # -- test helpers --------------------------------------------------------------------------
    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.client_events if e.get("type") == kind]

    async def inject(self, frame: str | bytes) -> None:
        """Send a raw frame (any text, even broken) to every open session."""
        for s in list(self.sessions):
            await s.ws.send(frame)

    async def drop_all(self) -> None:
        for s in list(self.sessions):
            s.ws.transport.abort()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"

    def set_turns(self, turns: Iterable[Turn]) -> None:
        """Script the next user turns (the fallback answers when they run out)."""
        self._turns = list(turns)

    def next_turn(self) -> Turn | None:
        return self._turns.pop(0) if self._turns else None

    def peek_turn(self) -> Turn | None:
        """The turn the next user input will get (for its transcript)."""
        return self._turns[0] if self._turns else None

    # -- handshake -----------------------------------------------------------------------------
    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        f = self.faults
        status = self._auth_status(request)
        if status == 101 and f.handshake_status is not None:
            status = f.handshake_status
            if f.handshake_status_count:
                f.handshake_status_count -= 1
                if not f.handshake_status_count:
                    f.handshake_status = None
        self.handshakes.append(status)
        if status == 101:
            return None
        bodies = {401: "invalid api key\n", 404: "unknown path or missing model\n"}
        return conn.respond(status, bodies.get(status, "emulated failure\n"))

    def _auth_status(self, request: Request) -> int:
        parts = urlsplit(request.path)
        if not parts.path.endswith("/realtime") or not parse_qs(parts.query).get("model"):
            return 404
        headers: Headers = request.headers
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            key = auth[7:]
            self.auth_schemes.append("bearer")
        else:
            key = headers.get("api-key", "")
            self.auth_schemes.append("api-key" if key else "none")
        live = self.client_secrets.get(key, 0) > time.time()  # a secret gates new connections
        return 101 if key in self.api_keys or live else 401

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        model = parse_qs(urlsplit(ws.request.path).query)["model"][0]
        beta = bool(ws.request.headers.get("OpenAI-Beta"))
        session = EmulatedSession(self, ws, model, beta, index=len(self.session_audio))
        self.session_audio.append(session.input.audio)
        self.sessions.append(session)
        try:
            await session.run()
        finally:
            self.sessions.remove(session)
