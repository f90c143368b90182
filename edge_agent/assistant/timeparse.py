"""What the user (through the model) says about time, parsed and bounded. Pure.

Durations ("10 minutes", "1h30m", "PT90S", 600), times of day ("07:30", "7:30 pm"), weekdays
to repeat on ("weekdays", ["mon", "fri"]) and when a wall-clock time happens in a time zone,
including the days the clocks change. Everything from the model is hostile: bad values raise
`ToolError` with a detail the model can repeat to the user.

DST rules: a time that does not exist (the clocks jump 02:00 → 03:00 and the alarm is 02:30)
rings when the clock first reaches or passes it, i.e. at the jump (03:00); a time that happens
twice (03:00 → 02:00, alarm 02:30) rings once, at the first occurrence.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from edge_agent.errors import ToolError

__all__ = [
    "DAY_NAMES",
    "MAX_TIMER_S",
    "MIN_TIMER_S",
    "next_occurrence",
    "parse_clock",
    "parse_duration",
    "parse_repeat",
    "spoken_duration",
    "wall_to_epoch",
]

MIN_TIMER_S: Final = 1.0
MAX_TIMER_S: Final = 30 * 86400.0
"""A month: longer waits are appointments, set as an alarm on a date."""
MAX_ALARM_AHEAD_DAYS: Final = 366

DAY_NAMES: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_GROUPS: Final[dict[str, tuple[int, ...]]] = {
    "daily": (0, 1, 2, 3, 4, 5, 6),
    "every day": (0, 1, 2, 3, 4, 5, 6),
    "everyday": (0, 1, 2, 3, 4, 5, 6),
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "weekend": (5, 6),
}
_UNITS: Final[dict[str, float]] = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_PART: Final = re.compile(r"(\d+(?:[.,]\d+)?)\s*([a-z]+)")
_ISO: Final = re.compile(r"^p(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?)?$")
_CLOCK: Final = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")


def _bounded(seconds: float, said: str) -> float:
    if math.isnan(seconds) or seconds < MIN_TIMER_S:
        raise ToolError("bad_duration", f"{said!r} is too short; a timer needs at least 1 second")
    if seconds > MAX_TIMER_S:  # +inf included
        raise ToolError(
            "bad_duration", f"{said!r} is too long; timers run up to 30 days (set an alarm)"
        )
    return float(seconds)


def parse_duration(value: str | float) -> float:
    """Seconds in `value`: a number of seconds, "1h30m", "10 minutes", "1.5 hours", "PT10M".

    Raises:
        ToolError: bad_duration (unparsable, under 1 s or over 30 days).
    """
    if isinstance(value, bool):
        raise ToolError("bad_duration", "a duration is a number of seconds or e.g. '10 minutes'")
    if isinstance(value, int | float):
        return _bounded(float(value), f"{value:g} s")
    said = value.strip()[:60]
    text = re.sub(r",(?!\d)", " ", said.lower().replace(" and ", " ")).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return _bounded(float(text), said)
    iso = _ISO.match(text)
    if iso and any(iso.groups()):
        d, h, m, s = (float(g) if g else 0.0 for g in iso.groups())
        return _bounded(d * 86400 + h * 3600 + m * 60 + s, said)
    total, pos = 0.0, 0
    for match in _PART.finditer(text):
        if text[pos : match.start()].strip() or match.group(2) not in _UNITS:
            break
        total += float(match.group(1).replace(",", ".")) * _UNITS[match.group(2)]
        pos = match.end()
    else:
        if pos and not text[pos:].strip():
            return _bounded(total, said)
    raise ToolError("bad_duration", f"{said!r} is not a duration; say e.g. '10 minutes' or '1h30m'")


def parse_clock(text: str) -> tuple[int, int]:
    """(hour, minute) from "07:30", "7:30", "19h30", "7 pm", "7:30 am".

    Raises:
        ToolError: bad_time (not a time of day, e.g. "25:61").
    """
    said = text.strip()[:20]
    match = _CLOCK.match(said.lower())
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        half = match.group(3)
        if half and 1 <= hour <= 12:
            hour = hour % 12 + (12 if half.startswith("p") else 0)
        elif half:
            hour = 99
        if hour <= 23 and minute <= 59:
            return hour, minute
    raise ToolError(
        "bad_time", f"{said!r} is not a time of day; use HH:MM from 00:00 to 23:59 (24-hour)"
    )


def parse_repeat(days: list[str] | tuple[str, ...]) -> tuple[int, ...]:
    """Weekday numbers (0 = Monday) from names, 3-letter abbreviations, weekdays/weekends/daily.

    Raises:
        ToolError: bad_repeat (an unknown day name).
    """
    out: set[int] = set()
    for raw in days:
        word = raw.strip().lower()[:20]
        if word in _GROUPS:
            out.update(_GROUPS[word])
            continue
        hits = [i for i, name in enumerate(DAY_NAMES) if len(word) >= 2 and name.startswith(word)]
        word_s = word.rstrip("s")
        hits = hits or [i for i, name in enumerate(DAY_NAMES) if word_s == name]
        if len(hits) != 1:
            raise ToolError(
                "bad_repeat",
                f"{raw[:20]!r} is not a weekday; use monday … sunday, weekdays, weekends or daily",
            )
        out.add(hits[0])
    return tuple(sorted(out))


def _wall(epoch_s: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC).astimezone(zone).replace(tzinfo=None)


def wall_to_epoch(day: date, hour: int, minute: int, zone: ZoneInfo) -> float:
    """The first instant at which the clock in `zone` reads `hour:minute` (or later) on `day`.

    Normal and repeated (fall-back) times: the first occurrence. A time in a spring-forward gap:
    the instant of the jump, the first moment the clock shows a time at or after the one asked.
    """
    wanted = datetime.combine(day, time(hour, minute))
    first = wanted.replace(tzinfo=zone, fold=0).timestamp()
    if _wall(first, zone) == wanted:
        return first
    # In a gap: fold=0 read it with the offset before the jump (too late), fold=1 with the one
    # after (too early). The jump is between them; find the first second at or past `wanted`.
    lo = int(wanted.replace(tzinfo=zone, fold=1).timestamp())
    hi = math.ceil(first)
    if lo > hi:
        lo, hi = hi, lo
    while lo < hi:
        mid = (lo + hi) // 2
        if _wall(mid, zone) >= wanted:
            hi = mid
        else:
            lo = mid + 1
    return float(lo)


def next_occurrence(
    after_s: float,
    zone: ZoneInfo,
    hour: int,
    minute: int,
    repeat: tuple[int, ...] = (),
    on_date: date | None = None,
) -> float:
    """Epoch seconds of the next time `hour:minute` rings strictly after `after_s`.

    One-off: today if still ahead, else tomorrow (or `on_date`). Repeating: the next day whose
    weekday is in `repeat`.

    Raises:
        ToolError: bad_date (`on_date` is past or more than a year ahead).
    """
    today = _wall(after_s, zone).date()
    if on_date is not None:
        due = wall_to_epoch(on_date, hour, minute, zone)
        if due <= after_s:
            raise ToolError("bad_date", f"{on_date.isoformat()} {hour:02d}:{minute:02d} is past")
        if (on_date - today).days > MAX_ALARM_AHEAD_DAYS:
            raise ToolError("bad_date", "alarms can be set up to a year ahead")
        return due
    for offset in range(8 if repeat else 2):
        day = today + timedelta(days=offset)
        if repeat and day.weekday() not in repeat:
            continue
        due = wall_to_epoch(day, hour, minute, zone)
        if due > after_s:
            return due
    # Unreachable for valid input (8 days always contain a repeat day after `after_s`).
    raise ToolError("bad_repeat", "no day to ring on")


def spoken_duration(seconds: float) -> str:
    """'4 minutes 10 seconds', '1 hour 5 minutes', '2 days 3 hours' (two units at most)."""
    left = max(0, math.ceil(seconds))
    parts: list[tuple[int, str]] = []
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        count, left = divmod(left, size)
        if count or parts:
            parts.append((count, name))
    words = [f"{n} {name}{'' if n == 1 else 's'}" for n, name in parts[:2] if n]
    return " ".join(words) or "0 seconds"
