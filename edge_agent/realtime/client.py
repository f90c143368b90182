"""The Realtime connection: socket, auth, connect retries and keepalive. A shell.

Owns the WebSocket (websockets asyncio client), auth (API key, or an ephemeral secret fetched
from `realtime.token_url` before each connect), the retries of a connect with backoff and
jitter, the keepalive, and the hand-off of server events translated into the turn core's
(`translate.to_turn_event`). Opening a session is `opening.py`; what an error or a close means
(fatal, retry, noise) is `outcomes.py`. It makes no turn decisions: which response is current,
when to cancel, truncate, ask for a reply, close an idle session or rotate an old one is the
turn core's (`edge_agent.turn`), and the shell calls the verbs here.

Lifecycle: nothing connects until `connect_soon()`. A connect is retried with backoff (each
failed attempt is reported as `SessionLost(will_retry=True)`, so the core can give up) until the
session is ready (`SessionReady`) or `close_session()`. Audio given to `send_audio()` meanwhile
is buffered (capped) and sent once ready. A ready session that ends (dropped, expired) is
reported as `SessionLost(will_retry=False)` and not reopened: the next turn connects again. A
refusal no retry can fix (401/403, invalid key, unknown model, quota) is reported once as
`SessionFatal` and stops everything; any unexpected error in the connection task is a
`SessionLost` (the turn fails cleanly, the next turn reconnects).

`events` holds at most `max_events`: when the app falls that far behind the reader waits
instead of dropping (a lost ResponseFinished would wedge the turn), so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import httpx

from edge_agent.config import RealtimeConfig, Secret
from edge_agent.errors import FatalRealtimeError, RealtimeError
from edge_agent.realtime import protocol as p
from edge_agent.realtime.auth import Credentials, session_url
from edge_agent.realtime.outbox import Outbox
from edge_agent.realtime.outcomes import describe, describe_close, session_outcome
from edge_agent.realtime.translate import to_turn_event
from edge_agent.states import Event
from edge_agent.turn.events import SessionFatal, SessionLost, SessionReady

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

# websockets (and `opening`, which uses it) is imported at the first connect, not with this
# module: it imports importlib.metadata for its version, ~3 MB of RSS an idle daemon does not
# need.

__all__ = ["ClientState", "RealtimeClient"]

log = logging.getLogger(__name__)


class ClientState(enum.Enum):
    CLOSED = "closed"
    CONNECTING = "connecting"
    READY = "ready"
    FAILED = "failed"


class RealtimeClient:
    """One Realtime session at a time, opened on demand."""

    def __init__(
        self,
        config: RealtimeConfig,
        api_key: Secret,
        *,
        tools: Sequence[Mapping[str, object]] | Callable[[], Sequence[Mapping[str, object]]] = (),
        instructions: Callable[[], str] | None = None,
        http: httpx.AsyncClient | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_buffered_s: float = 30.0,
        max_events: int = 1024,
        ping_interval_s: float | None = 20.0,
        rng: random.Random | None = None,
    ) -> None:
        """`instructions` runs once per session in a worker thread (it may block on storage);
        `max_events` bounds `events` (see the module docstring); `tools` may be a callable,
        read per session (tool sources such as Home Assistant list theirs after start-up);
        the rest are test seams."""
        self.config = config
        self._credentials = Credentials(config, api_key, http)
        self._tools = tools
        self._instructions = instructions or (lambda: config.instructions)
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._ping_interval_s = ping_interval_s
        self._rng = rng or random.Random()
        self.events: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_events)
        self.state = ClientState.CLOSED
        self.session_id = ""
        self._fatal: FatalRealtimeError | None = None
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._outbox = Outbox(int(max_buffered_s * 1000) * p.BYTES_PER_MS)
        self._wake = asyncio.Event()
        self._state_changed = asyncio.Event()
        self.first_ready = asyncio.Event()
        """Set when a session is first ready: the daemon asks GET /v1/models then (`commands.run`)."""
        self._transcription = bool(config.transcription_model)
        self.model = config.model  # this session's (the budget may pick a cheaper one)
        self._debug = log.isEnabledFor(logging.DEBUG)
        self._is_reader_paused = False

    # -- lifecycle -----------------------------------------------------------------------------
    def connect_soon(self, model: str | None = None) -> None:
        """Start connecting in the background (no-op when connected, connecting or failed).

        `model`: this session's model instead of ``realtime.model`` (the budget's cheaper one).
        """
        if self._fatal is None and (self._task is None or self._task.done()):
            self.model = model or self.config.model
            self._set_state(ClientState.CONNECTING)
            self._task = asyncio.create_task(self._run(), name="realtime-connection")

    async def ensure_connected(self, timeout_s: float | None = None) -> None:
        """Connect if needed and wait until the session is ready.

        Raises:
            FatalRealtimeError: the service refused us (bad key, model, quota); no retry.
            RealtimeError: not ready within `timeout_s` (default: connect_timeout_s).
        """
        if self._fatal is not None:
            raise self._fatal
        self.connect_soon()
        limit_s = self.config.connect_timeout_s if timeout_s is None else timeout_s
        try:
            async with asyncio.timeout(limit_s):
                while self.state not in (ClientState.READY, ClientState.FAILED):
                    self._state_changed.clear()
                    await self._state_changed.wait()
        except TimeoutError:
            raise RealtimeError(
                f"realtime session not ready after {limit_s:g} s; check the network and "
                f"realtime.url ({self.config.url!r})"
            ) from None
        if self._fatal is not None:
            raise self._fatal

    def close_session(self) -> None:
        """End the session (or the connect attempts) now; the next `connect_soon` opens anew."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        self._outbox.audio.clear()
        self._outbox.events.clear()
        if self.state is not ClientState.FAILED:
            self._set_state(ClientState.CLOSED)

    async def aclose(self) -> None:
        """Close the session and stop reconnecting."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        await self._credentials.aclose()
        if self.state is not ClientState.FAILED:
            self._set_state(ClientState.CLOSED)

    async def __aenter__(self) -> RealtimeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> RealtimeClient:
        return self

    async def __anext__(self) -> Event:
        return await self.events.get()

    # -- verbs the turn core's actions map to (non-blocking, loop thread) ----------------------
    def send_audio(self, pcm: bytes) -> None:
        """Queue 24 kHz int16 mono mic audio, sent in 40 ms appends (buffered while connecting)."""
        dropped = self._outbox.add_audio(pcm)
        if dropped:
            log.warning(
                "mic buffer full while not connected; dropped %d ms", dropped // p.BYTES_PER_MS
            )
        self._pump_audio(flush=False)

    def commit(self) -> None:
        """End the user's input by hand (push-to-talk, or no server VAD)."""
        self._pump_audio(flush=True)
        self._send([p.input_audio_commit()])

    def clear_input(self) -> None:
        """Drop mic audio not yet committed, here and on the server."""
        self._outbox.drop_queued_audio()
        self._send([p.input_audio_clear()])

    def send_text(self, text: str) -> None:
        """A typed user message (the core asks for the reply)."""
        self._send([p.user_message(text)])

    def request_response(self, say: str = "") -> None:
        """Ask for a reply; `say`: an announcement the model must say word for word, no tools."""
        self._send([p.say_exactly(say) if say else p.response_create()])

    def cancel_response(self, response_id: str) -> None:
        self._send([p.response_cancel(response_id)])

    def truncate(self, item_id: str, audio_end_ms: int) -> None:
        self._send([p.item_truncate(item_id, audio_end_ms)])

    def send_function_output(self, call_id: str, output_json: str) -> None:
        self._send([p.function_call_output(call_id, output_json)])

    def add_note(self, text: str) -> None:
        self._send([p.system_message(text)])

    def update_tools(self) -> None:
        """The tool list changed (a source reconnected): the open session gets the new one."""
        self._send([p.session_update({"type": "realtime", "tools": self._tool_specs()})])

    def _tool_specs(self) -> list[dict[str, object]]:
        tools = self._tools() if callable(self._tools) else self._tools
        return [dict(t) for t in tools]

    def set_transcription(self, enabled: bool) -> None:
        """Transcribe the user's input (or stop); from the next session on too."""
        self._transcription = enabled or bool(self.config.transcription_model)
        model = self.config.transcription_model or p.DEFAULT_TRANSCRIPTION_MODEL
        self._send([p.transcription_update(model if self._transcription else None)])

    # -- internals: outgoing ---------------------------------------------------------------------
    def _send(self, events: Sequence[p.Json]) -> None:
        if self.state is not ClientState.READY:
            return  # the events belong to a session that is gone (or not yet there)
        self._outbox.push(events)
        self._wake.set()

    def _pump_audio(self, *, flush: bool) -> None:
        if self.state is not ClientState.READY:
            return
        chunks = self._outbox.cut_audio(flush=flush)
        if chunks:
            self._send(chunks)

    async def _writer(self, ws: ClientConnection) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox.events:
                ev = self._outbox.events.popleft()
                if self._debug and ev["type"] != "input_audio_buffer.append":
                    log.debug("> %s", json.dumps(ev)[:200])
                await ws.send(json.dumps(ev))

    # -- internals: the connection ---------------------------------------------------------------
    def _set_state(self, state: ClientState) -> None:
        self.state = state
        self._state_changed.set()

    async def _emit(self, event: Event) -> None:
        """Hand `event` to the app; waits (backpressure) while `events` is full."""
        if self.events.empty():
            self._is_reader_paused = False  # the app caught up
        elif self.events.full() and not self._is_reader_paused:
            self._is_reader_paused = True  # one warning per stall, not one per event
            log.warning(
                "app is %d realtime events behind; pausing the socket reader",
                self.events.qsize(),
            )
        await self.events.put(event)

    async def _run(self) -> None:
        """Connect (retrying) and serve one session; every way out is reported once, after
        the socket is closed (so a `connect_soon()` on hearing it opens a new session)."""
        ended: SessionLost | FatalRealtimeError
        try:
            ended = SessionLost(await self._connect_and_serve())
        except FatalRealtimeError as exc:
            ended = exc
        except Exception as exc:  # a bug or a hostile frame must not leave the turn hanging
            log.exception("realtime connection task failed")
            ended = SessionLost(f"internal error: {type(exc).__name__}")
        finally:
            await self._drop_session()
        self._task = None
        if isinstance(ended, FatalRealtimeError):
            await self._fail(ended)
            return
        self._set_state(ClientState.CLOSED)
        await self._emit(ended)

    async def _connect_and_serve(self) -> str:
        """Returns why the ready session ended."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake

        initial_s, max_s = self._backoff
        delays = p.backoff(initial_s, 2.0, max_s, rng=self._rng)
        while True:
            self._set_state(ClientState.CONNECTING)
            try:
                ws = await self._open()
                self.session_id = await self._handshake(ws)
            except FatalRealtimeError:
                raise
            except (OSError, TimeoutError, InvalidHandshake, RealtimeError, httpx.HTTPError) as exc:
                reason = describe(exc)
                log.warning("connect failed (%s); retrying", reason)
            except ConnectionClosed as exc:
                reason = f"connection closed during setup ({describe(exc)})"
            else:
                break
            await self._drop_session()
            await self._emit(SessionLost(reason, will_retry=True))
            await asyncio.sleep(next(delays))
        return await self._serve(ws)

    async def _fail(self, exc: FatalRealtimeError) -> None:
        self._fatal = exc
        log.error("%s", exc, extra={"ERROR_CODE": "fatal"})
        # FAILED first: ensure_connected() must not wait for the app to drain a full queue
        self._set_state(ClientState.FAILED)
        await self._emit(SessionFatal(str(exc)))

    async def _drop_session(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        self._outbox.events.clear()

    async def _open(self) -> ClientConnection:
        from edge_agent.realtime.opening import open_socket

        ws = await open_socket(
            session_url(self.config.url, self.model),
            await self._credentials.headers(self.model),
            open_timeout_s=self.config.connect_timeout_s,
            ping_interval_s=self._ping_interval_s,
            uses_relay=self._credentials.uses_relay,
        )
        self._ws = ws
        return ws

    async def _handshake(self, ws: ClientConnection) -> str:
        from edge_agent.realtime.opening import handshake

        return await handshake(
            ws,
            self._session,
            timeout_s=self.config.connect_timeout_s,
            model=self.model,
            configured=self.config.model,
        )

    async def _session(self) -> p.Json:
        # off the loop: the provider may read the memory store (SQLite on an SD card)
        instructions = await asyncio.to_thread(self._instructions)
        # interrupt_response off: the turn core decides interruptions (and guards against
        # the reply's own echo)
        return p.session_for(
            self.config,
            instructions=instructions,
            tools=self._tool_specs(),
            model=self.model,
            interrupt_response=False,
            transcription=self._transcription,
        )

    async def _serve(self, ws: ClientConnection) -> str:
        """The ready session until it ends; returns why it ended."""
        from websockets.exceptions import ConnectionClosed

        self._set_state(ClientState.READY)
        self.first_ready.set()
        log.info("realtime session ready", extra={"SESSION_ID": self.session_id})
        await self._emit(SessionReady(self.session_id))
        self._pump_audio(flush=False)
        writer = asyncio.create_task(self._writer(ws), name="realtime-writer")
        try:
            async for raw in ws:
                ev = p.parse_server_event(raw)
                if ev is None:
                    continue
                ended = await self._on_event(ev)
                if ended:
                    return ended
            return describe_close(ws.close_code, ws.close_reason)
        except ConnectionClosed as exc:
            log.warning("connection lost (%s)", describe(exc))
            return describe(exc)
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            if writer.done() and not writer.cancelled() and writer.exception() is not None:
                log.warning("send failed: %s", describe(writer.exception()))

    async def _on_event(self, ev: p.ServerEvent) -> str:
        """Translate and queue one server event; returns a reason when the session is over."""
        ended = session_outcome(
            ev, model=self.model, configured=self.config.model, culprit=self._outbox.type_of
        )
        if ended:
            return ended
        turn_event = to_turn_event(ev)
        if turn_event is not None:
            await self._emit(turn_event)
        self._pump_audio(flush=False)
        return ""
