"""The echo-cancellation component: puts the canceller between the mic and everything that hears it.

With `audio.echo_cancel` on, `start()` (before the mic opens) loads the canceller
(`audio.echo`), hands the speaker its tap (every period exactly as given to the device, on the
DAC-time grid: the sample-accurate played counter) and the capture its processor, so the ring
that the wake word and the streamer read holds the echo-cancelled signal, never the raw mic.
It then runs the local VAD over that signal and tells the turn core (`EchoVad`) whenever the
verdict or the canceller's convergence changes: the full-duplex barge-in guard
(`turn.guard`) trusts the service's speech_started during a reply only on that word.

Owns: the reference, the canceller, the VAD and its reader task. Must not: decide barge-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

import numpy as np

from edge_agent.app import Handlers
from edge_agent.audio.capture import Capture
from edge_agent.audio.echo import EchoCanceller, EchoReference, LocalVad, echo_parts
from edge_agent.audio.playback import Playback
from edge_agent.audio.ring import SamplesLost
from edge_agent.config import AudioConfig
from edge_agent.states import Event
from edge_agent.turn.events import EchoVad

__all__ = ["EchoControl"]

log = logging.getLogger(__name__)

_VAD_STEP: Final = 480  # 20 ms: the VAD's frame, so its verdict is never a frame late
_ONSET_SAMPLES: Final = 7200  # 300 ms of output judged at a VAD onset
_ECHO_REMOVED_DB: Final = 6.0  # more removed than this: the onset is residual echo


class EchoControl:
    """Echo cancellation as an App component (present only when `audio.echo_cancel` is on)."""

    name = "echo"

    def __init__(self, audio: AudioConfig, playback: Playback, capture: Capture) -> None:
        self.audio = audio
        self.playback = playback
        self.capture = capture
        self.reference: EchoReference | None = None
        self.canceller: EchoCanceller | None = None
        self.vad = LocalVad()
        self.verdicts = 0  # EchoVad events posted
        self.echo_onsets = 0  # VAD onsets that were echo after the path moved (not posted)
        self._heard = False  # the VAD is in a speech stretch
        self._echo_onset = False  # ... and it began as echo: not speech till it ends
        self._tail = np.zeros(0, np.int16)  # the last output the VAD read
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

    def _is_echo(self) -> bool:
        """A VAD onset that is the reply's echo: the path moved (followed at once), or most of
        what the mic heard was removed (the filter is re-adapting: a talker would come through
        at about the mic's own level)."""
        c = self.canceller
        assert c is not None
        if not c.check_alignment():
            self.echo_onsets += 1
            log.info("the echo path moved; followed (%.0f ms)", self.delay_ms or 0.0)
            return True
        if c.removed_db(self._tail) > _ECHO_REMOVED_DB:
            self.echo_onsets += 1
            return True
        return False

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
                    state = self.vad.feed(chunk)
                    assert self.canceller is not None
                    self._tail = np.concatenate((self._tail, chunk))[-_ONSET_SAMPLES:]
                    speaking = state.speaking
                    if speaking and not self._heard:  # an onset: the user, or echo?
                        self._heard = True
                        self._echo_onset = self._is_echo()
                    elif not speaking:
                        self._heard = self._echo_onset = False
                    now = (speaking and not self._echo_onset, self.canceller.converged)
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
