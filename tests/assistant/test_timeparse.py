"""Durations, times of day, repeat days and wall-clock times across DST and midnight. Pure."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from edge_agent.assistant.timeparse import (
    next_occurrence,
    parse_clock,
    parse_duration,
    parse_repeat,
    spoken_duration,
    wall_to_epoch,
)
from edge_agent.errors import ToolError
from tests.assistant.conftest import utc

BERLIN = ZoneInfo("Europe/Berlin")  # 2026: +01:00 → +02:00 on 29 March 01:00 UTC, back 25 Oct
NEW_YORK = ZoneInfo("America/New_York")  # 2026: 8 March and 1 November, 02:00 local
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # a 30-minute DST shift


@pytest.mark.parametrize(
    ("said", "seconds"),
    [
        (600, 600.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("10 minutes", 600.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("1 hour and 5 minutes", 3900.0),
        ("2 hours, 30 seconds", 7230.0),
        ("1.5 hours", 5400.0),
        ("1,5 h", 5400.0),
        ("PT10M", 600.0),
        ("pt1h30m15s", 5415.0),
        ("P1DT2H", 93600.0),
        ("3 days", 259200.0),
        ("30 days", 2592000.0),
    ],
)
def test_durations(said: str | float, seconds: float) -> None:
    assert parse_duration(said) == seconds


@pytest.mark.parametrize(
    ("said", "why"),
    [
        (0, "too short"),
        ("0 s", "too short"),
        (0.5, "too short"),
        (-60, "too short"),
        (float("nan"), "too short"),
        (float("inf"), "too long"),
        ("400 days", "too long"),
        (400 * 86400, "too long"),
        ("30 days 1 second", "too long"),
        ("ten minutes", "not a duration"),
        ("10 parsecs", "not a duration"),
        ("10m30", "not a duration"),
        ("", "not a duration"),
        ("PT", "not a duration"),
    ],
)
def test_bad_durations(said: str | float, why: str) -> None:
    with pytest.raises(ToolError) as err:
        parse_duration(said)
    assert err.value.code == "bad_duration" and why in err.value.detail


def test_bool_is_not_a_duration() -> None:
    with pytest.raises(ToolError):
        parse_duration(True)


@pytest.mark.parametrize(
    ("said", "clock"),
    [
        ("07:30", (7, 30)),
        ("7:30", (7, 30)),
        ("00:00", (0, 0)),
        ("23:59", (23, 59)),
        ("19h30", (19, 30)),
        ("7", (7, 0)),
        ("7 pm", (19, 0)),
        ("7:15 a.m.", (7, 15)),
        ("12 am", (0, 0)),
        ("12:30 pm", (12, 30)),
    ],
)
def test_clock_times(said: str, clock: tuple[int, int]) -> None:
    assert parse_clock(said) == clock


@pytest.mark.parametrize("said", ["25:61", "24:00", "12:60", "13 pm", "0 am", "noonish", "7:5", ""])
def test_bad_clock_times(said: str) -> None:
    with pytest.raises(ToolError) as err:
        parse_clock(said)
    assert err.value.code == "bad_time"
    assert "is not a time of day; use HH:MM from 00:00 to 23:59" in err.value.detail


def test_repeat_days() -> None:
    assert parse_repeat(["weekdays"]) == (0, 1, 2, 3, 4)
    assert parse_repeat(["weekends"]) == (5, 6)
    assert parse_repeat(["daily"]) == (0, 1, 2, 3, 4, 5, 6)
    assert parse_repeat(["Mon", "friday", "sundays", "tu"]) == (0, 1, 4, 6)
    assert parse_repeat([]) == ()
    for bad in (["t"], ["funday"], ["s"]):  # "t": tuesday or thursday?
        with pytest.raises(ToolError) as err:
            parse_repeat(bad)
        assert err.value.code == "bad_repeat"


def test_wall_time_on_an_ordinary_day() -> None:
    assert wall_to_epoch(date(2026, 12, 2), 7, 30, BERLIN) == utc(2026, 12, 2, 6, 30)
    assert wall_to_epoch(date(2026, 7, 2), 7, 30, BERLIN) == utc(2026, 7, 2, 5, 30)


def test_time_in_the_spring_forward_gap_rings_at_the_jump() -> None:
    # Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST at 01:00 UTC; 02:30 never exists.
    assert wall_to_epoch(date(2026, 3, 29), 2, 30, BERLIN) == utc(2026, 3, 29, 1, 0)
    assert wall_to_epoch(date(2026, 3, 29), 2, 0, BERLIN) == utc(2026, 3, 29, 1, 0)
    assert wall_to_epoch(date(2026, 3, 29), 3, 0, BERLIN) == utc(2026, 3, 29, 1, 0)
    assert wall_to_epoch(date(2026, 3, 29), 1, 59, BERLIN) == utc(2026, 3, 29, 0, 59)
    # New York, 8 March 2026: 02:00 EST → 03:00 EDT at 07:00 UTC.
    assert wall_to_epoch(date(2026, 3, 8), 2, 15, NEW_YORK) == utc(2026, 3, 8, 7, 0)
    # Lord Howe, 4 October 2026: 02:00 → 02:30 (+10:30 → +11:00) at 15:30 UTC the day before.
    assert wall_to_epoch(date(2026, 10, 4), 2, 10, LORD_HOWE) == utc(2026, 10, 3, 15, 30)


def test_time_in_the_fall_back_overlap_rings_once_at_the_first() -> None:
    # Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:30 happens twice.
    first = wall_to_epoch(date(2026, 10, 25), 2, 30, BERLIN)
    assert first == utc(2026, 10, 25, 0, 30)
    # Once it has rung, the next one-off occurrence is tomorrow, not the repeated 02:30.
    assert next_occurrence(first, BERLIN, 2, 30) == utc(2026, 10, 26, 1, 30)
    assert wall_to_epoch(date(2026, 11, 1), 1, 30, NEW_YORK) == utc(2026, 11, 1, 5, 30)


def test_next_occurrence_today_tomorrow_and_midnight() -> None:
    now = utc(2026, 12, 2, 22, 59, 30)  # 23:59:30 in Berlin, a Wednesday
    assert next_occurrence(now, BERLIN, 0, 0) == utc(2026, 12, 2, 23, 0)  # midnight: tomorrow
    assert next_occurrence(now, BERLIN, 23, 59) == utc(2026, 12, 3, 22, 59)  # passed a bit ago
    assert next_occurrence(now, BERLIN, 7, 0) == utc(2026, 12, 3, 6, 0)
    exactly = utc(2026, 12, 2, 6, 0)  # 07:00 now: the next 07:00 is tomorrow
    assert next_occurrence(exactly, BERLIN, 7, 0) == utc(2026, 12, 3, 6, 0)
    assert next_occurrence(exactly - 1, BERLIN, 7, 0) == exactly


def test_next_occurrence_on_repeat_days() -> None:
    friday_evening = utc(2026, 12, 4, 18, 0)  # Friday 19:00 in Berlin
    weekdays = (0, 1, 2, 3, 4)
    assert next_occurrence(friday_evening, BERLIN, 7, 0, weekdays) == utc(2026, 12, 7, 6, 0)
    assert next_occurrence(friday_evening, BERLIN, 20, 0, weekdays) == utc(2026, 12, 4, 19, 0)
    assert next_occurrence(friday_evening, BERLIN, 9, 0, (5, 6)) == utc(2026, 12, 5, 8, 0)
    # Only Fridays, asked on a Friday after the time: a week later.
    assert next_occurrence(friday_evening, BERLIN, 7, 0, (4,)) == utc(2026, 12, 11, 6, 0)
    # Across the spring change: Sunday 29 March 2026 02:30 rings at the jump.
    saturday = utc(2026, 3, 28, 12, 0)
    assert next_occurrence(saturday, BERLIN, 2, 30, (6,)) == utc(2026, 3, 29, 1, 0)


def test_next_occurrence_on_a_date() -> None:
    now = utc(2026, 12, 2, 12, 0)
    assert next_occurrence(now, BERLIN, 8, 0, on_date=date(2026, 12, 24)) == utc(2026, 12, 24, 7, 0)
    for day, why in ((date(2026, 12, 1), "is past"), (date(2028, 1, 1), "a year ahead")):
        with pytest.raises(ToolError) as err:
            next_occurrence(now, BERLIN, 8, 0, on_date=day)
        assert err.value.code == "bad_date" and why in err.value.detail


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (59.2, "1 minute"),
        (250, "4 minutes 10 seconds"),
        (600, "10 minutes"),
        (3900, "1 hour 5 minutes"),
        (3601, "1 hour"),
        (183600, "2 days 3 hours"),
        (-5, "0 seconds"),
    ],
)
def test_spoken_durations(seconds: float, spoken: str) -> None:
    assert spoken_duration(seconds) == spoken
