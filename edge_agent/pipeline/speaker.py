"""The speaker component: owns `Playback`, plays earcons, silences on barge-in.

Owns: the write position of everything sent to the speaker (`written_samples`), so the dialogue
can tell how much of one reply item was really played (`played_since`) for
``conversation.item.truncate``. Reply audio comes from the dialogue through `write_reply`.
Must not: decide anything about the conversation; it follows actions (PlayEarcon, StopPlayback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from edge_agent.audio.devices import open_pyaudio
from edge_agent.audio.earcons import earcon
from edge_agent.audio.playback import Playback
from edge_agent.config import AudioConfig, EarconsConfig
from edge_agent.states import Action, Event, PlayEarcon, State, StopPlayback

__all__ = ["Speaker"]

log = logging.getLogger(__name__)


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
        self.playback = Playback(audio, pa_factory=pa_factory)  # type: ignore[arg-type]
        self._earcons = earcons
        self.written_samples = 0  # position after the last sample queued (stop() rewinds it)

    async def start(self, post: Callable[[Event], None]) -> None:
        await self.playback.start()

    def handle(self, state: State, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, StopPlayback):
                self.stop()
            elif isinstance(action, PlayEarcon):
                self.play_earcon(action.name)

    def is_healthy(self) -> bool:
        return True  # a lost speaker is retried on the next reply; the mic proves liveness

    async def aclose(self) -> None:
        await self.playback.aclose()

    # -- used by the dialogue -----------------------------------------------------------------
    def write_reply(self, pcm: bytes) -> int:
        """Queue reply audio; returns the write position of its first sample."""
        at = self.written_samples
        self.playback.write(np.frombuffer(pcm, dtype=np.int16))
        self.written_samples += len(pcm) // 2
        return at

    def played_since(self, position: int) -> int:
        """Samples played from write position `position` on (0 if it has not started)."""
        return max(0, self.playback.played_samples - position)

    def stop(self) -> None:
        """Silence now, drop everything queued; the write position rewinds to what played."""
        self.playback.stop()
        self.written_samples = self.playback.played_samples

    def play_earcon(self, name: str) -> None:
        samples = earcon(name, self._earcons)  # type: ignore[arg-type]
        if samples is None:
            return
        self.playback.write(samples)
        self.written_samples += len(samples)
        self.playback.end_of_stream()
