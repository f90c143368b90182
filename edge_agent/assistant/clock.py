"""The local clock: which time zone the speaker is in and what "now" is, in words. Pure.

The model has no clock of its own, and a Realtime session lives up to 60 minutes, so a time in
the instructions would be wrong by then. Two ways to keep it right (bench/assistant_context.py
measures both, tokens ≈ chars/4): `turn_item`, a short "Local time: …" system item the turn core
adds before each user turn (~12 tokens, re-read by every later response, but no round trip and
no tool spec), or the `get_time` tool (~62 tokens of spec on every response, and each use costs
a call, its output and one more response over the whole conversation). For the short sessions
of a kitchen speaker the item is several times cheaper and answers without a round trip, so the
daemon uses it (`Assistant(turn_context=True)`, sent by `assistant.turn_clock.TurnClock`) and
offers no `get_time`; the tool stays for `edge-agent tool get_time` and other embedders. `session_facts` is the instructions line (home, zone, today's date).
Time comes in as epoch seconds from an injected clock, so the tests pin it.

Must not: read the wall clock itself, or do I/O other than `system_zone_name` looking at
/etc/localtime and $TZ (called once at start).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MONTHS",
    "WEEKDAYS",
    "describe_now",
    "resolve_zone",
    "session_facts",
    "spoken_date",
    "system_zone_name",
    "turn_item",
    "zone_problem",
]

WEEKDAYS: Final[dict[str, tuple[str, ...]]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
MONTHS: Final[dict[str, tuple[str, ...]]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
}  # fmt: skip

_ZONEINFO_DIRS: Final = ("/usr/share/zoneinfo/", "/usr/lib/zoneinfo/", "/usr/share/lib/zoneinfo/")


def zone_problem(name: str) -> str:
    """Why `name` is not a usable ``home.timezone`` ("" when it is; "" = the system's zone)."""
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return (
            "unknown time zone; expected an IANA name such as 'Europe/Berlin' or "
            "'America/Toronto' (list them with `timedatectl list-timezones`), or leave it "
            "empty for the system's zone"
        )
    return ""


def system_zone_name(
    env: Mapping[str, str] | None = None, localtime: Path = Path("/etc/localtime")
) -> str:
    """The system's IANA zone: $TZ, else the /etc/localtime link, else /etc/timezone, else UTC."""
    env = os.environ if env is None else env
    tz = env.get("TZ", "").lstrip(":")
    if tz and not zone_problem(tz):
        return tz
    try:
        target = os.path.realpath(localtime)
    except OSError:
        target = ""
    for prefix in _ZONEINFO_DIRS:
        if target.startswith(prefix) and not zone_problem(target[len(prefix) :]):
            return target[len(prefix) :]
    try:
        name = (localtime.parent / "timezone").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    return name if name and not zone_problem(name) else "UTC"


def resolve_zone(name: str, env: Mapping[str, str] | None = None) -> ZoneInfo:
    """``home.timezone`` as a zone (checked by the config already); "" → the system's."""
    return ZoneInfo(name or system_zone_name(env))


def spoken_date(day: date, language: str = "en") -> str:
    """'Wednesday 2 December 2026' (or the configured language's words)."""
    weekday = WEEKDAYS[language][day.weekday()]
    month = MONTHS[language][day.month - 1]
    if language == "en":
        return f"{weekday} {day.day} {month} {day.year}"
    if language == "de":
        return f"{weekday}, {day.day}. {month} {day.year}"
    return f"{weekday} {day.day} {month} {day.year}"


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local(now_s: float, zone: tzinfo) -> datetime:
    """Epoch seconds as an aware local datetime."""
    return datetime.fromtimestamp(now_s, UTC).astimezone(zone)


def describe_now(now_s: float, zone: ZoneInfo, language: str = "en") -> dict[str, Any]:
    """What `get_time` answers: local date, time, weekday and zone, short and speakable."""
    moment = local(now_s, zone)
    return {
        "time": moment.strftime("%H:%M"),
        "date": moment.date().isoformat(),
        "weekday": WEEKDAYS[language][moment.weekday()],
        "spoken": f"{spoken_date(moment.date(), language)}, {moment.strftime('%H:%M')}",
        "timezone": zone.key,
        "utc_offset": _offset(moment),
    }


def turn_item(now_s: float, zone: ZoneInfo, language: str = "en") -> str:
    """The per-turn context item: 'Local time: Wednesday 2 December 2026, 19:20.'"""
    moment = local(now_s, zone)
    return f"Local time: {spoken_date(moment.date(), language)}, {moment.strftime('%H:%M')}."


def session_facts(
    now_s: float,
    zone: ZoneInfo,
    language: str = "en",
    place: str = "",
    clock_tool: bool = True,
    turn_items: bool = False,
) -> str:
    """The instructions line for a new session: home, zone, today's date, where "now" comes from."""
    moment = local(now_s, zone)
    where = f"The speaker is at home in {place}. " if place else ""
    text = (
        f"{where}Local time zone: {zone.key} (UTC{_offset(moment)}). "
        f"This session started on {spoken_date(moment.date(), language)}."
    )
    if turn_items:
        text += " The current local time is given before each user turn."
    elif clock_tool:
        text += (
            " For the current time, or anything relative to now (today, tonight, tomorrow, "
            "timers, alarms), call get_time: the session may have started a while ago."
        )
    return text
