"""The echo-cancellation component: puts the canceller between the mic and everything that hears it.

With `audio.echo_cancel` on, `start()` (before the mic opens) loads the canceller
(`audio.echo`), hands the speaker its tap (every period exactly as given to the device, on the
DAC-time grid: the sample-accurate played counter) and the capture its processor, so the ring
that the wake word and the streamer read holds the echo-cancelled signal, never the raw mic.
It then runs the near-end VAD over that signal (`audio.echo.NearEndVad`: the local VAD, each
speech stretch judged against the canceller, so the echo the filter left after the path moved
is not taken for the user) and tells the turn core (`EchoVad`) whenever its verdict or the
canceller's convergence changes: the full-duplex barge-in guard (`turn.guard`) trusts the
service's speech_started during a reply only on that word.

Owns: the reference, the canceller, the VAD and its reader task. Must not: decide barge-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from edge_agent.app import Handlers
from edge_agent.audio.capture import Capture
from edge_agent.audio.echo import EchoCanceller, EchoReference, NearEndVad, echo_parts
from edge_agent.audio.playback import Playback
from edge_agent.audio.ring import SamplesLost
from edge_agent.config import AudioConfig
from edge_agent.states import Event
from edge_agent.turn.events import EchoVad

__all__ = ["EchoControl"]

log = logging.getLogger(__name__)

_VAD_STEP: Final = 480  # 20 ms: the VAD's frame, so its verdict is never a frame late


class EchoControl:
    """Echo cancellation as an App component (present only when `audio.echo_cancel` is on)."""

    name = "echo"

    def __init__(self, audio: AudioConfig, playback: Playback, capture: Capture) -> None:
        self.audio = audio
        self.playback = playback
        self.capture = capture
        self.reference: EchoReference | None = None
        self.canceller: EchoCanceller | None = None
        self.near_end: NearEndVad | None = None  # the local VAD, judged against the echo
        self.verdicts = 0  # EchoVad events posted
        self._task: asyncio.Task[None] | None = None
        self._post: Callable[[Event], None] = lambda e: None

    async def start(self, post: Callable[[Event], None]) -> None:
        """Load the canceller and put it in place (the mic is not open yet).

        Raises:
            AudioDeviceError: libspeexdsp is missing (the message says what to install).
        """
        self._post = post
        parts = echo_parts(self.audio)
        assert parts is not None, "EchoControl is built only with echo_cancel on"
        self.reference, self.canceller = parts
        self.near_end = NearEndVad(self.canceller)
        self.playback.tap = self.reference.write
        self.capture.processor = self.canceller
        log.info(
            "echo cancellation on (%s, %d ms tail); measuring the echo path from the first reply",
            self.audio.echo_cancel,
            self.audio.echo_tail_ms,
        )
        self._task = asyncio.create_task(self._watch(), name="echo-vad")

    def handlers(self) -> Handlers:
        return {}

    def is_healthy(self) -> bool:
        return self._task is None or not self._task.done()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.playback.tap = None
        self.capture.processor = None
        if self.canceller is not None:
            self.canceller.close()

    @property
    def delay_ms(self) -> float | None:
        """The measured output->input delay beyond PortAudio's stamps, ms (None: not yet)."""
        c = self.canceller
        return None if c is None or not c.converged else c.delay * 1000 / 24000

    async def _watch(self) -> None:
        last: tuple[bool, bool] = (False, False)
        while self.capture.frames_received == 0:  # started before the mic (it must be)
            await asyncio.sleep(0.05)
        while True:
            try:
                async for chunk in self.capture.reader(min_samples=_VAD_STEP):
                    assert self.canceller is not None and self.near_end is not None
                    moves = self.near_end.moves
                    speaking = self.near_end.feed(chunk)
                    if self.near_end.moves != moves:
                        log.info("the echo path moved; followed (%.0f ms)", self.delay_ms or 0.0)
                    now = (speaking, self.canceller.converged)
                    if now != last:
                        if now[1] and not last[1]:
                            log.info(
                                "echo path measured: %.0f ms beyond the device's own delay",
                                self.delay_ms or 0.0,
                            )
                        last = now
                        self.verdicts += 1
                        self._post(EchoVad(*now))
                return  # the capture closed
            except SamplesLost:  # the loop stalled: read on from now
                continue
