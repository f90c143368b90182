"""The streamer component: mic audio to the speech session, from where the turn core says.

`StreamFrom(sample)` streams from capture sample `sample` (the wake word's estimated end, taken
from the capture ring, so the request is streamed from its first sample even when it was said in
one breath with the wake word) or from now on (None); from then on every captured sample is
handed to the client in order (`RealtimeClient.send_audio` buffers while the socket connects).
`StopStream(clear_input)` ends it, and drops the session's uncommitted input when asked.
Must not: decide when to stream (the turn core does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from edge_agent.app import Handlers
from edge_agent.audio.capture import RATE_HZ
from edge_agent.audio.ring import SamplesLost
from edge_agent.pipeline.listener import Listener
from edge_agent.realtime.client import RealtimeClient
from edge_agent.states import Event
from edge_agent.turn.actions import StopStream, StreamFrom
from edge_agent.turn.turnlog import TurnLog

__all__ = ["Streamer"]

log = logging.getLogger(__name__)


class Streamer:
    """Moves mic audio from the capture ring to the Realtime client."""

    name = "streamer"

    def __init__(self, listener: Listener, client: RealtimeClient, turns: TurnLog) -> None:
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

    def handlers(self) -> Handlers:
        return {StreamFrom: lambda a: self._start(a.sample), StopStream: self._on_stop}

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._stop()

    # -- internals ------------------------------------------------------------------------------
    def _on_stop(self, action: StopStream) -> None:
        self._stop()
        if action.clear_input:
            self._client.clear_input()

    def _start(self, sample: int | None) -> None:
        self._stop()
        capture = self._listener.capture
        head = capture.head
        start = head
        if sample is not None:
            oldest = max(0, head - self._listener.ring_samples + RATE_HZ // 10)
            start = min(head, max(oldest, sample))
        self.start_sample = start
        self.streamed_samples = 0
        self._task = asyncio.create_task(self._stream(start), name="mic-stream")

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _stream(self, start: int) -> None:
        client = self._client
        try:
            async for chunk in self._listener.capture.reader(start):
                client.send_audio(chunk.tobytes())
                self.streamed_samples += len(chunk)
                record = self._turns.current
                if record is not None:
                    record.streamed_samples += len(chunk)
        except SamplesLost as exc:
            log.error("mic stream fell behind: %s", exc, extra={"ERROR_CODE": "overrun"})
