"""get_weather against the Open-Meteo emulator over real HTTP."""

from __future__ import annotations

import json

from edge_agent.config import WeatherConfig
from edge_agent.sim.weather import OpenMeteoEmulator
from edge_agent.tools.registry import ToolRegistry
from edge_agent.tools.weather import WeatherService, weather_tools


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _registry(emu, http, clock, **cfg) -> ToolRegistry:
    weather = WeatherService(
        WeatherConfig(**emu.config_urls(), **cfg), http, timeout_s=0.5, clock=clock
    )
    return ToolRegistry(weather_tools(weather, timeout_s=2.0), clock=clock)


async def test_toronto_metric_then_cached(serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    clock = Clock()
    reg = _registry(emu, http, clock, cache_s=600.0)
    result = json.loads(await reg.call("get_weather", '{"location": "Toronto"}'))
    assert result == {
        "location": "Toronto, Ontario, Canada",
        "conditions": "overcast",
        "temperature_c": -2.5,
        "feels_like_c": -4.3,
        "humidity_pct": 71,
        "wind_kmph": 18.4,
        "observed": "2026-11-25T12:00",
        "ok": True,
    }
    assert [r.path for r in emu.requests] == ["/v1/search", "/v1/forecast"]
    assert emu.requests[0].query["name"] == "toronto"
    await reg.call("get_weather", '{"location": " toronto "}')
    assert len(emu.requests) == 2  # cached
    clock.now += 601
    await reg.call("get_weather", '{"location": "Toronto"}')
    assert len(emu.requests) == 4  # expired


async def test_imperial_units(serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    reg = _registry(emu, http, Clock(), units="imperial")
    result = json.loads(await reg.call("get_weather", '{"location": "Toronto"}'))
    assert (result["temperature_f"], result["wind_mph"]) == (27.5, 11.4)
    assert emu.requests[1].query["temperature_unit"] == "fahrenheit"


async def test_country_qualifier_picks_the_right_paris(serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    reg = _registry(emu, http, Clock())
    result = json.loads(await reg.call("get_weather", '{"location": "Paris, Texas"}'))
    assert result["location"] == "Paris, Texas, United States"
    result = json.loads(await reg.call("get_weather", '{"location": "paris, france"}'))
    assert result["location"] == "Paris, Île-de-France, France"


async def test_location_not_found(serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    reg = _registry(emu, http, Clock())
    result = json.loads(await reg.call("get_weather", '{"location": "Atlantis"}'))
    assert result["ok"] is False and result["error"] == "not_found"
    assert "'atlantis' not found" in result["detail"]
    assert [r.path for r in emu.requests] == ["/v1/search"]


async def test_service_faults(serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    reg = _registry(emu, http, Clock())
    emu.garbage_next = 1
    assert json.loads(await reg.call("get_weather", '{"location": "Tokyo"}'))["error"] == (
        "bad_response"
    )
    emu.hang = True
    result = json.loads(await reg.call("get_weather", '{"location": "Tokyo"}'))
    assert result["error"] == "timeout"


async def test_unreachable(http) -> None:
    cfg = WeatherConfig(geocoding_url="http://127.0.0.1:9/v1/search")
    reg = ToolRegistry(weather_tools(WeatherService(cfg, http, timeout_s=0.5)))
    result = json.loads(await reg.call("get_weather", '{"location": "Toronto"}'))
    assert result["error"] == "unreachable"
