"""Open-Meteo forecast answers turned into short, speakable results. Pure.

`get_weather` asks Open-Meteo for ``daily`` (and, for "this afternoon", ``hourly``) series with
``timezone=auto``, so day 0 is the place's today. These functions pick the day or the hours
asked for and return a few fields the model can say in one sentence. The answer is hostile:
every number goes through `finite_number` (NaN, infinities, strings and missing entries are
dropped, not spoken) and every text through `clean_text`; a series shorter than its time axis
only yields the entries it has.

Must not: do I/O or read a clock (the place's "now" is the answer's ``current.time``).
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from edge_agent.errors import ToolError
from edge_agent.tools.sanitize import finite_number

__all__ = [
    "DAILY",
    "HOURLY",
    "PARTS_OF_DAY",
    "When",
    "day_result",
    "is_stamp",
    "part_of_day_result",
    "week_result",
]

When = Literal["now", "today", "tomorrow", "week"]
DAILY: Final = (
    "weather_code,temperature_2m_max,temperature_2m_min,precipitation_probability_max,"
    "precipitation_sum,wind_speed_10m_max,sunrise,sunset"
)
HOURLY: Final = "temperature_2m,precipitation_probability,precipitation,weather_code"
PARTS_OF_DAY: Final[dict[str, tuple[int, int]]] = {
    "morning": (6, 12),
    "afternoon": (12, 18),
    "evening": (18, 22),
    "night": (22, 30),  # into the next day until 06:00
}
RAIN_CHANCE_PCT: Final = 50
RAIN_MM: Final = 0.5
_STAMP: Final = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})")  # fullmatch only
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _series(block: object, key: str) -> list[Any]:
    values = block.get(key) if isinstance(block, dict) else None
    return values[:400] if isinstance(values, list) else []


def _at(values: list[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def _round(value: object, digits: int = 1) -> float | int | None:
    number = finite_number(value)
    if number is None:
        return None
    return round(number, digits) if isinstance(number, float) else number


def is_stamp(value: object) -> bool:
    """Is `value` an Open-Meteo local time stamp ("2026-11-25T12:00"), and nothing else?"""
    return isinstance(value, str) and _STAMP.fullmatch(value) is not None


def _clock(stamp: object) -> str | None:
    match = _STAMP.fullmatch(stamp) if isinstance(stamp, str) else None
    return f"{match.group(2)}:{match.group(3)}" if match else None


def _weekday(iso_date: str) -> str:
    from datetime import date

    return _WEEKDAYS[date.fromisoformat(iso_date).weekday()]


def _conditions(code: object, codes: dict[int, str]) -> str:
    number = finite_number(code)
    return codes.get(int(number), "unknown") if number is not None else "unknown"


def _dates(daily: object) -> list[str]:
    return [d if isinstance(d, str) and _DATE.fullmatch(d) else "" for d in _series(daily, "time")]


def _units(imperial: bool) -> tuple[str, str, str]:
    return ("f", "mph", "in") if imperial else ("c", "kmph", "mm")


def _one_day(daily: object, i: int, codes: dict[int, str], imperial: bool) -> dict[str, Any]:
    t, w, p = _units(imperial)
    fields: dict[str, Any] = {
        "conditions": _conditions(_at(_series(daily, "weather_code"), i), codes),
        f"high_{t}": _round(_at(_series(daily, "temperature_2m_max"), i)),
        f"low_{t}": _round(_at(_series(daily, "temperature_2m_min"), i)),
        "precip_chance_pct": _round(_at(_series(daily, "precipitation_probability_max"), i)),
        f"precip_{p}": _round(_at(_series(daily, "precipitation_sum"), i), 2 if imperial else 1),
        f"wind_max_{w}": _round(_at(_series(daily, "wind_speed_10m_max"), i)),
        "sunrise": _clock(_at(_series(daily, "sunrise"), i)),
        "sunset": _clock(_at(_series(daily, "sunset"), i)),
    }
    return {k: v for k, v in fields.items() if v is not None}


def _day_index(body: dict[str, Any], when: When) -> int:
    index = 1 if when == "tomorrow" else 0
    dates = _dates(body.get("daily"))
    if index >= len(dates) or not dates[index]:
        raise ToolError("bad_response", "the forecast has no day " + when)
    return index


def day_result(body: dict[str, Any], when: When, codes: dict[int, str], imperial: bool) -> dict:
    """Today's or tomorrow's high/low, precipitation, wind, sunrise and sunset."""
    index = _day_index(body, when)
    iso = _dates(body["daily"])[index]
    return {"day": when, "date": iso, **_one_day(body["daily"], index, codes, imperial)}


def week_result(body: dict[str, Any], codes: dict[int, str], imperial: bool) -> dict[str, Any]:
    """Up to 7 days, each with weekday, conditions, high/low and chance of precipitation."""
    t, _, _ = _units(imperial)
    daily = body.get("daily")
    days = []
    for i, iso in enumerate(_dates(daily)[:7]):
        if not iso:
            continue
        day = _one_day(daily, i, codes, imperial)
        keep = ("conditions", f"high_{t}", f"low_{t}", "precip_chance_pct")
        days.append({"day": _weekday(iso), "date": iso, **{k: day[k] for k in keep if k in day}})
    if not days:
        raise ToolError("bad_response", "the forecast has no days")
    return {"day": "week", "days": days}


def part_of_day_result(
    body: dict[str, Any], when: When, part: str, codes: dict[int, str], imperial: bool
) -> dict[str, Any]:
    """ "Will it rain this afternoon": the hours of `part` of today or tomorrow, summed up."""
    index = _day_index(body, when)
    iso = _dates(body["daily"])[index]
    start, end = PARTS_OF_DAY[part]
    hourly = body.get("hourly")
    times = _series(hourly, "time")
    chance = _series(hourly, "precipitation_probability")
    amount = _series(hourly, "precipitation")
    temps = _series(hourly, "temperature_2m")
    code_list = _series(hourly, "weather_code")
    day_start = _hour_index(times, f"{iso}T00:00")
    if day_start is None:
        raise ToolError("bad_response", "the forecast has no hours for " + when)
    picked = range(day_start + start, min(day_start + end, len(times)))
    if not picked:
        raise ToolError("bad_response", f"the forecast has no {part} hours")
    chances = [c for i in picked if (c := finite_number(_at(chance, i))) is not None]
    amounts = [a for i in picked if (a := finite_number(_at(amount, i))) is not None]
    temp_values = [x for i in picked if (x := finite_number(_at(temps, i))) is not None]
    codes_seen = [int(c) for i in picked if (c := finite_number(_at(code_list, i))) is not None]
    t, _, p = _units(imperial)
    total = round(sum(amounts), 2 if imperial else 1) if amounts else None
    max_chance = max(chances) if chances else None
    out: dict[str, Any] = {
        "day": when,
        "date": iso,
        "period": part,
        "hours": f"{start % 24:02d}:00-{end % 24:02d}:00",
        "conditions": _conditions(max(codes_seen), codes) if codes_seen else "unknown",
        "precip_chance_max_pct": max_chance,
        f"precip_{p}": total,
        f"temp_min_{t}": round(min(temp_values), 1) if temp_values else None,
        f"temp_max_{t}": round(max(temp_values), 1) if temp_values else None,
    }
    if max_chance is not None or total is not None:
        rain_mm = RAIN_MM / 25.4 if imperial else RAIN_MM
        out["rain_expected"] = (max_chance or 0) >= RAIN_CHANCE_PCT or (total or 0) >= rain_mm
    return {k: v for k, v in out.items() if v is not None}


def _hour_index(times: list[Any], stamp: str) -> int | None:
    for i, value in enumerate(times):
        if value == stamp:
            return i
    return None
