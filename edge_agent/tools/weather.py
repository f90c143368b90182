"""``get_weather(location)``: current weather from Open-Meteo (no API key), with a short cache.

Two requests, both to configured base URLs: geocoding ``GET <geocoding_url>?name=…&count=1``
(no ``results`` key = not found), then ``GET <forecast_url>?latitude=…&longitude=…&current=…``
with the configured units. Answers are cached per location for ``weather.cache_s``; time comes
from the injected clock. Only the location name comes from the model, as a query parameter.

The service's answers are outside text like a device's: bodies are capped at
``weather.max_answer_bytes`` (1 MiB), place names pass through `clean_text` (40 characters each,
no control or format characters), every number must be finite (else it is left out) and the
observation time must look like one ("2026-07-01T14:15").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Final

import httpx

from edge_agent.config import WeatherConfig
from edge_agent.errors import ToolError
from edge_agent.tools.drivers.base import DeviceError
from edge_agent.tools.http import Exchange, json_body
from edge_agent.tools.registry import Tool
from edge_agent.tools.sanitize import clean_text, finite_number

__all__ = ["WMO_CODES", "WeatherService", "weather_tools"]

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
        key = " ".join(location.split()).lower()
        if not key:
            raise ToolError("bad_arguments", "location is empty")
        hit = self._cache.get(key)
        if hit and self._clock() - hit[0] < self.cfg.cache_s:
            return hit[1]
        place = await self._geocode(key)
        result = await self._forecast(place)
        self._cache[key] = (self._clock(), result)
        return result

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

    async def _forecast(self, place: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "latitude": place["latitude"],
            "longitude": place["longitude"],
            "current": _CURRENT,
            "timezone": "auto",
        }
        imperial = self.cfg.units == "imperial"
        if imperial:
            params.update(temperature_unit="fahrenheit", wind_speed_unit="mph")
        body = await self._get(self.cfg.forecast_url, "forecast", params)
        current = body.get("current")
        if not isinstance(current, dict):
            raise ToolError("bad_response", "the forecast has no current weather")
        t_unit, w_unit = ("F", "mph") if imperial else ("C", "km/h")
        code = current.get("weather_code")
        parts = (clean_text(place[k]) for k in ("name", "admin1", "country") if place.get(k))
        observed = current.get("time")
        result = {
            "location": ", ".join(p for p in parts if p),
            "conditions": WMO_CODES.get(code, "unknown") if isinstance(code, int) else "unknown",
            f"temperature_{t_unit.lower()}": finite_number(current.get("temperature_2m")),
            f"feels_like_{t_unit.lower()}": finite_number(current.get("apparent_temperature")),
            "humidity_pct": finite_number(current.get("relative_humidity_2m")),
            f"wind_{w_unit.replace('/', 'p')}": finite_number(current.get("wind_speed_10m")),
            "observed": observed if isinstance(observed, str) and _TIME.fullmatch(observed)
            else None,
        }  # fmt: skip
        return {k: v for k, v in result.items() if v is not None}


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


def weather_tools(service: WeatherService, *, timeout_s: float = 4.0) -> list[Tool]:
    async def get_weather(args: dict[str, Any]) -> dict[str, Any]:
        return await service.current(args["location"])

    return [
        Tool(
            "get_weather",
            "Get the current weather for a place (a city name, optionally with region or "
            "country, e.g. 'Toronto' or 'Paris, France').",
            {
                "type": "object",
                "properties": {"location": {"type": "string", "minLength": 1, "maxLength": 100}},
                "required": ["location"],
                "additionalProperties": False,
            },
            get_weather,
            timeout_s,
        )
    ]
