"""The speaker component: owns `Playback`, plays earcons and reply audio, silences on barge-in.

Owns the write position of everything sent to the speaker and where each reply item's samples
sit in it, so it can report how much of each item has left the speaker (`snapshot()` → `Heard`,
from the playback's heard counter, not the bytes received) — the turn core truncates with that.
Carries out PlayEarcon, PlayReply, StopPlayback and AwaitPlayout (→ `PlayedOut` once drained).
Must not: decide anything about the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from edge_agent.app import Handlers
from edge_agent.assistant.ring_loop import RingLoop
from edge_agent.audio.devices import open_pyaudio
from edge_agent.audio.earcons import earcon
from edge_agent.audio.playback import Playback
from edge_agent.config import AudioConfig, EarconsConfig
from edge_agent.states import Event, PlayEarcon, StopPlayback
from edge_agent.turn.actions import AwaitPlayout, PlayReply, Ring
from edge_agent.turn.events import Heard, PlayedOut

__all__ = ["Speaker"]

log = logging.getLogger(__name__)

_KEPT_ITEMS = 16


class Speaker:
    """The speaker as an App component."""

    name = "speaker"

    def __init__(
        self,
        audio: AudioConfig,
        earcons: EarconsConfig,
        *,
        pa_factory: Callable[[], object] = open_pyaudio,
    ) -> None:
        # with echo cancellation the stream never stops: the echo path it learnt stays put
        keep = audio.echo_cancel != "off"
        self.playback = Playback(audio, pa_factory=pa_factory, keep_running=keep)
        self._earcons = earcons
        self.written_samples = 0  # position after the last sample queued (stop() rewinds it)
        self._segments: dict[str, list[tuple[int, int]]] = {}  # item -> [(start, length)]
        self._post: Callable[[Event], None] = lambda e: None
        self._waits: set[asyncio.Task[None]] = set()
        self._ringing: RingLoop | None = None

    async def start(self, post: Callable[[Event], None]) -> None:
        self._post = post
        await self.playback.start()

    def handlers(self) -> Handlers:
        return {
            PlayEarcon: lambda a: self.play_earcon(a.name),
            PlayReply: lambda a: self.write_reply(a.item_id, a.pcm),
            StopPlayback: lambda a: self.stop(),
            AwaitPlayout: self._await_playout,
            Ring: self._ring,
        }

    def is_healthy(self) -> bool:
        return True  # a lost speaker is retried on the next reply; the mic proves liveness

    async def aclose(self) -> None:
        if self._ringing is not None:
            await self._ringing.stop()
        for task in list(self._waits):
            task.cancel()
        await self.playback.aclose()

    # -- reply audio ---------------------------------------------------------------------------
    def write_reply(self, item_id: str, pcm: bytes) -> int:
        """Queue reply audio of `item_id`; returns the write position of its first sample."""
        at = self.written_samples
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16)
        self.playback.write(samples)
        self.written_samples += len(samples)
        self._segments.setdefault(item_id, []).append((at, len(samples)))
        while len(self._segments) > _KEPT_ITEMS:
            del self._segments[next(iter(self._segments))]
        return at

    def snapshot(self) -> Heard | None:
        """How much of each reply item has left the speaker (None: no reply audio tracked)."""
        if not self._segments:
            return None
        heard = self.playback.heard_samples
        return Heard(
            tuple(
                (item, sum(max(0, min(n, heard - start)) for start, n in segments))
                for item, segments in self._segments.items()
            )
        )

    def stop(self) -> None:
        """Silence now, drop everything queued; the write position rewinds to what was heard."""
        self.playback.stop()
        self.written_samples = self.playback.played_samples

    def play_earcon(self, name: str) -> None:
        samples = earcon(name, self._earcons)  # type: ignore[arg-type]
        if samples is None:
            return
        self._segments.clear()  # a new sound: earlier replies are over
        self.playback.write(samples)
        self.written_samples += len(samples)
        self.playback.end_of_stream()

    def _ring(self, action: Ring) -> None:
        """The ringing earcon on a loop (one cycle whenever the speaker is free) until off."""
        if action.on:
            if self._ringing is None:
                self._ringing = RingLoop(self.playback, earcon("ringing", self._earcons))
                self._ringing.start()
        elif self._ringing is not None:
            loop, self._ringing = self._ringing, None
            task = asyncio.create_task(loop.stop(), name="ringing-stop")
            self._waits.add(task)
            task.add_done_callback(self._waits.discard)

    def _await_playout(self, action: AwaitPlayout) -> None:
        task = asyncio.create_task(self._drain(action.token), name="speaker-playout")
        self._waits.add(task)
        task.add_done_callback(self._waits.discard)

    async def _drain(self, token: int) -> None:
        await self.playback.drain()
        self._post(PlayedOut(token))
