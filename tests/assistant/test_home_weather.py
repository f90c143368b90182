"""Home location (geocoded once, cached on disk) and forecasts, against the Open-Meteo emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_agent.assistant.assembly import build_assistant
from edge_agent.config import Config, parse_config
from edge_agent.sim.weather import OpenMeteoEmulator
from edge_agent.tools.home import build_registry
from edge_agent.tools.registry import ToolRegistry
from edge_agent.tools.weather import WeatherService
from tests.assistant.conftest import Wall, utc


def _cfg(tmp_path: Path, emu: OpenMeteoEmulator, home: str, weather: str = "") -> Config:
    urls = emu.config_urls()
    return parse_config(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"
cache_dir = "{tmp_path / "cache"}"
[weather]
geocoding_url = "{urls["geocoding_url"]}"
forecast_url = "{urls["forecast_url"]}"
{weather}
[home]
timezone = "America/Toronto"
{home}
""",
        require_api_key=False,
    )


def _registry(cfg: Config, http: Any) -> tuple[ToolRegistry, Any]:
    assistant = build_assistant(
        cfg, WeatherService(cfg.weather, http), wall=Wall(utc(2026, 11, 25, 17))
    )
    return build_registry(cfg, http, assistant=assistant), assistant


async def _weather(reg: ToolRegistry, **args: str) -> dict[str, Any]:
    return json.loads(await reg.call("get_weather", json.dumps(args)))


async def test_home_place_is_geocoded_once_and_cached_on_disk(tmp_path: Path, serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    cfg = _cfg(tmp_path, emu, 'location = "Toronto"')
    reg, assistant = _registry(cfg, http)
    await assistant.start(lambda e: None)
    try:
        now = await _weather(reg)
        assert (now["location"], now["conditions"]) == ("Toronto, Ontario, Canada", "overcast")
        assert [r.path for r in emu.requests] == ["/v1/search", "/v1/forecast"]
        assert emu.requests[0].query["name"] == "toronto"
        assert emu.requests[1].query["latitude"] == "43.70011"
        assert "The speaker is at home in Toronto, Ontario, Canada." in reg.instructions()
    finally:
        await assistant.aclose()
        await reg.aclose()
    cached = json.loads((tmp_path / "cache" / "home_location.json").read_text())
    assert cached["query"] == "toronto" and cached["latitude"] == 43.70011

    emu.requests.clear()
    reg, assistant = _registry(cfg, http)  # a restart: no geocoding request
    try:
        tomorrow = await _weather(reg, when="tomorrow")
        assert tomorrow["location"] == "Toronto, Ontario, Canada"
        assert [r.path for r in emu.requests] == ["/v1/forecast"]
    finally:
        await reg.aclose()


async def test_coordinates_need_no_geocoder(tmp_path: Path, serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    cfg = _cfg(tmp_path, emu, 'location = "Home"\nlatitude = 51.5\nlongitude = -0.12')
    reg, _ = _registry(cfg, http)
    try:
        now = await _weather(reg)
        assert now["location"] == "Home" and now["conditions"] == "rain"  # London's weather
        assert [r.path for r in emu.requests] == ["/v1/forecast"]
    finally:
        await reg.aclose()


async def test_a_home_the_geocoder_cannot_find(tmp_path: Path, serve, http, caplog) -> None:
    emu = serve(OpenMeteoEmulator())
    cfg = _cfg(tmp_path, emu, 'location = "Atlantis"')
    reg, assistant = _registry(cfg, http)
    try:
        await assistant.start(lambda e: None)  # does not raise: the daemon runs on
        for task in list(assistant._tasks):
            await task
        assert caplog.text.count("home location unavailable") == 1
        assert "home.location = 'Atlantis' was not found by the geocoder" in caplog.text
        assert "home.latitude and home.longitude" in caplog.text
        result = await _weather(reg)
        assert result["error"] == "no_home_location"
        assert "'Atlantis' was not found" in result["detail"]
        assert len(emu.requests) == 1  # not looked up again
        assert (await _weather(reg, location="Tokyo"))["location"] == "Tokyo, Tokyo, Japan"
        assert json.loads(await reg.call("get_time", "{}"))["ok"] is True
    finally:
        await assistant.aclose()
        await reg.aclose()


async def test_no_home_location_at_all(tmp_path: Path, serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    reg, _ = _registry(_cfg(tmp_path, emu, ""), http)
    try:
        result = await _weather(reg)
        assert result["error"] == "no_home_location" and "ask the user" in result["detail"]
        assert emu.requests == []
    finally:
        await reg.aclose()


async def test_forecasts_today_tomorrow_week_and_this_afternoon(
    tmp_path: Path, serve, http
) -> None:
    emu = serve(OpenMeteoEmulator())
    reg, _ = _registry(_cfg(tmp_path, emu, "latitude = 43.7\nlongitude = -79.42"), http)
    try:
        today = await _weather(reg, when="today")
        assert today == {
            "location": "43.7000, -79.4200",
            "day": "today",
            "date": "2026-11-25",
            "conditions": "light rain",
            "high_c": 0.5,
            "low_c": -6.5,
            "precip_chance_pct": 80,
            "precip_mm": 4.0,
            "wind_max_kmph": 18.4,
            "sunrise": "07:20",
            "sunset": "16:45",
            "ok": True,
        }
        query = emu.requests[-1].query
        assert query["forecast_days"] == "2" and "current" not in query
        assert query["daily"].split(",") == [
            "weather_code", "temperature_2m_max", "temperature_2m_min",
            "precipitation_probability_max", "precipitation_sum", "wind_speed_10m_max",
            "sunrise", "sunset",
        ]  # fmt: skip
        tomorrow = await _weather(reg, when="tomorrow")
        assert (tomorrow["date"], tomorrow["conditions"], tomorrow["precip_chance_pct"]) == (
            "2026-11-26",
            "overcast",
            20,
        )
        week = await _weather(reg, when="week")
        assert emu.requests[-1].query["forecast_days"] == "7"
        assert [d["day"] for d in week["days"]] == [
            "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday",
        ]  # fmt: skip
        assert week["days"][4] == {
            "day": "Sunday",
            "date": "2026-11-29",
            "conditions": "light rain",
            "high_c": 1.5,
            "low_c": -6.5,
            "precip_chance_pct": 90,
        }
        afternoon = await _weather(reg, when="today", part_of_day="afternoon")
        assert afternoon == {
            "location": "43.7000, -79.4200",
            "day": "today",
            "date": "2026-11-25",
            "period": "afternoon",
            "hours": "12:00-18:00",
            "conditions": "light rain",
            "precip_chance_max_pct": 80,
            "precip_mm": 4.0,
            "temp_min_c": 0.5,
            "temp_max_c": 0.5,
            "rain_expected": True,
            "ok": True,
        }
        assert "hourly" in emu.requests[-1].query
        dry = await _weather(reg, when="tomorrow", part_of_day="morning")
        assert (dry["precip_chance_max_pct"], dry["rain_expected"]) == (5, False)
        count = len(emu.requests)
        await _weather(reg, when="today", part_of_day="afternoon")
        assert len(emu.requests) == count  # cached per place and question
    finally:
        await reg.aclose()


async def test_imperial_forecast_units(tmp_path: Path, serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    cfg = _cfg(tmp_path, emu, "latitude = 43.7\nlongitude = -79.42", 'units = "imperial"')
    reg, _ = _registry(cfg, http)
    try:
        today = await _weather(reg, when="today")
        assert (today["high_f"], today["low_f"], today["precip_in"], today["wind_max_mph"]) == (
            32.9,
            20.3,
            0.16,
            11.4,
        )
        query = emu.requests[-1].query
        assert (
            query["temperature_unit"],
            query["wind_speed_unit"],
            query["precipitation_unit"],
        ) == (
            "fahrenheit",
            "mph",
            "inch",
        )
    finally:
        await reg.aclose()
