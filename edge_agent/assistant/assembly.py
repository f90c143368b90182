"""`Assistant`: the clock, home place, timers and volume of one daemon, built from the config.

It is what the registry gets the tools and the session instructions line from, and an App
component: `start` resolves the home location in the background (a place the geocoder cannot
find is logged and the daemon runs on), loads the saved volume and starts the timer scheduler,
which posts `TimerFired` through the App's ``post``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.assistant.clock import resolve_zone, session_facts, turn_item
from edge_agent.assistant.home import HomeLocation
from edge_agent.assistant.scheduler import TimerScheduler, Wait, wait_event
from edge_agent.assistant.service import TimerService
from edge_agent.assistant.timers import TimerBook
from edge_agent.assistant.tools import clock_tools, timer_tools, volume_tools
from edge_agent.assistant.volume import VolumeControl
from edge_agent.config import Config
from edge_agent.tools.registry import Tool
from edge_agent.tools.weather import Place, WeatherService

__all__ = ["STORE_NAME", "Assistant", "build_assistant"]

log = logging.getLogger(__name__)

STORE_NAME = "assistant.sqlite3"


class Assistant:
    """Clock, home, timers and volume; `tools()` for the registry, an App component."""

    name = "assistant"

    def __init__(
        self,
        cfg: Config,
        weather: WeatherService | None,
        *,
        wall: Callable[[], float] = time.time,
        wait: Wait = wait_event,
        turn_context: bool = False,
    ) -> None:
        """`turn_context`: the turn core adds `turn_context()` before each user turn, so the
        model needs no `get_time` tool (it is then not offered; bench/assistant_context.py)."""
        self.cfg = cfg
        self.turn_context_on = turn_context
        self.wall = wall
        self.zone = resolve_zone(cfg.home.timezone)
        self.language = cfg.home.language
        self.enabled = set(cfg.tools.enabled)
        self.home = HomeLocation(cfg.home, weather, Path(cfg.daemon.cache_dir))
        book = TimerBook(self.zone, max_active=cfg.timers.max_active)
        self.timers = TimerService(
            cfg.state_dir / STORE_NAME, cfg.timers, book, language=self.language, wall=wall
        )
        self.scheduler = TimerScheduler(self.timers, wall=wall, wait=wait)
        self.volume = VolumeControl(cfg.volume, self.timers.store, base_gain=cfg.audio.volume)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # -- for the registry ----------------------------------------------------------------------
    def tools(self, timeout_s: float) -> list[Tool]:
        out: list[Tool] = []
        if "clock" in self.enabled and not self.turn_context_on:
            out += clock_tools(self.zone, self.language, self.wall, timeout_s=timeout_s)
        if "timers" in self.enabled:
            out += timer_tools(self.timers, timeout_s=timeout_s)
        if "volume" in self.enabled:
            out += volume_tools(self.volume, timeout_s=timeout_s)
        return out

    async def home_place(self) -> Place:
        """`get_weather`'s hook for "no location": the home place or a ToolError."""
        return await self.home.place()

    def instructions(self) -> str:
        """The line new sessions get: home, zone, today's date, and to ask get_time for now."""
        return session_facts(
            self.wall(),
            self.zone,
            self.language,
            place=self.home.name or self.cfg.home.location.strip(),
            clock_tool="clock" in self.enabled,
            turn_items=self.turn_context_on,
        )

    def turn_context(self) -> str:
        """The system item for this user turn: 'Local time: Wednesday 2 December 2026, 19:20.'"""
        return turn_item(self.wall(), self.zone, self.language)

    # -- App component -------------------------------------------------------------------------
    async def start(self, post: Callable[[Any], None]) -> None:
        if self.home.configured:
            task = asyncio.get_running_loop().create_task(self.home.resolve(), name="home")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if "volume" in self.enabled:
            try:
                await self.volume.load()
            except OSError as exc:
                log.error("saved volume unreadable: %s", exc, extra={"ERROR_CODE": "store_error"})
        if "timers" in self.enabled:
            await self.scheduler.start(post)

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        return {}  # it only posts (TimerFired); the ringing is the turn core's and the speaker's

    def is_healthy(self) -> bool:
        return self.scheduler.is_healthy()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.scheduler.aclose()  # also closes the store


def build_assistant(
    cfg: Config,
    weather: WeatherService | None,
    *,
    wall: Callable[[], float] = time.time,
    wait: Wait = wait_event,
    turn_context: bool = False,
) -> Assistant:
    """The assistant for `cfg`; `weather` geocodes the home location (None: weather is off)."""
    return Assistant(cfg, weather, wall=wall, wait=wait, turn_context=turn_context)
