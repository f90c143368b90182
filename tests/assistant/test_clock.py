"""The clock: the zone from the config or the system, what `get_time` and the session say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge_agent.assistant.clock import (
    describe_now,
    resolve_zone,
    session_facts,
    system_zone_name,
    turn_item,
    zone_problem,
)
from edge_agent.config import EX_CONFIG, parse_config
from edge_agent.errors import ConfigError
from tests.assistant.conftest import utc

ROOT = Path(__file__).resolve().parents[2]


def test_get_time_answer_in_summer_and_winter() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert describe_now(utc(2026, 12, 2, 18, 20, 59), berlin) == {
        "time": "19:20",
        "date": "2026-12-02",
        "weekday": "Wednesday",
        "spoken": "Wednesday 2 December 2026, 19:20",
        "timezone": "Europe/Berlin",
        "utc_offset": "+01:00",
    }
    summer = describe_now(utc(2026, 7, 1, 22, 30), berlin, "fr")
    assert (summer["time"], summer["weekday"], summer["utc_offset"]) == ("00:30", "jeudi", "+02:00")
    assert summer["spoken"] == "jeudi 2 juillet 2026, 00:30"
    kolkata = describe_now(utc(2026, 12, 31, 18, 45), ZoneInfo("Asia/Kolkata"), "de")
    assert kolkata["spoken"] == "Freitag, 1. Januar 2027, 00:15"
    assert kolkata["utc_offset"] == "+05:30"
    assert describe_now(utc(2026, 12, 2, 4), ZoneInfo("America/St_Johns"))["utc_offset"] == (
        "-03:30"
    )


def test_what_a_new_session_is_told() -> None:
    text = session_facts(utc(2026, 12, 2, 18, 20), ZoneInfo("America/Toronto"), "en", "Toronto")
    assert text == (
        "The speaker is at home in Toronto. Local time zone: America/Toronto (UTC-05:00). "
        "This session started on Wednesday 2 December 2026. For the current time, or anything "
        "relative to now (today, tonight, tomorrow, timers, alarms), call get_time: the session "
        "may have started a while ago."
    )
    bare = session_facts(utc(2026, 12, 2, 18, 20), ZoneInfo("UTC"), clock_tool=False)
    assert (
        bare
        == "Local time zone: UTC (UTC+00:00). This session started on Wednesday 2 December 2026."
    )


def test_the_per_turn_item_and_the_line_that_goes_with_it() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert turn_item(utc(2026, 12, 2, 18, 20), berlin) == (
        "Local time: Wednesday 2 December 2026, 19:20."
    )
    assert turn_item(utc(2026, 12, 2, 23, 5), berlin, "es") == (
        "Local time: jueves 3 diciembre 2026, 00:05."
    )
    line = session_facts(utc(2026, 12, 2, 18, 20), berlin, turn_items=True)
    assert line.endswith("The current local time is given before each user turn.")
    assert "get_time" not in line


def test_system_zone_from_tz_then_localtime_then_etc_timezone(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/Toronto")
    assert system_zone_name({"TZ": ":Asia/Tokyo"}, link) == "Asia/Tokyo"
    assert system_zone_name({"TZ": "Not/AZone"}, link) == "America/Toronto"
    assert system_zone_name({}, link) == "America/Toronto"
    plain = tmp_path / "etc" / "localtime"
    plain.parent.mkdir()
    plain.write_bytes(b"TZif")  # a copy, not a link: fall back to /etc/timezone
    (plain.parent / "timezone").write_text("Europe/Paris\n")
    assert system_zone_name({}, plain) == "Europe/Paris"
    (plain.parent / "timezone").write_text("Mars/Olympus\n")
    assert system_zone_name({}, plain) == "UTC"
    assert resolve_zone("Europe/Berlin").key == "Europe/Berlin"
    assert resolve_zone("", {"TZ": "Asia/Tokyo"}).key == "Asia/Tokyo"


def test_timezone_from_config() -> None:
    cfg = parse_config('[home]\ntimezone = "Asia/Kolkata"\n', require_api_key=False)
    assert resolve_zone(cfg.home.timezone).key == "Asia/Kolkata"
    assert zone_problem("") == ""


@pytest.mark.parametrize("bad", ["Mars/Olympus", "../../etc/passwd", "Europe/berlin ", "CEST"])
def test_unknown_timezone_is_a_config_error_naming_the_key(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f'[home]\ntimezone = "{bad}"\n', source="cfg.toml", require_api_key=False)
    (message,) = err.value.messages
    assert message.startswith(f"cfg.toml: home.timezone = {bad!r}: unknown time zone")
    assert "timedatectl list-timezones" in message


def test_unknown_timezone_exits_78_from_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[home]\ntimezone = "Mars/Olympus"\n')
    res = subprocess.run(
        [sys.executable, "-m", "edge_agent", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert res.returncode == EX_CONFIG
    assert "home.timezone = 'Mars/Olympus': unknown time zone" in res.stderr


def test_ringing_led_pattern_is_checked() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config('[status.led]\nringing = "wobble"\n', source="c", require_api_key=False)
    assert err.value.messages[0].startswith("c: status.led.ringing = 'wobble': unknown pattern")
