"""Timers and alarms as data: the set that is running, what is due, what the model is told. Pure.

`TimerBook` holds the entries (timers: a duration from when they were set; alarms: a local time
of day, once or repeating on weekdays), decides what is due at a given instant (`pop_due`,
with a grace period for rings missed while the daemon was down), re-arms repeating alarms and
turns entries into the short results the model speaks from. The store (`store.py`) keeps them
on disk; the scheduler (`scheduler.py`) waits for the next due time; both are thin shells.

Must not: read a clock (every method takes ``now_s``, epoch seconds) or do I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from edge_agent.assistant.clock import WEEKDAYS, local, spoken_date
from edge_agent.assistant.timeparse import next_occurrence, spoken_duration
from edge_agent.errors import ToolError
from edge_agent.tools.sanitize import clean_text

__all__ = ["LABEL_CHARS", "Entry", "Kind", "TimerBook", "TimerFired", "match_label"]

Kind = Literal["timer", "alarm"]
LABEL_CHARS: Final = 40
_FILLER: Final = frozenset({"the", "my", "a", "timer", "alarm", "for"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One timer or alarm. ``due_at_s`` is the next ring (epoch s); ids come from the store."""

    id: int
    kind: Kind
    label: str
    due_at_s: float
    created_at_s: float
    duration_s: float = 0.0  # timers
    hour: int = 0  # alarms: the local time of day
    minute: int = 0
    repeat: tuple[int, ...] = ()  # alarms: weekdays, 0 = Monday; () = once
    on_date: str = ""  # a one-off alarm on a given day (ISO date), else the next hour:minute


@dataclass(frozen=True, slots=True)
class TimerFired:
    """Posted by the scheduler when a timer or alarm is due (the turn core makes it ring).

    ``late_s``: how long after ``due_at_s`` it was noticed (a few ms normally; up to
    ``timers.late_grace_s`` after a restart). ``missed``: too late to ring, only reported.
    """

    timer_id: int
    kind: Kind
    label: str
    due_at_s: float
    late_s: float = 0.0
    missed: bool = False


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split()]


def match_label(query: str, label: str) -> bool:
    """Does "the pasta timer" name the timer labelled "pasta"? (case, filler words ignored)."""
    wanted = [w for w in _words(query) if w not in _FILLER]
    have = _words(label)
    return bool(wanted) and all(w in have for w in wanted)


class TimerBook:
    """The running timers and alarms of one home, in `zone`."""

    def __init__(self, zone: ZoneInfo, entries: Iterable[Entry] = (), *, max_active: int = 20):
        self.zone = zone
        self.max_active = max_active
        self._entries: dict[int, Entry] = {e.id: e for e in entries}

    # -- building entries (the store assigns the id) -------------------------------------------
    def _room(self) -> None:
        if len(self._entries) >= self.max_active:
            raise ToolError(
                "too_many", f"{self.max_active} timers and alarms are set; cancel one first"
            )

    def new_timer(self, now_s: float, duration_s: float, label: str = "") -> Entry:
        """A timer ringing `duration_s` (already bounded by `parse_duration`) from now."""
        self._room()
        label = clean_text(label, LABEL_CHARS)
        return Entry(0, "timer", label, now_s + duration_s, now_s, duration_s=duration_s)

    def new_alarm(
        self,
        now_s: float,
        hour: int,
        minute: int,
        label: str = "",
        repeat: tuple[int, ...] = (),
        on_date: date | None = None,
    ) -> Entry:
        """An alarm at the next local `hour:minute` (or on `on_date`, or on `repeat` days)."""
        self._room()
        if repeat and on_date is not None:
            raise ToolError("bad_arguments", "give either repeat days or a date, not both")
        due = next_occurrence(now_s, self.zone, hour, minute, repeat, on_date)
        return Entry(
            0,
            "alarm",
            clean_text(label, LABEL_CHARS),
            due,
            now_s,
            hour=hour,
            minute=minute,
            repeat=repeat,
            on_date=on_date.isoformat() if on_date else "",
        )

    def add(self, entry: Entry) -> None:
        if entry.id <= 0 or entry.id in self._entries:
            raise ValueError(f"entry id {entry.id} is taken or unset")
        self._entries[entry.id] = entry

    # -- reading -------------------------------------------------------------------------------
    @property
    def entries(self) -> list[Entry]:
        """All entries, soonest first."""
        return sorted(self._entries.values(), key=lambda e: (e.due_at_s, e.id))

    def next_due_s(self) -> float | None:
        entries = self.entries
        return entries[0].due_at_s if entries else None

    def find(self, *, id: int | None = None, label: str = "", kind: str = "") -> list[Entry]:
        """Entries by id, or whose label matches `label`, optionally of one kind."""
        found = [
            e
            for e in self.entries
            if (id is None or e.id == id)
            and (not label or match_label(label, e.label))
            and (not kind or e.kind == kind)
        ]
        return found

    def remove(self, ids: Iterable[int]) -> list[Entry]:
        return [e for i in list(ids) if (e := self._entries.pop(i, None)) is not None]

    # -- time passing --------------------------------------------------------------------------
    def pop_due(self, now_s: float, grace_s: float) -> tuple[list[TimerFired], list[Entry]]:
        """What rings (or was missed) at `now_s`, and the entries that changed (re-armed).

        Entries due at or before `now_s` leave the book, except repeating alarms, which move to
        their next day (returned in the second list so the store can save them). One later
        than `grace_s` is reported as missed instead of ringing.
        """
        fired: list[TimerFired] = []
        rearmed: list[Entry] = []
        for entry in self.entries:
            if entry.due_at_s > now_s:
                break
            late = max(0.0, now_s - entry.due_at_s)
            fired.append(
                TimerFired(entry.id, entry.kind, entry.label, entry.due_at_s, late, late > grace_s)
            )
            if entry.kind == "alarm" and entry.repeat:
                due = next_occurrence(now_s, self.zone, entry.hour, entry.minute, entry.repeat)
                again = dataclasses.replace(entry, due_at_s=due)
                self._entries[entry.id] = again
                rearmed.append(again)
            else:
                del self._entries[entry.id]
        return fired, rearmed

    # -- what the model is told ----------------------------------------------------------------
    def describe(self, entry: Entry, now_s: float, language: str = "en") -> dict[str, Any]:
        """One entry as the model sees it: id, kind, label, when it rings and how long is left."""
        ring = local(entry.due_at_s, self.zone)
        today = local(now_s, self.zone).date()
        days = (ring.date() - today).days
        day = {0: "today", 1: "tomorrow"}.get(days, spoken_date(ring.date(), language))
        out: dict[str, Any] = {
            "id": entry.id,
            "kind": entry.kind,
            "label": entry.label,
            "rings_at": ring.strftime("%H:%M"),
            "day": day,
            "left": spoken_duration(entry.due_at_s - now_s),
            "left_s": max(0, round(entry.due_at_s - now_s)),
        }
        if entry.kind == "timer":
            out["duration"] = spoken_duration(entry.duration_s)
        if entry.repeat:
            out["repeat"] = [WEEKDAYS[language][d] for d in entry.repeat]
        return out

    def describe_all(self, now_s: float, language: str = "en") -> dict[str, Any]:
        items = [self.describe(e, now_s, language) for e in self.entries]
        return {"count": len(items), "timers": items}
