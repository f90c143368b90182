"""The Realtime connection: a thin asyncio shell around `protocol` and `conversation`.

Owns the WebSocket (websockets asyncio client), auth (API key, or an ephemeral secret fetched
from `realtime.token_url` with httpx before each connect), the session setup, reconnects with
backoff and jitter, idle close, session rotation and the hand-off of events to the app. It makes
no conversation decisions: every rule lives in `Conversation`; this module only moves data.

Lifecycle: nothing connects until `connect_soon()` / `ensure_connected()` (first wake). Audio
given to `send_audio()` meanwhile is buffered and sent once the session is ready. The session
closes after `idle_close_s` without activity and is rotated (closed and reopened, instructions
and tools reseeded) between turns once it is `session_max_s` old. Fatal refusals (401/403,
invalid key, unknown model, quota, beta shape) stop everything and surface one
`FatalRealtimeError`; other failures reconnect with backoff.

Events for the app arrive on `events` (an asyncio.Queue; the client is also an async iterator):
the `protocol` server events (SpeechStarted, AudioDelta, FunctionCallDone, ResponseDone...) plus
`Connected`, `ConnectionLost` and `Fatal` from here.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from edge_agent.config import RealtimeConfig, Secret
from edge_agent.errors import FatalRealtimeError, RealtimeError
from edge_agent.realtime import protocol as p
from edge_agent.realtime.auth import Credentials, RedactingLogger, session_url
from edge_agent.realtime.conversation import DEFAULT_TOOL_BUDGET_MS, Conversation

__all__ = [
    "ClientState",
    "Connected",
    "ConnectionLost",
    "Fatal",
    "RealtimeClient",
    "RealtimeEvent",
]

log = logging.getLogger(__name__)
_WIRE_LOG: Final = RedactingLogger(logging.getLogger("websockets.client"))

WS_MAX_SIZE: Final = 16 * 2**20  # long audio deltas and response.done exceed the 1 MiB default
_ROTATE_QUIET_S: Final = 1.0
_SENT_TYPES_KEPT: Final = 64  # no mic audio for this long = between turns
_FATAL_HTTP: Final = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class Connected:
    """The session is ready (session.updated received); audio flows."""

    session_id: str
    reconnected: bool  # after a lost connection: the previous turn is gone
    rotated: bool  # planned rotation or server expiry: instructions and tools were reseeded


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    reason: str
    will_retry: bool


@dataclass(frozen=True, slots=True)
class Fatal:
    """Retrying cannot help; `error` is also raised by `ensure_connected()`."""

    error: FatalRealtimeError


RealtimeEvent = p.ServerEvent | Connected | ConnectionLost | Fatal


class ClientState(enum.Enum):
    CLOSED = "closed"
    CONNECTING = "connecting"
    READY = "ready"
    FAILED = "failed"


class _End(enum.Enum):
    """Why one session ended."""

    IDLE = "idle"
    ROTATE = "rotate"
    EXPIRED = "expired"
    DROPPED = "dropped"


class RealtimeClient:
    """One Realtime conversation, lazily connected and kept alive across sessions."""

    def __init__(
        self,
        config: RealtimeConfig,
        api_key: Secret,
        *,
        tools: Sequence[Mapping[str, object]] = (),
        instructions: Callable[[], str] | None = None,
        http: httpx.AsyncClient | None = None,
        tool_budget_ms: int = DEFAULT_TOOL_BUDGET_MS,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_buffered_s: float = 30.0,
        ping_interval_s: float | None = 20.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._credentials = Credentials(config, api_key, http)
        self._tools = [dict(t) for t in tools]
        self._instructions = instructions or (lambda: config.instructions)
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._max_buffered_bytes = int(max_buffered_s * 1000) * p.BYTES_PER_MS
        self._ping_interval_s = ping_interval_s
        self._clock = clock
        self._rng = rng or random.Random()
        self.conversation = Conversation(tool_budget_ms=tool_budget_ms)
        self.events: asyncio.Queue[RealtimeEvent] = asyncio.Queue()
        self.state = ClientState.CLOSED
        self.session_id = ""
        self._fatal: FatalRealtimeError | None = None
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._audio = bytearray()  # mic audio not yet sent (connecting)
        self._held_dropped_bytes = 0
        self._outbox: collections.deque[p.Json] = collections.deque()
        self._wake = asyncio.Event()
        self._state_changed = asyncio.Event()
        self._session_started_s = 0.0
        self._last_activity_s = clock()
        self._last_audio_s = 0.0
        self._event_seq = 0
        self._sent_types: dict[str, str] = {}  # event_id -> type, to name the culprit of errors
        self._debug = log.isEnabledFor(logging.DEBUG)

    # -- lifecycle -----------------------------------------------------------------------------
    def connect_soon(self) -> None:
        """Start connecting in the background (no-op when connected, connecting or failed)."""
        self._last_activity_s = self._clock()
        if self._fatal is None and (self._task is None or self._task.done()):
            self._set_state(ClientState.CONNECTING)
            self._task = asyncio.create_task(self._run(), name="realtime-connection")

    async def ensure_connected(self, timeout_s: float | None = None) -> None:
        """Connect if needed and wait until the session is ready.

        Raises:
            FatalRealtimeError: the service refused us (bad key, model, quota); no retry.
            RealtimeError: not ready within `timeout_s` (default: connect_timeout_s); the
                client keeps trying in the background and keeps buffering audio.
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

    async def __anext__(self) -> RealtimeEvent:
        return await self.events.get()

    # -- audio and conversation commands (non-blocking) ----------------------------------------
    def send_audio(self, pcm: bytes) -> None:
        """Queue 24 kHz int16 mono mic audio, sent in 40 ms appends; call it on the loop thread.

        Audio given while connecting is kept and sent once the session is ready; audio given
        while a tool call is pending (`conversation.is_input_held`) is dropped.
        """
        now = self._clock()
        self._last_activity_s = self._last_audio_s = now
        if self.state is ClientState.READY and self.conversation.is_input_held:
            # a tool result is pending: speech now must not start a reply without it, and
            # sending it later would interrupt the reply that carries the result
            self._held_dropped_bytes += len(pcm)
            return
        if self._held_dropped_bytes:
            log.info(
                "dropped %d ms of mic audio while a tool was pending",
                self._held_dropped_bytes // 48,
            )
            self._held_dropped_bytes = 0
        self._audio += pcm
        overflow = len(self._audio) - self._max_buffered_bytes
        if overflow > 0:
            overflow += overflow % 2
            del self._audio[:overflow]
            log.warning("mic buffer full while not connected; dropped %d ms", overflow // 48)
        self._pump_audio(flush=False)

    def commit(self) -> None:
        """End the user's turn by hand (push-to-talk, or no server VAD)."""
        self._pump_audio(flush=True)
        self._send([p.input_audio_commit()])

    def clear_input(self) -> None:
        """Drop mic audio not yet committed, here and on the server."""
        self._audio.clear()
        self._outbox = collections.deque(
            e for e in self._outbox if e["type"] != "input_audio_buffer.append"
        )
        if self.state is ClientState.READY:
            self._send([p.input_audio_clear()])

    def send_text(self, text: str) -> None:
        """A typed user message, then a reply (queued while a response is active)."""
        self._send([p.user_message(text), *self.conversation.request_response()])

    def request_response(self) -> None:
        self._send(self.conversation.request_response())

    def send_function_output(self, call_id: str, output_json: str) -> None:
        """The tool result (a JSON string); the turn's single response.create follows when due."""
        self._send(self.conversation.send_function_output(call_id, output_json))
        self._pump_audio(flush=False)

    def report_played(self, item_id: str, samples: int) -> None:
        """The playback counter: `samples` of `item_id` have been played so far."""
        self.conversation.report_played(item_id, samples)

    def barge_in(self, played_ms: int | None = None, *, clear_input: bool = True) -> None:
        """Stop the reply: cancel, truncate at `played_ms` (default: the reported counter).

        `clear_input=True` (local barge-in: wake word, button) also drops the mic audio not yet
        committed; pass False after a server `SpeechStarted`, whose speech is the next question.
        """
        if clear_input:
            self._audio.clear()
        self._send(self.conversation.barge_in(played_ms, clear_input=clear_input))

    # -- internals: outgoing ---------------------------------------------------------------------
    def _send(self, events: Sequence[p.Json]) -> None:
        if self.state is not ClientState.READY:
            return  # the events belong to a session that is gone (or not yet there)
        for ev in events:
            self._event_seq += 1
            ev.setdefault("event_id", f"evt_{self._event_seq}")
            if ev["type"] != "input_audio_buffer.append":
                self._sent_types[str(ev["event_id"])] = str(ev["type"])
                while len(self._sent_types) > _SENT_TYPES_KEPT:
                    del self._sent_types[next(iter(self._sent_types))]
            self._outbox.append(ev)
        self._wake.set()

    def _pump_audio(self, *, flush: bool) -> None:
        if self.state is not ClientState.READY or self.conversation.is_input_held:
            return
        chunks = []
        while len(self._audio) >= p.CHUNK_BYTES or (flush and self._audio):
            chunks.append(p.input_audio_append(bytes(self._audio[: p.CHUNK_BYTES])))
            del self._audio[: p.CHUNK_BYTES]
        if chunks:
            self._send(chunks)

    async def _writer(self, ws: ClientConnection) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                ev = self._outbox.popleft()
                if self._debug and ev["type"] != "input_audio_buffer.append":
                    log.debug("> %s", json.dumps(ev)[:200])
                await ws.send(json.dumps(ev))

    # -- internals: connection loop --------------------------------------------------------------
    def _set_state(self, state: ClientState) -> None:
        self.state = state
        self._state_changed.set()

    def _emit(self, event: RealtimeEvent) -> None:
        self.events.put_nowait(event)

    async def _run(self) -> None:
        delays = p.backoff(*self._backoff_args(), rng=self._rng)
        reconnected = rotated = False
        while True:
            self._set_state(ClientState.CONNECTING)
            try:
                ws = await self._open()
                end = await self._serve(ws, reconnected=reconnected, rotated=rotated)
            except FatalRealtimeError as exc:
                self._fail(exc)
                return
            except (OSError, TimeoutError, InvalidHandshake, RealtimeError, httpx.HTTPError) as exc:
                end, reason = _End.DROPPED, _describe(exc)
                log.warning("connect failed (%s); reconnecting", reason)
                self._emit(ConnectionLost(reason, will_retry=True))
            else:
                reason = end.value
                delays = p.backoff(*self._backoff_args(), rng=self._rng)  # reset on success
            finally:
                await self._drop_session()
            if end is _End.IDLE:
                self._set_state(ClientState.CLOSED)
                return
            reconnected = end is _End.DROPPED
            rotated = end in (_End.ROTATE, _End.EXPIRED)
            if end is _End.DROPPED:
                await asyncio.sleep(next(delays))

    def _backoff_args(self) -> tuple[float, float, float]:
        initial_s, max_s = self._backoff
        return initial_s, 2.0, max_s

    def _fail(self, exc: FatalRealtimeError) -> None:
        self._fatal = exc
        log.error("%s", exc, extra={"ERROR_CODE": "fatal"})
        self._emit(Fatal(exc))
        self._set_state(ClientState.FAILED)

    async def _drop_session(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        self._outbox.clear()
        self.conversation.reset()

    async def _open(self) -> ClientConnection:
        headers = await self._credentials.headers()
        try:
            ws = await connect(
                session_url(self.config.url, self.config.model),
                additional_headers=headers,
                max_size=WS_MAX_SIZE,
                open_timeout=self.config.connect_timeout_s,
                ping_interval=self._ping_interval_s,
                ping_timeout=self._ping_interval_s,
                compression=None,  # audio is base64 noise: deflate costs CPU for nothing
                logger=_WIRE_LOG,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in _FATAL_HTTP:
                what = "client secret" if self._credentials.uses_relay else "api key"
                raise FatalRealtimeError(
                    f"realtime service refused the {what} (http {status}); check the key "
                    "(or realtime.token_url) and its permissions"
                ) from None
            raise RealtimeError(f"realtime handshake failed: http {status}") from None
        self._ws = ws
        return ws

    async def _handshake(self, ws: ClientConnection) -> str:
        """session.created → session.update (instructions, tools) → session.updated."""
        async with asyncio.timeout(self.config.connect_timeout_s):
            session_id = ""
            while True:
                ev = p.parse_server_event(await ws.recv())
                if isinstance(ev, p.ServerError):
                    self._check_error(ev)
                    raise RealtimeError(f"session setup failed: {ev.code}")
                if isinstance(ev, p.SessionCreated):
                    session_id = ev.session_id
                    update = p.session_update(self._session(), event_id="evt_session")
                    await ws.send(json.dumps(update))
                elif isinstance(ev, p.SessionUpdated) and session_id:
                    return session_id

    def _session(self) -> p.Json:
        c = self.config
        return p.build_session(
            model=c.model,
            voice=c.voice,
            instructions=self._instructions(),
            tools=self._tools,
            speed=c.speed,
            noise_reduction=c.noise_reduction,
            vad_threshold=c.vad_threshold,
            prefix_padding_ms=c.prefix_padding_ms,
            silence_duration_ms=c.silence_duration_ms,
            transcription_model=c.transcription_model,
            max_output_tokens=c.max_output_tokens,
        )

    def _check_error(self, ev: p.ServerError) -> None:
        if ev.is_fatal:
            raise FatalRealtimeError(
                f"realtime service error {ev.code!r}: {ev.message.lower().rstrip('.') or 'no detail'}; "
                f"check the api key, realtime.model ({self.config.model!r}) and the account quota"
            )

    async def _serve(self, ws: ClientConnection, *, reconnected: bool, rotated: bool) -> _End:
        try:
            self.session_id = await self._handshake(ws)
        except ConnectionClosed as exc:
            raise RealtimeError(f"connection closed during setup ({_describe(exc)})") from None
        now = self._clock()
        self._session_started_s = self._last_activity_s = now
        self.conversation.reset()
        self._set_state(ClientState.READY)
        log.info("realtime session ready", extra={"SESSION_ID": self.session_id})
        self._emit(Connected(self.session_id, reconnected=reconnected, rotated=rotated))
        self._pump_audio(flush=False)
        writer = asyncio.create_task(self._writer(ws), name="realtime-writer")
        try:
            return await self._read(ws)
        except ConnectionClosed as exc:
            self._set_state(ClientState.CONNECTING)
            self._emit(ConnectionLost(_describe(exc), will_retry=True))
            log.warning("connection lost (%s); reconnecting", _describe(exc))
            return _End.DROPPED
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            if writer.done() and not writer.cancelled() and writer.exception() is not None:
                log.warning("send failed: %s", _describe(writer.exception()))

    async def _read(self, ws: ClientConnection) -> _End:
        while True:
            try:
                async with asyncio.timeout(self._next_timer_s()):
                    raw = await ws.recv()
            except TimeoutError:
                end = self._on_timer()
                if end is not None:
                    return end
                continue
            ev = p.parse_server_event(raw)
            if ev is not None:
                end = self._on_event(ev)
                if end is not None:
                    return end
            if self._next_timer_s(cap_s=None) <= 0:
                end = self._on_timer()
                if end is not None:
                    return end

    def _on_event(self, ev: p.ServerEvent) -> _End | None:
        if isinstance(ev, p.ServerError):
            self._check_error(ev)
            if ev.code == "session_expired":
                self._set_state(ClientState.CONNECTING)
                self._emit(ConnectionLost("session expired", will_retry=True))
                log.info("session expired; opening a new one")
                return _End.EXPIRED
            culprit = self._sent_types.get(ev.event_id, "")
            log.warning(
                "realtime error %s%s: %s",
                ev.code,
                f" (our {culprit} event)" if culprit else "",
                ev.message,
                extra={"ERROR_CODE": ev.code},
            )
        elif isinstance(ev, p.ResponseDone):
            self._last_activity_s = self._clock()
            _log_usage(ev)
        self._send(self.conversation.receive(ev, int(self._clock() * 1000)))
        self._pump_audio(flush=False)
        if not isinstance(ev, p.SessionCreated | p.SessionUpdated):
            self._emit(ev)
        return None

    def _next_timer_s(self, cap_s: float | None = 1.0) -> float:
        now = self._clock()
        due = [self._session_started_s + self.config.session_max_s]
        if self.config.idle_close_s > 0:
            due.append(self._last_activity_s + self.config.idle_close_s)
        deadline_ms = self.conversation.next_deadline_ms()
        if deadline_ms is not None:
            due.append(deadline_ms / 1000)
        left_s = min(due) - now
        return left_s if cap_s is None else max(0.01, min(left_s, cap_s))

    def _on_timer(self) -> _End | None:
        now = self._clock()
        self._send(self.conversation.tick(int(now * 1000)))
        self._pump_audio(flush=False)
        between_turns = self.conversation.is_idle and now - self._last_audio_s >= _ROTATE_QUIET_S
        if not between_turns:
            return None
        idle_s = self.config.idle_close_s
        if idle_s > 0 and now - self._last_activity_s >= idle_s:
            log.info("closing idle realtime session")
            return _End.IDLE
        if now - self._session_started_s >= self.config.session_max_s:
            log.info("rotating the realtime session")
            return _End.ROTATE
        return None


def _describe(exc: BaseException | None) -> str:
    """A short cause for logs and events; never includes headers (they hold the key)."""
    if isinstance(exc, ConnectionClosed):
        rcvd = exc.rcvd
        return f"close code {rcvd.code}" if rcvd is not None else "connection dropped"
    if isinstance(exc, InvalidStatus):
        return f"http {exc.response.status_code}"
    if isinstance(exc, RealtimeError):
        return str(exc)
    return type(exc).__name__ + (f": {exc}" if isinstance(exc, OSError) else "")


def _log_usage(ev: p.ResponseDone) -> None:
    u = ev.usage
    log.info(
        "response %s: %d in / %d out tokens (%d audio out)",
        ev.status,
        u.input_tokens,
        u.output_tokens,
        u.output_audio_tokens,
        extra={
            "STATUS": ev.status,
            "INPUT_TOKENS": u.input_tokens,
            "OUTPUT_TOKENS": u.output_tokens,
        },
    )
