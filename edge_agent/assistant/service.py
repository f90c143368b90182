"""The timers' async shell: the pure `TimerBook` kept in step with the on-disk store.

Opens the store lazily (the first tool call or the scheduler's start, whichever comes first),
loads what survived a restart, and carries out the tool requests: parse and bound the input
(`timeparse`), let the book build the entry, save it, then add it to the book and wake the
scheduler (`changed`). What is due is saved (removed, or re-armed for repeating alarms) before
it is handed on to ring, so a crash after that cannot ring it twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from edge_agent.assistant.store import AssistantStore
from edge_agent.assistant.timeparse import parse_clock, parse_duration, parse_repeat
from edge_agent.assistant.timers import Entry, TimerBook, TimerFired
from edge_agent.config import TimersConfig
from edge_agent.errors import ToolError

__all__ = ["TimerService", "log_ring_stopped", "log_timer_fired"]

log = logging.getLogger(__name__)


class TimerService:
    """Timers and alarms for the tools and the scheduler; one per daemon."""

    def __init__(
        self,
        path: Path,
        cfg: TimersConfig,
        book: TimerBook,
        *,
        language: str = "en",
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.cfg = cfg
        self.book = book
        self.language = language
        self.wall = wall
        self.changed = asyncio.Event()
        self._store: AssistantStore | None = None
        self._lock = asyncio.Lock()

    async def store(self) -> AssistantStore:
        """The opened store (opened and loaded on first use). Raises OSError."""
        async with self._lock:
            if self._store is None:
                store = await AssistantStore.open(self.path)
                try:
                    for entry in await store.load():
                        self.book.add(entry)
                    await store.changed_elsewhere()  # the baseline for later checks
                except BaseException:
                    await store.aclose()
                    raise
                self._store = store
                self.changed.set()
        return self._store

    async def aclose(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            await store.aclose()

    async def _ready(self) -> AssistantStore:
        try:
            return await self.store()
        except OSError as exc:
            raise ToolError("store_error", str(exc)) from None

    async def _save_new(self, entry: Entry) -> dict[str, Any]:
        store = await self._ready()
        try:
            new_id = await store.insert(entry)
        except OSError as exc:
            raise ToolError("store_error", str(exc)) from None
        entry = dataclasses.replace(entry, id=new_id)
        self.book.add(entry)
        self.changed.set()
        return {"set": self.book.describe(entry, self.wall(), self.language)}

    # -- the tools -----------------------------------------------------------------------------
    async def set_timer(self, duration: str | float, label: str = "") -> dict[str, Any]:
        await self._ready()
        seconds = parse_duration(duration)
        return await self._save_new(self.book.new_timer(self.wall(), seconds, label))

    async def set_alarm(
        self, at: str, label: str = "", repeat: list[str] | None = None, on_date: str = ""
    ) -> dict[str, Any]:
        await self._ready()
        hour, minute = parse_clock(at)
        days = parse_repeat(repeat or [])
        day = None
        if on_date:
            try:
                day = date.fromisoformat(on_date)
            except ValueError:
                raise ToolError(
                    "bad_date", f"{on_date[:12]!r} is not a date (YYYY-MM-DD)"
                ) from None
        entry = self.book.new_alarm(self.wall(), hour, minute, label, days, day)
        return await self._save_new(entry)

    async def list(self, label: str = "", kind: str = "") -> dict[str, Any]:
        await self._ready()
        now = self.wall()
        if not label and not kind:
            return self.book.describe_all(now, self.language)
        found = self.book.find(label=label, kind=kind)
        if not found:
            raise ToolError("not_found", _nothing(label, kind))
        items = [self.book.describe(e, now, self.language) for e in found]
        return {"count": len(items), "timers": items}

    async def cancel(
        self, *, id: int | None = None, label: str = "", kind: str = "", all: bool = False
    ) -> dict[str, Any]:
        store = await self._ready()
        if not all and id is None and not label:
            raise ToolError("bad_arguments", "say which one (id or label), or all = true")
        found = self.book.find(id=id, label=label, kind=kind)
        if not found:
            raise ToolError("not_found", _nothing(label, kind))
        if len(found) > 1 and not all:
            now = self.wall()
            raise ToolError(
                "ambiguous",
                "several match; ask which one: "
                + "; ".join(_short(self.book.describe(e, now, self.language)) for e in found[:5]),
            )
        try:
            await store.delete([e.id for e in found])
        except OSError as exc:
            raise ToolError("store_error", str(exc)) from None
        self.book.remove(e.id for e in found)
        self.changed.set()
        return {"cancelled": [_short_dict(e) for e in found], "left": len(self.book.entries)}

    # -- the scheduler's side ------------------------------------------------------------------
    async def reload_if_changed(self) -> bool:
        """Take in timers another process (the CLI) set or cancelled; True when it did."""
        store = await self.store()
        if not await store.changed_elsewhere():
            return False
        entries = await store.load()
        self.book.remove([e.id for e in self.book.entries])
        for entry in entries:
            self.book.add(entry)
        log.info("timers changed by another process: %d set", len(entries))
        return True

    async def pop_due(self, now_s: float) -> list[TimerFired]:
        """What is due at `now_s`, already saved as done (or re-armed)."""
        store = await self.store()
        due_ids = [e.id for e in self.book.entries if e.due_at_s <= now_s]
        if not due_ids:
            return []
        fired, rearmed = self.book.pop_due(now_s, self.cfg.late_grace_s)
        done = [f.timer_id for f in fired if f.timer_id not in {e.id for e in rearmed}]
        try:
            await store.delete(done)
            await store.update_due(rearmed)
        except OSError as exc:  # rings anyway; it may ring again after a restart
            log.error("cannot save the timers: %s", exc, extra={"ERROR_CODE": "store_error"})
        return fired


def _nothing(label: str, kind: str) -> str:
    what = kind or "timer or alarm"
    return f"no {what} called {label!r}" if label else f"no {what} is set"


def _short(item: dict[str, Any]) -> str:
    label = f" {item['label']!r}" if item["label"] else ""
    return f"id {item['id']}: {item['kind']}{label} at {item['rings_at']}"


def _short_dict(entry: Entry) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind, "label": entry.label}


def log_timer_fired(fired: TimerFired, zone_key: str = "") -> None:
    """The journal record of a ring (INFO) or a missed one (WARNING), with TIMER_* fields.

    ``journalctl -u edge-agent TIMER_KIND=alarm``; TIMER_OUTCOME is ``ring`` or ``missed``.
    """
    fields = {
        "TIMER_ID": fired.timer_id,
        "TIMER_KIND": fired.kind,
        "TIMER_LABEL": fired.label,
        "TIMER_DUE_AT": f"{fired.due_at_s:.3f}",
        "TIMER_LATE_MS": round(fired.late_s * 1000),
        "TIMER_OUTCOME": "missed" if fired.missed else "ring",
    }
    if zone_key:
        fields["TIMER_ZONE"] = zone_key
    label = f" {fired.label!r}" if fired.label else ""
    if fired.missed:
        log.warning(
            "%s%s missed: it came due %d s ago while the daemon was not running",
            fired.kind,
            label,
            round(fired.late_s),
            extra=fields,
        )
    else:
        log.info("%s%s rings", fired.kind, label, extra=fields)


def log_ring_stopped(reason: str, timer_ids: tuple[int, ...], rang_s: float) -> None:
    """The journal record when ringing ends (`StopRinging`): who stopped it, after how long.

    TIMER_OUTCOME is ``stopped`` (wake word, talk button, speech) or ``timeout`` (nobody did).
    """
    fields = {
        "TIMER_ID": ",".join(str(i) for i in timer_ids),
        "TIMER_OUTCOME": "timeout" if reason == "timeout" else "stopped",
        "TIMER_STOPPED_BY": reason,
        "TIMER_RANG_MS": round(rang_s * 1000),
    }
    if reason == "timeout":
        log.warning("ringing gave up after %.0f s: nobody stopped it", rang_s, extra=fields)
    else:
        log.info(
            "ringing stopped by %s after %.1f s", reason.replace("_", " "), rang_s, extra=fields
        )
