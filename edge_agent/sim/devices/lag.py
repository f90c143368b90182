"""`DelayedChanges`: state changes an emulator applies some time after it answered.

ESPHome nodes apply a web_server POST in their main loop after answering 200; a Home Assistant
integration may report a service call done (``[]``) before the entity's state follows. The
emulators are driven by requests, so due changes are applied when the next request arrives
(`apply_due`), which is all a client can observe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["DelayedChanges"]


class DelayedChanges:
    """A queue of changes, each applied `lag_ms` after it was deferred."""

    def __init__(self, lag_ms: int = 0) -> None:
        self.lag_ms = lag_ms
        self._pending: list[tuple[float, Callable[[], None]]] = []

    def defer(self, change: Callable[[], None]) -> None:
        """Apply `change` after `lag_ms` (at once when the lag is 0)."""
        if self.lag_ms <= 0:
            change()
            return
        self._pending.append((time.monotonic() + self.lag_ms / 1000, change))

    def apply_due(self) -> None:
        """Apply every change whose time has come, in the order they were deferred."""
        now = time.monotonic()
        due = [c for t, c in self._pending if t <= now]
        self._pending = [(t, c) for t, c in self._pending if t > now]
        for change in due:
            change()
