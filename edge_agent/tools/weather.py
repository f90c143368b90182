"""``get_weather(location?, when?, part_of_day?)``: Open-Meteo weather and forecasts, no API key.

Two requests, both to configured base URLs: geocoding ``GET <geocoding_url>?name=…&count=1``
(no ``results`` key = not found), then ``GET <forecast_url>?latitude=…&longitude=…&current=…``
with the configured units (plus ``daily=…`` for today/tomorrow/the week and ``hourly=…`` for a
part of the day). No location means the home location (`[home]`, resolved by
`edge_agent.assistant.home`). Answers are cached per place and question for ``weather.cache_s``;
time comes from the injected clock. Only the location name comes from the model, as a query
parameter.

The service's answers are outside text like a device's: bodies are capped at
``weather.max_answer_bytes`` (1 MiB), place names pass through `clean_text` (40 characters each,
no control or format characters), every number must be finite (else it is left out) and the
observation time must look like one ("2026-07-01T14:15").
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from edge_agent.config import WeatherConfig
from edge_agent.errors import ToolError
from edge_agent.tools import forecast
from edge_agent.tools.drivers.base import DeviceError
from edge_agent.tools.http import Exchange, json_body
from edge_agent.tools.registry import Tool
from edge_agent.tools.sanitize import clean_text, finite_number

__all__ = ["WMO_CODES", "Place", "WeatherService", "weather_tools"]

_TIME: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?")
_CURRENT: Final = (
    "temperature_2m,relative_humidity_2m,apparent_temperature,weather_code,wind_speed_10m"
)

WMO_CODES: Final[dict[int, str]] = {
    0: "clear sky", 1: "mainly clear", 2: "partly cloudy", 3: "overcast", 45: "fog",
    48: "depositing rime fog", 51: "light drizzle", 53: "drizzle", 55: "dense drizzle",
    56: "freezing drizzle", 57: "dense freezing drizzle", 61: "light rain", 63: "rain",
    65: "heavy rain", 66: "freezing rain", 67: "heavy freezing rain", 71: "light snow",
    73: "snow", 75: "heavy snow", 77: "snow grains", 80: "light showers", 81: "showers",
    82: "violent showers", 85: "snow showers", 86: "heavy snow showers", 95: "thunderstorm",
    96: "thunderstorm with hail", 99: "thunderstorm with heavy hail",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Place:
    """A geocoded place: a speakable name and checked coordinates."""

    name: str
    latitude: float
    longitude: float
    timezone: str = ""

    @classmethod
    def from_answer(cls, raw: dict[str, Any]) -> Place:
        """A place from a geocoding result (hostile). Raises ToolError bad_response."""
        lat, lon = finite_number(raw.get("latitude")), finite_number(raw.get("longitude"))
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ToolError("bad_response", "the geocoding answer has no coordinates")
        parts = (clean_text(raw[k]) for k in ("name", "admin1", "country") if raw.get(k))
        tz = raw.get("timezone")
        zone = clean_text(tz, 60) if isinstance(tz, str) else ""
        return cls(", ".join(p for p in parts if p) or f"{lat:.2f}, {lon:.2f}", lat, lon, zone)


HomePlace = Callable[[], Awaitable[Place]]
"""Returns the home location, or raises ToolError when there is none."""


class WeatherService:
    """Looks up places and their current weather; one instance per daemon."""

    def __init__(
        self,
        cfg: WeatherConfig,
        http: httpx.AsyncClient,
        *,
        timeout_s: float = 2.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.http = http
        self.timeout_s = timeout_s
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self.name = "open-meteo"  # the Exchange's peer: logged as DEVICE
        self.max_answer_bytes = cfg.max_answer_bytes
        self.base_url = ""  # the configured URLs are absolute
        self._exchange = Exchange(self)

    async def current(self, location: str) -> dict[str, Any]:
        """The current weather at `location`. Raises ToolError (not_found, timeout, …)."""
        return await self.weather(location)

    async def weather(
        self, location: str | Place, when: forecast.When = "now", part_of_day: str = ""
    ) -> dict[str, Any]:
        """Weather at `location` (a name, or a `Place` such as home) now or for `when`.

        Raises:
            ToolError: not_found, timeout, unreachable, bad_response, service_error.
        """
        if isinstance(location, Place):
            name = f"@{location.latitude:.4f},{location.longitude:.4f}"
        else:
            name = " ".join(location.split()).lower()
            if not name:
                raise ToolError("bad_arguments", "location is empty")
        if part_of_day and when not in ("today", "tomorrow"):
            when = "today"
        key = f"{name}|{when}|{part_of_day}"
        hit = self._cache.get(key)
        if hit and self._clock() - hit[0] < self.cfg.cache_s:
            return hit[1]
        place = location if isinstance(location, Place) else await self.geocode(name)
        result = await self._forecast(place, when, part_of_day)
        self._cache[key] = (self._clock(), result)
        return result

    async def geocode(self, location: str) -> Place:
        """The best match for `location` ("paris, texas" picks by region or country)."""
        return Place.from_answer(await self._geocode(" ".join(location.split()).lower()))

    async def _get(self, url: str, label: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._exchange.send(
                "GET", url, label=label, params=params, idempotent=True, retry_statuses=(429, 503)
            )
        except DeviceError as exc:
            code = "service_error" if exc.code == "device_error" else exc.code
            raise ToolError(code, "the weather service " + _reason(exc)) from None
        if response.status_code != 200:
            raise ToolError("service_error", f"the weather service answered {response.status_code}")
        try:
            body = json_body(response)
        except DeviceError:
            raise ToolError("bad_response", "the weather service sent no JSON") from None
        if not isinstance(body, dict):
            raise ToolError("bad_response", "the weather service sent no JSON object")
        return body

    async def _geocode(self, location: str) -> dict[str, Any]:
        # Open-Meteo matches place names only: "paris, france" is searched as "paris" and
        # the part after the comma picks among the matches by region or country.
        name, _, qualifier = (p.strip() for p in location.partition(","))
        body = await self._get(
            self.cfg.geocoding_url,
            "geocoding",
            {"name": name, "count": 10 if qualifier else 1, "language": "en", "format": "json"},
        )
        results = body.get("results")
        places = [p for p in results if isinstance(p, dict)] if isinstance(results, list) else []
        if qualifier:
            places = [p for p in places if _matches(p, qualifier)]
        if not places:
            raise ToolError(
                "not_found", f"location {location!r} not found; try a nearby city or add a country"
            )
        place = places[0]
        if not all(finite_number(place.get(k)) is not None for k in ("latitude", "longitude")):
            raise ToolError("bad_response", "the geocoding answer has no coordinates")
        return place

    async def _forecast(self, place: Place, when: forecast.When, part: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "latitude": place.latitude,
            "longitude": place.longitude,
            "timezone": "auto",
        }
        if when == "now":
            params["current"] = _CURRENT
        else:
            params.update(daily=forecast.DAILY, forecast_days=7 if when == "week" else 2)
        if part:
            params["hourly"] = forecast.HOURLY
        imperial = self.cfg.units == "imperial"
        if imperial:
            params.update(
                temperature_unit="fahrenheit", wind_speed_unit="mph", precipitation_unit="inch"
            )
        body = await self._get(self.cfg.forecast_url, "forecast", params)
        if when == "week":
            return {"location": place.name, **forecast.week_result(body, WMO_CODES, imperial)}
        if part:
            result = forecast.part_of_day_result(body, when, part, WMO_CODES, imperial)
            return {"location": place.name, **result}
        if when != "now":
            return {"location": place.name, **forecast.day_result(body, when, WMO_CODES, imperial)}
        current = body.get("current")
        if not isinstance(current, dict):
            raise ToolError("bad_response", "the forecast has no current weather")
        t_unit, w_unit = ("f", "mph") if imperial else ("c", "kmph")
        observed = current.get("time")
        out = {
            "location": place.name,
            "conditions": _conditions(current.get("weather_code")),
            f"temperature_{t_unit}": finite_number(current.get("temperature_2m")),
            f"feels_like_{t_unit}": finite_number(current.get("apparent_temperature")),
            "humidity_pct": finite_number(current.get("relative_humidity_2m")),
            f"wind_{w_unit}": finite_number(current.get("wind_speed_10m")),
            "observed": observed if forecast.is_stamp(observed) else None,
        }
        return {k: v for k, v in out.items() if v is not None}


def _conditions(code: object) -> str:
    number = finite_number(code)
    return WMO_CODES.get(int(number), "unknown") if number is not None else "unknown"


def _matches(place: dict[str, Any], qualifier: str) -> bool:
    fields = (place.get(k) for k in ("country", "country_code", "admin1", "admin2"))
    return any(isinstance(f, str) and f.lower().startswith(qualifier) for f in fields)


def _reason(exc: DeviceError) -> str:
    if exc.detail.startswith("answer too large"):
        return "sent an answer too large"
    return {
        "timeout": "did not answer in time",
        "unreachable": "is unreachable (no network?)",
        "device_error": "redirected us elsewhere",
    }.get(exc.code, "sent a broken answer")


async def _no_home() -> Place:
    raise ToolError(
        "no_home_location", "no home location is set; ask for a place, or set [home] location"
    )


def weather_tools(
    service: WeatherService, *, timeout_s: float = 4.0, home: HomePlace = _no_home
) -> list[Tool]:
    """``get_weather``; without a location it asks `home` for the home location."""

    async def get_weather(args: dict[str, Any]) -> dict[str, Any]:
        location: str | Place = args.get("location") or await home()
        return await service.weather(location, args.get("when", "now"), args.get("part_of_day", ""))

    return [
        Tool(
            "get_weather",
            "Weather now or the forecast: today, tomorrow or the next 7 days (high/low, chance "
            "and amount of rain or snow, wind, sunrise/sunset); with part_of_day, e.g. 'will "
            "it rain this afternoon'. Leave out location for home; else a city, optionally "
            "with region or country ('Paris, France').",
            {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "minLength": 1, "maxLength": 100},
                    "when": {"enum": ["now", "today", "tomorrow", "week"]},
                    "part_of_day": {"enum": list(forecast.PARTS_OF_DAY)},
                },
                "additionalProperties": False,
            },
            get_weather,
            timeout_s,
        )
    ]
