"""When to close the speech session between turns, sans-I/O: idle close and rotation.

A warm session makes follow-ups instant and keeps the conversation's context, but every
response re-bills the whole history (realtime-protocol.md §7) and the service caps a session at
60 minutes. So between turns (nothing streaming, no response or tool call pending) the session
is closed after `idle_close_s` without activity, and one older than `session_max_s` is closed
(rotated) so the next wake opens a fresh one well before the cap. During a turn neither happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SessionClock", "SessionPolicy"]


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_close_s: float = 180.0  # 0: never close for idleness
    session_max_s: float = 55 * 60.0


@dataclass(slots=True)
class SessionClock:
    """The session's age and activity, in the core's milliseconds."""

    policy: SessionPolicy
    is_open: bool = False  # connecting or ready
    is_ready: bool = False
    started_ms: int = 0
    last_activity_ms: int = 0

    def opened(self, now_ms: int) -> None:
        self.is_open, self.last_activity_ms = True, now_ms

    def ready(self, now_ms: int) -> None:
        self.is_open = self.is_ready = True
        self.started_ms = self.last_activity_ms = now_ms

    def closed(self) -> None:
        self.is_open = self.is_ready = False

    def touch(self, now_ms: int) -> None:
        self.last_activity_ms = now_ms

    def deadline_ms(self) -> int | None:
        """When `verdict` may next say close (only meaningful between turns)."""
        if not self.is_ready:
            return None
        due = [self.started_ms + round(self.policy.session_max_s * 1000)]
        if self.policy.idle_close_s > 0:
            due.append(self.last_activity_ms + round(self.policy.idle_close_s * 1000))
        return min(due)

    def verdict(self, now_ms: int) -> Literal["idle", "rotate"] | None:
        """Between turns: close for idleness, rotate for age, or keep the session."""
        if not self.is_ready:
            return None
        idle_ms = round(self.policy.idle_close_s * 1000)
        if idle_ms > 0 and now_ms - self.last_activity_ms >= idle_ms:
            return "idle"
        if now_ms - self.started_ms >= round(self.policy.session_max_s * 1000):
            return "rotate"
        return None
