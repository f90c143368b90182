"""The streamer component: mic audio to the Realtime session while the state machine says so.

`StartStreaming(from_preroll=True)` streams from the last detection's 24 kHz sample minus
`audio.preroll_ms`, taken from the capture ring, so "hey jarvis, what's the weather" said in one
breath loses nothing; from then on every captured sample is handed to the client in order
(`RealtimeClient.send_audio` buffers while the socket connects). `StopStreaming` ends it; when
the turn is over (idle, error, muted) the uncommitted input on the server is cleared.
Must not: touch the conversation (barge-in and truncation belong to the dialogue).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from edge_agent.audio.capture import RATE_HZ
from edge_agent.audio.ring import SamplesLost
from edge_agent.config import AudioConfig
from edge_agent.pipeline.listener import Listener
from edge_agent.pipeline.turnlog import TurnLog
from edge_agent.realtime.client import ClientState, RealtimeClient
from edge_agent.states import Action, Event, StartStreaming, State, StopStreaming

__all__ = ["Streamer"]

log = logging.getLogger(__name__)

_TURN_OVER = frozenset({State.IDLE, State.ERROR, State.MUTED})


class Streamer:
    """Moves mic audio from the capture ring to the Realtime client."""

    name = "streamer"

    def __init__(
        self, audio: AudioConfig, listener: Listener, client: RealtimeClient, turns: TurnLog
    ) -> None:
        self._audio = audio
        self._listener = listener
        self._client = client
        self._turns = turns
        self._task: asyncio.Task[None] | None = None
        self.start_sample: int | None = None  # where the current/last stream began (24 kHz)
        self.streamed_samples = 0  # in the current/last stream

    @property
    def is_streaming(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, post: Callable[[Event], None]) -> None:
        pass

    def handle(self, state: State, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, StartStreaming):
                self._start(action.from_preroll)
            elif isinstance(action, StopStreaming):
                self._stop()
                if state in _TURN_OVER:
                    self._client.clear_input()

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._stop()

    # -- internals ------------------------------------------------------------------------------
    def _start(self, from_preroll: bool) -> None:
        if self.is_streaming:
            return  # streaming is a level: already on
        capture = self._listener.capture
        head = capture.head
        start = head
        wake = self._listener.last_wake_sample
        if from_preroll and wake is not None:
            preroll = RATE_HZ * self._audio.preroll_ms // 1000
            oldest = max(0, head - self._listener.ring_samples + RATE_HZ // 10)
            start = min(head, max(oldest, wake - preroll))
        self.start_sample = start
        self.streamed_samples = 0
        self._client.connect_soon()
        self._task = asyncio.create_task(self._stream(start), name="mic-stream")

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _stream(self, start: int) -> None:
        client = self._client
        loop = asyncio.get_running_loop()
        try:
            async for chunk in self._listener.capture.reader(start):
                client.send_audio(chunk.tobytes())
                self.streamed_samples += len(chunk)
                record = self._turns.current
                if record is not None:
                    record.streamed_samples += len(chunk)
                    if client.state is ClientState.READY:
                        record.mark_stream_started(loop.time())
        except SamplesLost as exc:
            log.error("mic stream fell behind: %s", exc, extra={"ERROR_CODE": "overrun"})
