"""The timer scheduler: sleeps until the next timer or alarm is due, then posts `TimerFired`.

An App component. One task waits on the service's ``changed`` event with a timeout until the
soonest due time (re-armed whenever a timer is set or cancelled), so there is no polling loop;
the wait is capped at `MAX_WAIT_S` so a wall-clock step (NTP setting the clock of a Pi without
an RTC after boot), or a timer set from the `edge-agent tool` CLI (another process writing the
store), is noticed within a minute. Due times are wall-clock epoch seconds because
they must survive a restart. At start the first pass reports what came due while the daemon
was down: within ``timers.late_grace_s`` it rings (``late_s`` says how late), older ones are
posted with ``missed=True`` and logged as missed. Each fired entry is logged (TIMER_* fields)
and posted; ringing it is the turn core's job.

The clock (`wall`) and the wait (`wait`) are injected so tests run with a fake clock and no
sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from edge_agent.assistant.service import TimerService, log_timer_fired

__all__ = ["MAX_WAIT_S", "TimerScheduler", "wait_event"]

log = logging.getLogger(__name__)

MAX_WAIT_S: Final = 60.0
Wait = Callable[[asyncio.Event, float], Awaitable[None]]


async def wait_event(event: asyncio.Event, timeout_s: float) -> None:
    """Return when `event` is set or after `timeout_s`, whichever is first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


class TimerScheduler:
    """Posts a `TimerFired` for each due timer or alarm."""

    name = "timers"

    def __init__(
        self,
        service: TimerService,
        *,
        wall: Callable[[], float] = time.time,
        wait: Wait = wait_event,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self.service = service
        self._wall = wall
        self._wait = wait
        self._max_wait_s = max_wait_s
        self._task: asyncio.Task[None] | None = None
        self._post: Callable[[Any], None] | None = None
        self._pass = asyncio.Lock()  # one pass at a time: a due entry is posted once, in order
        self.failed = ""

    async def start(self, post: Callable[[Any], None]) -> None:
        """Open the store (a broken store disables timers, not the daemon) and start waiting."""
        self._post = post
        try:
            await self.service.store()
        except OSError as exc:
            self.failed = str(exc)
            log.error("timers disabled: %s", exc, extra={"ERROR_CODE": "store_error"})
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="timer-scheduler")

    def handle(self, state: Any, actions: Sequence[Any]) -> None:
        pass

    def is_healthy(self) -> bool:
        return self._task is None or not self._task.done()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.service.aclose()

    async def run_once(self) -> float:
        """One pass: post what is due now; return how long to wait for the next (seconds)."""
        async with self._pass:
            self.service.changed.clear()
            await self.service.reload_if_changed()
            for fired in await self.service.pop_due(self._wall()):
                log_timer_fired(fired, self.service.book.zone.key)
                if self._post is not None:
                    self._post(fired)
        due = self.service.book.next_due_s()
        if due is None:
            return self._max_wait_s
        return min(self._max_wait_s, max(0.0, due - self._wall()))

    async def _run(self) -> None:
        while True:
            try:
                delay = await self.run_once()
            except Exception:  # a bug must not silence every later timer
                log.exception("timer scheduler pass failed", extra={"ERROR_CODE": "timers"})
                delay = self._max_wait_s
            await self._wait(self.service.changed, delay)
