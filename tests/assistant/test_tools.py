"""The assistant's tools through the real registry: what the model sends, what it is told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.assistant.assembly import Assistant, build_assistant
from edge_agent.config import Config, parse_config
from edge_agent.tools.home import build_registry
from edge_agent.tools.registry import ToolRegistry
from edge_agent.tools.weather import WeatherService
from tests.assistant.conftest import Wall, utc

T0 = utc(2026, 12, 2, 17, 0)  # Wednesday 18:00 in Berlin


def _cfg(tmp_path: Path, extra: str = "") -> Config:
    text = f"""
[daemon]
state_dir = "{tmp_path / "state"}"
cache_dir = "{tmp_path / "cache"}"
[home]
timezone = "Europe/Berlin"
{extra}
"""
    return parse_config(text, require_api_key=False)


def _build(cfg: Config, http: httpx.AsyncClient, wall: Wall) -> tuple[ToolRegistry, Assistant]:
    assistant = build_assistant(cfg, WeatherService(cfg.weather, http), wall=wall)
    return build_registry(cfg, http, assistant=assistant), assistant


async def _call(reg: ToolRegistry, name: str, args: dict[str, Any] | str = "{}") -> dict[str, Any]:
    text = args if isinstance(args, str) else json.dumps(args)
    return json.loads(await reg.call(name, text))


async def test_specs_are_offered_and_instructions_say_the_date(tmp_path: Path, http) -> None:
    reg, _ = _build(_cfg(tmp_path), http, Wall(T0))
    try:
        names = reg.names
        for name in ("get_time", "set_timer", "set_alarm", "list_timers", "cancel_timer",
                     "set_volume", "get_weather"):  # fmt: skip
            assert name in names
        assert "This session started on Wednesday 2 December 2026" in reg.instructions()
        assert "call get_time" in reg.instructions()
        assert await _call(reg, "get_time") == {
            "time": "18:00",
            "date": "2026-12-02",
            "weekday": "Wednesday",
            "spoken": "Wednesday 2 December 2026, 18:00",
            "timezone": "Europe/Berlin",
            "utc_offset": "+01:00",
            "ok": True,
        }
    finally:
        await reg.aclose()


async def test_fifty_minutes_into_a_session_the_time_is_still_right(tmp_path: Path, http) -> None:
    wall = Wall(T0)
    reg, _ = _build(_cfg(tmp_path), http, wall)
    try:
        wall.now += 50 * 60
        assert (await _call(reg, "get_time"))["time"] == "18:50"
        wall.now += 6 * 3600 + 15 * 60  # past midnight
        answer = await _call(reg, "get_time")
        assert (answer["time"], answer["weekday"]) == ("01:05", "Thursday")
    finally:
        await reg.aclose()


async def test_timers_set_listed_asked_and_cancelled(tmp_path: Path, http) -> None:
    wall = Wall(T0)
    reg, _ = _build(_cfg(tmp_path), http, wall)
    try:
        pasta = await _call(reg, "set_timer", {"duration": "10 minutes", "label": "pasta"})
        assert pasta == {
            "set": {
                "id": 1,
                "kind": "timer",
                "label": "pasta",
                "rings_at": "18:10",
                "day": "today",
                "left": "10 minutes",
                "left_s": 600,
                "duration": "10 minutes",
            },
            "ok": True,
        }
        await _call(reg, "set_timer", {"duration": 300, "label": "eggs"})
        await _call(reg, "set_timer", {"duration": "1h", "label": "pasta sauce"})
        wall.now += 350
        left = await _call(reg, "list_timers", {"label": "the pasta timer"})
        assert [(t["label"], t["left"]) for t in left["timers"]] == [
            ("pasta", "4 minutes 10 seconds"),
            ("pasta sauce", "54 minutes 10 seconds"),
        ]
        ambiguous = await _call(reg, "cancel_timer", {"label": "pasta"})
        assert ambiguous["error"] == "ambiguous"
        assert (
            "id 1: timer 'pasta' at 18:10; id 3: timer 'pasta sauce' at 19:00"
            in (ambiguous["detail"])
        )
        assert await _call(reg, "cancel_timer", {"id": 1}) == {
            "cancelled": [{"id": 1, "kind": "timer", "label": "pasta"}],
            "left": 2,
            "ok": True,
        }
        missing = await _call(reg, "list_timers", {"label": "rice"})
        assert missing == {
            "ok": False,
            "error": "not_found",
            "detail": "no timer or alarm called 'rice'",
        }
        assert (await _call(reg, "cancel_timer", {"all": True}))["left"] == 0
        assert await _call(reg, "list_timers") == {"count": 0, "timers": [], "ok": True}
        assert (await _call(reg, "cancel_timer"))["error"] == "bad_arguments"
    finally:
        await reg.aclose()


async def test_alarms_once_repeating_and_on_a_date(tmp_path: Path, http) -> None:
    reg, _ = _build(_cfg(tmp_path), http, Wall(T0))
    try:
        once = (await _call(reg, "set_alarm", {"time": "07:30"}))["set"]
        assert (once["rings_at"], once["day"], once["left"]) == (
            "07:30",
            "tomorrow",
            "13 hours 30 minutes",
        )
        work = await _call(
            reg, "set_alarm", {"time": "6:45", "label": "work", "repeat": ["weekdays"]}
        )
        assert work["set"]["repeat"] == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
        xmas = (await _call(reg, "set_alarm", {"time": "8 am", "date": "2026-12-24"}))["set"]
        assert xmas["day"] == "Thursday 24 December 2026"
        only_alarms = await _call(reg, "cancel_timer", {"all": True, "kind": "alarm"})
        assert len(only_alarms["cancelled"]) == 3
    finally:
        await reg.aclose()


@pytest.mark.parametrize(
    ("tool", "args", "error"),
    [
        ("set_timer", {"duration": 0}, "bad_duration"),
        ("set_timer", {"duration": "0 s"}, "bad_duration"),
        ("set_timer", {"duration": "400 days"}, "bad_duration"),
        ("set_timer", {"duration": 400 * 86400}, "bad_duration"),
        ("set_timer", '{"duration": NaN}', "bad_duration"),
        ("set_timer", {"duration": True}, "bad_arguments"),
        ("set_timer", {"duration": "5 m", "label": "x" * 41}, "bad_arguments"),
        ("set_timer", {}, "bad_arguments"),
        ("set_alarm", {"time": "25:61"}, "bad_time"),
        ("set_alarm", {"time": "07:00", "repeat": ["caturday"]}, "bad_repeat"),
        ("set_alarm", {"time": "07:00", "date": "2026-02-30"}, "bad_date"),
        ("set_alarm", {"time": "07:00", "date": "2026-12-01"}, "bad_date"),
        ("set_alarm", {"time": "07:00", "repeat": ["mon"], "date": "2026-12-24"}, "bad_arguments"),
        ("set_volume", {"percent": 101}, "bad_arguments"),
        ("set_volume", '{"percent": NaN}', "bad_arguments"),
        ("set_volume", {"percent": 50, "change": "up"}, "bad_arguments"),
        ("set_volume", {"change": "sideways"}, "bad_arguments"),
        ("cancel_timer", {"id": 0}, "bad_arguments"),
    ],
)
async def test_bad_arguments_are_refused_with_a_reason(
    tmp_path: Path, http, tool: str, args: dict[str, Any] | str, error: str
) -> None:
    reg, _ = _build(_cfg(tmp_path), http, Wall(T0))
    try:
        result = await _call(reg, tool, args)
        assert result["ok"] is False and result["error"] == error, result
    finally:
        await reg.aclose()


async def test_timers_and_volume_survive_a_restart(tmp_path: Path, http) -> None:
    wall = Wall(T0)
    cfg = _cfg(tmp_path, "[volume]\nmax_pct = 80\nstep_pct = 15\n")
    reg, assistant = _build(cfg, http, wall)
    gains: list[float] = []
    assistant.volume.on_change(gains.append)
    assert await _call(reg, "set_volume", {"percent": 100}) == {
        "volume_pct": 80,
        "was_pct": 80,
        "note": "80 % is the highest volume allowed here",
        "ok": True,
    }
    assert (await _call(reg, "set_volume", {"change": "down"}))["volume_pct"] == 65
    assert (await _call(reg, "set_volume", {"percent": 30}))["volume_pct"] == 30
    await _call(reg, "set_timer", {"duration": "10 minutes", "label": "pasta"})
    await reg.aclose()
    assert gains == [0.8, 0.8, 0.65, 0.3]

    wall.now += 120
    reg, assistant = _build(cfg, http, wall)
    try:
        gains = []
        await assistant.start(lambda event: None)
        assistant.volume.on_change(gains.append)
        assert gains == [0.3]  # the saved volume, as a gain for Playback.set_volume
        assert await _call(reg, "set_volume") == {"volume_pct": 30, "max_pct": 80, "ok": True}
        assert (await _call(reg, "set_volume", {"change": "down"}))["volume_pct"] == 15
        assert (await _call(reg, "set_volume", {"change": "down"}))["volume_pct"] == 0
        left = (await _call(reg, "list_timers"))["timers"]
        assert [(t["label"], t["left"]) for t in left] == [("pasta", "8 minutes")]
    finally:
        await assistant.aclose()
        await reg.aclose()


async def test_a_lowered_maximum_clamps_the_saved_volume(tmp_path: Path, http) -> None:
    reg, _ = _build(_cfg(tmp_path), http, Wall(T0))
    await _call(reg, "set_volume", {"percent": 90})
    await reg.aclose()
    reg, assistant = _build(_cfg(tmp_path, "[volume]\nmax_pct = 50\n"), http, Wall(T0))
    try:
        assert (await _call(reg, "set_volume"))["volume_pct"] == 50
        assert assistant.volume.gain == 0.5
    finally:
        await reg.aclose()


async def test_groups_can_be_switched_off(tmp_path: Path, http) -> None:
    cfg = _cfg(tmp_path, '[tools]\nenabled = ["weather"]\n')
    reg, _ = _build(cfg, http, Wall(T0))
    try:
        assert reg.names == ["get_weather"]
        assert "call get_time" not in reg.instructions()
        assert "Local time zone: Europe/Berlin" in reg.instructions()
    finally:
        await reg.aclose()


async def test_with_the_per_turn_item_the_clock_tool_is_not_offered(tmp_path: Path, http) -> None:
    cfg = _cfg(tmp_path)
    wall = Wall(T0)
    assistant = build_assistant(
        cfg, WeatherService(cfg.weather, http), wall=wall, turn_context=True
    )
    reg = build_registry(cfg, http, assistant=assistant)
    try:
        assert "get_time" not in reg.names and "set_timer" in reg.names
        assert "given before each user turn" in reg.instructions()
        wall.now += 50 * 60
        assert assistant.turn_context() == "Local time: Wednesday 2 December 2026, 18:50."
    finally:
        await reg.aclose()
