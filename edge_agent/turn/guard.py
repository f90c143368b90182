"""The full-duplex barge-in guard, pure: is the service's speech_started the user, or our reply?

In full duplex the mic streams while a reply plays, so the service's VAD also hears whatever
echo of the reply the device did not remove. The guard decides, from literal inputs only:

- without a local VAD (no echo canceller): speech heard within `guard_ms` of the reply's first
  audio is taken for its echo and ignored; later speech barges in (the old rule);
- with a local VAD on the echo-cancelled mic (`EchoVad` events): speech barges in only if the
  local VAD agrees. It may agree a little after the service (the service's event can beat our
  20 ms frames, or lag them by the network): a start the VAD has not confirmed waits up to
  `confirm_ms` for it, and a VAD that stopped hearing speech less than `confirm_ms` ago still
  counts. 600 ms: on the rig the service's start came up to 90 ms before the local VAD's
  onset, and a talker over the reply's echo is confirmed 230-310 ms after their first word
  (`audio.echo.NearEndVad`: the onset is often taken for echo, then judged again); with
  400 ms, 3 of 10 talkers were ignored by 10-80 ms. Until the canceller has measured the echo path (`converged` false) the mic still
  holds the reply's echo, so the VAD proves nothing and server speech during a reply is
  ignored (the wake word and the talk button still interrupt), and the core does not stream
  during a reply at all (`trusts_the_mic`): full duplex starts once the echo path is known.

Owns: the last local VAD verdict and one pending start. Must not: read a clock or do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["BargeGuard", "GuardVerdict"]

Decision = Literal["barge_in", "ignore", "wait"]
DEFAULT_CONFIRM_MS: Final = 600


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """What to do with a speech start, and why (for the log line when it is ignored)."""

    decision: Decision
    why: str = ""


class BargeGuard:
    """`speech_started(now, reply_ms)` → verdict; `vad(...)`, `tick(now)` settle a waiting start."""

    def __init__(
        self, guard_ms: int = 0, *, local_vad: bool = False, confirm_ms: int = DEFAULT_CONFIRM_MS
    ) -> None:
        self.guard_ms = guard_ms
        self.local_vad = local_vad
        self.confirm_ms = confirm_ms
        self._speaking = False
        self._converged = False
        self._voice_stopped_ms: int | None = None  # when the VAD last stopped hearing speech
        self._pending_until_ms: int | None = None  # a start waits for the VAD until then
        self._pending_reply_ms = 0  # how far into the reply the waiting start came

    @property
    def trusts_the_mic(self) -> bool:
        """The mic may stream during a reply: no canceller, or one that has converged (before
        that the service would hear the reply's echo, and might answer it)."""
        return not self.local_vad or self._converged

    @property
    def is_waiting(self) -> bool:
        return self._pending_until_ms is not None

    def next_deadline_ms(self) -> int | None:
        return self._pending_until_ms

    def vad(self, speaking: bool, converged: bool, now_ms: int) -> bool:
        """The local VAD's new verdict; True: it confirms the waiting start (barge in now)."""
        if self._speaking and not speaking:
            self._voice_stopped_ms = now_ms
        self._speaking, self._converged = speaking, converged
        if self._pending_until_ms is not None and speaking and converged:
            self._pending_until_ms = None
            return True
        return False

    def speech_started(self, now_ms: int, reply_ms: int | None) -> GuardVerdict:
        """The service heard speech; `reply_ms`: how long ago the reply's audio began (None:
        no reply is playing, nothing to guard against)."""
        self._pending_until_ms = None
        if reply_ms is None:
            return GuardVerdict("barge_in")
        if not self.local_vad:
            if reply_ms < self.guard_ms:
                return GuardVerdict(
                    "ignore", f"speech {reply_ms} ms into the reply ignored (its own echo)"
                )
            return GuardVerdict("barge_in")
        if not self._converged:
            return GuardVerdict(
                "ignore",
                f"speech {reply_ms} ms into the reply ignored: the echo canceller has not "
                "measured the echo path yet",
            )
        stopped = self._voice_stopped_ms
        # speech the VAD heard just before counts, but only if it ended during this reply
        # (the user's question ending as the reply begins is no barge-in)
        recent = (
            stopped is not None
            and stopped >= now_ms - reply_ms  # ended after the reply began
            and stopped >= now_ms - self.confirm_ms
        )
        if self._speaking or recent:
            return GuardVerdict("barge_in")
        self._pending_until_ms = now_ms + self.confirm_ms
        self._pending_reply_ms = reply_ms
        return GuardVerdict("wait")

    def tick(self, now_ms: int) -> GuardVerdict | None:
        """A waiting start the VAD never confirmed is dropped: the verdict to log, or None."""
        if self._pending_until_ms is None or now_ms < self._pending_until_ms:
            return None
        self._pending_until_ms = None
        return GuardVerdict(
            "ignore",
            f"speech {self._pending_reply_ms} ms into the reply ignored: the local VAD on the "
            "echo-cancelled mic heard nobody (its own echo)",
        )

    def cancel(self) -> None:
        """The reply ended or was interrupted otherwise: a waiting start is moot."""
        self._pending_until_ms = None
