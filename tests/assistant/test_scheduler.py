"""The timer scheduler with a fake wall clock and a fake wait: no sleeping, exact times."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge_agent.assistant.scheduler import TimerScheduler
from edge_agent.assistant.service import TimerService
from edge_agent.assistant.timers import TimerBook, TimerFired
from edge_agent.config import TimersConfig
from tests.assistant.conftest import Wall, utc

BERLIN = ZoneInfo("Europe/Berlin")
T0 = utc(2026, 12, 2, 17, 0)


def _service(path: Path, wall: Wall, **cfg: float) -> TimerService:
    return TimerService(path, TimersConfig(**cfg), TimerBook(BERLIN), wall=wall)  # type: ignore[arg-type]


class Waits:
    """A fake wait: records each timeout, returns when the event is set or the test says go."""

    def __init__(self, wall: Wall) -> None:
        self.wall = wall
        self.timeouts: list[float] = []
        self.waiting = asyncio.Event()
        self._seen = 0
        self._go: asyncio.Future[None] | None = None

    async def __call__(self, event: asyncio.Event, timeout_s: float) -> None:
        self.timeouts.append(round(timeout_s, 3))
        self._go = asyncio.get_running_loop().create_future()
        self.waiting.set()
        changed = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({changed, self._go}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
        self.waiting.clear()

    async def next_wait(self) -> float:
        """The timeout of the scheduler's next wait (after the last one this returned)."""
        async with asyncio.timeout(5):
            while len(self.timeouts) <= self._seen or not self.waiting.is_set():
                await asyncio.sleep(0)
        self._seen = len(self.timeouts)
        return self.timeouts[-1]

    def elapse(self) -> None:
        """The whole timeout passes: move the wall clock and end the wait."""
        assert self._go is not None
        self.wall.now += self.timeouts[-1]
        self._go.set_result(None)


async def test_run_once_posts_a_due_timer_and_logs_timer_fields(tmp_path: Path, caplog) -> None:
    wall = Wall(T0)
    service = _service(tmp_path / "a.sqlite3", wall)
    posted: list[object] = []
    scheduler = TimerScheduler(service, wall=wall)
    await scheduler.start(posted.append)
    try:
        await service.set_timer("3 seconds", "tea")
        assert await scheduler.run_once() == 3.0
        assert posted == []
        wall.now += 3.0
        caplog.set_level(logging.INFO, logger="edge_agent.assistant.service")
        assert await scheduler.run_once() == 60.0  # nothing left: wake once a minute
        assert posted == [TimerFired(1, "timer", "tea", T0 + 3.0, 0.0)]
        (record,) = [r for r in caplog.records if r.name == "edge_agent.assistant.service"]
        assert record.getMessage() == "timer 'tea' rings"
        assert (record.TIMER_ID, record.TIMER_KIND, record.TIMER_LABEL) == (1, "timer", "tea")
        assert (record.TIMER_OUTCOME, record.TIMER_LATE_MS, record.TIMER_ZONE) == (
            "ring",
            0,
            "Europe/Berlin",
        )
    finally:
        await scheduler.aclose()


async def test_the_wait_is_rearmed_when_timers_change(tmp_path: Path) -> None:
    wall = Wall(T0)
    service = _service(tmp_path / "a.sqlite3", wall)
    waits = Waits(wall)
    posted: list[TimerFired] = []
    scheduler = TimerScheduler(service, wall=wall, wait=waits)
    await scheduler.start(posted.append)
    try:
        assert await waits.next_wait() == 60.0
        await service.set_timer(50, "pasta")  # wakes the scheduler: re-armed for 50 s
        assert await waits.next_wait() == 50.0
        await service.set_timer(30, "eggs")  # sooner
        assert await waits.next_wait() == 30.0
        await service.cancel(label="eggs")
        assert await waits.next_wait() == 50.0
        wall.now += 40  # ten seconds before the pasta is due
        await service.set_timer(5, "tea")
        assert await waits.next_wait() == 5.0
        waits.elapse()
        assert await waits.next_wait() == 5.0
        assert [(f.label, f.late_s) for f in posted] == [("tea", 0.0)]
        waits.elapse()
        assert await waits.next_wait() == 60.0
        assert [f.label for f in posted] == ["tea", "pasta"]
        await service.set_timer(3600, "roast")  # far off: still woken once a minute
        assert await waits.next_wait() == 60.0
        assert waits.timeouts == [60.0, 50.0, 30.0, 50.0, 5.0, 5.0, 60.0, 60.0]
    finally:
        await scheduler.aclose()


async def test_several_due_at_once_all_ring(tmp_path: Path) -> None:
    wall = Wall(T0)
    service = _service(tmp_path / "a.sqlite3", wall)
    posted: list[TimerFired] = []
    scheduler = TimerScheduler(service, wall=wall)
    await scheduler.start(posted.append)
    try:
        for label in ("a", "b", "c"):
            await service.set_timer(60, label)
        wall.now += 61
        await scheduler.run_once()
        assert [(f.timer_id, f.label, f.late_s) for f in posted] == [
            (1, "a", 1.0),
            (2, "b", 1.0),
            (3, "c", 1.0),
        ]
        assert (await service.list())["count"] == 0
    finally:
        await scheduler.aclose()


async def test_after_a_restart_late_ones_ring_and_old_ones_are_reported(
    tmp_path: Path, caplog
) -> None:
    path = tmp_path / "a.sqlite3"
    wall = Wall(T0)
    before = _service(path, wall)
    await before.set_timer(60, "short")
    await before.set_timer(900, "long")
    await before.set_alarm("18:30", "daily", ["daily"])
    await before.set_timer(7200, "later")
    await before.aclose()  # the daemon stops (or is killed: every write is committed)

    wall.now = T0 + 1960  # back up 18:32:40; short is 1900 s late, long 1060 s, daily 160 s
    caplog.set_level(logging.INFO)
    after = _service(path, wall, late_grace_s=300.0)
    posted: list[TimerFired] = []
    scheduler = TimerScheduler(after, wall=wall)
    await scheduler.start(posted.append)
    try:
        await scheduler.run_once()
        assert [(f.label, f.late_s, f.missed) for f in posted] == [
            ("short", 1900.0, True),
            ("long", 1060.0, True),
            ("daily", 160.0, False),
        ]
        missed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert missed == [
            "timer 'short' missed: it came due 1900 s ago while the daemon was not running",
            "timer 'long' missed: it came due 1060 s ago while the daemon was not running",
        ]
        left = (await after.list())["timers"]
        assert [(t["label"], t["day"], t["rings_at"]) for t in left] == [
            ("later", "today", "20:00"),
            ("daily", "tomorrow", "18:30"),
        ]
    finally:
        await scheduler.aclose()


async def test_an_unusable_store_disables_timers_not_the_daemon(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    scheduler = TimerScheduler(_service(blocker / "a.sqlite3", Wall(T0)))
    await scheduler.start(lambda e: None)
    assert "timers disabled" in caplog.text and scheduler.is_healthy()
    await scheduler.aclose()


@pytest.mark.parametrize("step_s", [-3600.0, 3600.0])
async def test_a_wall_clock_step_is_noticed_at_the_next_pass(tmp_path: Path, step_s: float) -> None:
    wall = Wall(T0)
    service = _service(tmp_path / "a.sqlite3", wall)
    posted: list[TimerFired] = []
    scheduler = TimerScheduler(service, wall=wall)
    await scheduler.start(posted.append)
    try:
        await service.set_timer(1800, "x")
        assert await scheduler.run_once() == 60.0  # capped: a clock step is seen within 60 s
        wall.now += step_s  # NTP sets the clock
        delay = await scheduler.run_once()
        if step_s > 0:
            assert [f.label for f in posted] == ["x"] and delay == 60.0
        else:
            assert posted == [] and delay == 60.0
    finally:
        await scheduler.aclose()


async def test_timers_set_by_another_process_are_taken_in(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    wall = Wall(T0)
    daemon = _service(path, wall)
    posted: list[TimerFired] = []
    scheduler = TimerScheduler(daemon, wall=wall)
    await scheduler.start(posted.append)
    cli = _service(path, wall)  # `edge-agent tool set_timer` in another process
    try:
        await daemon.set_timer(600, "daemon's")
        assert await scheduler.run_once() == 60.0
        await cli.set_timer(30, "from the cli")
        assert await scheduler.run_once() == 30.0
        await cli.cancel(label="daemon's")
        await scheduler.run_once()
        assert [e.label for e in daemon.book.entries] == ["from the cli"]
        wall.now += 30
        await scheduler.run_once()
        assert [f.label for f in posted] == ["from the cli"]
        assert await scheduler.run_once() == 60.0  # its own delete is not "another process"
    finally:
        await cli.aclose()
        await scheduler.aclose()
