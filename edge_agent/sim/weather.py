"""An Open-Meteo emulator: ``/v1/search`` (geocoding) and ``/v1/forecast`` (current, daily, hourly).

Serves a few fixed cities with deterministic weather, in the API's answer shapes: a search with
no match answers without a ``results`` key; a bad forecast request (unknown ``daily``/``hourly``
variable, ``forecast_days`` outside 1-16) answers 400 ``{"error":true,"reason":…}``. The
emulated "today" is `TODAY` in every city; the daily chance of precipitation follows
`RAIN_PCT` (day 0 = today), with the rain falling in the afternoon (12:00-18:00) hours.
Units follow ``temperature_unit``, ``wind_speed_unit`` and ``precipitation_unit``. Point ``weather.geocoding_url`` at ``<url>/v1/search`` and
``weather.forecast_url`` at ``<url>/v1/forecast`` (see `config_urls`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final

from edge_agent.sim.http import EmulatedHttpService, Request, Response

__all__ = ["CITIES", "RAIN_PCT", "TODAY", "OpenMeteoEmulator"]

TODAY: Final = date(2026, 11, 25)
RAIN_PCT: Final = (80, 20, 0, 40, 90, 10, 60, 30, 0, 0, 50, 70, 20, 10, 0, 100)
DAILY_VARS: Final = frozenset(
    {"weather_code", "temperature_2m_max", "temperature_2m_min", "precipitation_probability_max",
     "precipitation_sum", "wind_speed_10m_max", "sunrise", "sunset"}
)  # fmt: skip
HOURLY_VARS: Final = frozenset(
    {"temperature_2m", "precipitation_probability", "precipitation", "weather_code"}
)

# name, admin1, country, country_code, lat, lon, temperature °C, humidity %, wind km/h, WMO code
CITIES: Final = (
    ("Toronto", "Ontario", "Canada", "CA", 43.70011, -79.4163, -2.5, 71, 18.4, 3),
    ("Paris", "Île-de-France", "France", "FR", 48.85341, 2.3488, 8.1, 82, 11.2, 61),
    ("Paris", "Texas", "United States", "US", 33.66094, -95.55551, 14.0, 60, 9.0, 1),
    ("London", "England", "United Kingdom", "GB", 51.50853, -0.12574, 9.4, 88, 20.5, 63),
    ("Tokyo", "Tokyo", "Japan", "JP", 35.6895, 139.69171, 12.3, 55, 7.6, 0),
)


class OpenMeteoEmulator(EmulatedHttpService):
    name = "open-meteo"

    def config_urls(self) -> dict[str, str]:
        """The `weather` config keys that point at this emulator."""
        return {
            "geocoding_url": f"{self.url}/v1/search",
            "forecast_url": f"{self.url}/v1/forecast",
        }

    def handle(self, request: Request) -> Response:
        response = self._route(request)
        # One request per connection: an idle keep-alive socket would pin the single server
        # thread and block stop().
        response.headers.setdefault("Connection", "close")
        return response

    def _route(self, request: Request) -> Response:
        if request.path == "/v1/search":
            return Response(200, self._search(request.query))
        if request.path == "/v1/forecast":
            return self._forecast(request.query)
        return Response(404, {"error": True, "reason": "Not Found"})

    @staticmethod
    def _search(query: dict[str, str]) -> dict[str, Any]:
        name = query.get("name", "").strip().lower()
        count = int(query.get("count", "10") or 10)
        hits = [c for c in CITIES if name and c[0].lower().startswith(name)][:count]
        out: dict[str, Any] = {"generationtime_ms": 0.4}
        if hits:
            out["results"] = [
                {"id": 6167865 + i, "name": c[0], "admin1": c[1], "country": c[2],
                 "country_code": c[3], "latitude": c[4], "longitude": c[5], "timezone": "UTC"}
                for i, c in enumerate(hits)
            ]  # fmt: skip
        return out

    @staticmethod
    def _forecast(query: dict[str, str]) -> Response:
        try:
            lat, lon = float(query["latitude"]), float(query["longitude"])
        except (KeyError, ValueError):
            return Response(400, {"error": True, "reason": "Parameter 'latitude' is missing"})
        daily = [v for v in query.get("daily", "").split(",") if v]
        hourly = [v for v in query.get("hourly", "").split(",") if v]
        for name in [v for v in daily if v not in DAILY_VARS] + [
            v for v in hourly if v not in HOURLY_VARS
        ]:
            reason = f"Cannot initialize WeatherVariable from invalid String value {name}"
            return Response(400, {"error": True, "reason": reason})
        try:
            days = int(query.get("forecast_days", "7"))
        except ValueError:
            days = -1
        if not 1 <= days <= 16:
            reason = "Forecast days is invalid. Allowed range 0 to 16."
            return Response(400, {"error": True, "reason": reason})
        city = min(CITIES, key=lambda c: (c[4] - lat) ** 2 + (c[5] - lon) ** 2)
        temp_c, humidity, wind_kmh, code = city[6], city[7], city[8], city[9]
        feels_c = round(temp_c - wind_kmh / 10, 1)
        fahrenheit = query.get("temperature_unit") == "fahrenheit"
        mph = query.get("wind_speed_unit") == "mph"

        def t(celsius: float) -> float:
            return round(celsius * 9 / 5 + 32, 1) if fahrenheit else celsius

        current = {
            "time": "2026-11-25T12:00",
            "interval": 900,
            "temperature_2m": t(temp_c),
            "relative_humidity_2m": humidity,
            "apparent_temperature": t(feels_c),
            "weather_code": code,
            "wind_speed_10m": round(wind_kmh / 1.609, 1) if mph else wind_kmh,
        }
        units = {
            "temperature_2m": "°F" if fahrenheit else "°C",
            "wind_speed_10m": "mp/h" if mph else "km/h",
        }
        body: dict[str, Any] = {"latitude": city[4], "longitude": city[5], "timezone": "UTC"}
        if "current" in query:
            body.update(current_units=units, current=current)
        inch = query.get("precipitation_unit") == "inch"

        def w(kmh: float) -> float:
            return round(kmh / 1.609, 1) if mph else kmh

        def p(mm: float) -> float:
            return round(mm / 25.4, 2) if inch else mm

        if daily:
            series = _daily(temp_c, wind_kmh, code, days)
            convert = {"temperature_2m_max": t, "temperature_2m_min": t, "wind_speed_10m_max": w,
                       "precipitation_sum": p}  # fmt: skip
            body["daily"] = {"time": series["time"]} | {
                v: [convert[v](x) for x in series[v]] if v in convert else series[v] for v in daily
            }
        if hourly:
            series = _hourly(temp_c, code, days)
            convert = {"temperature_2m": t, "precipitation": p}
            body["hourly"] = {"time": series["time"]} | {
                v: [convert[v](x) for x in series[v]] if v in convert else series[v] for v in hourly
            }
        return Response(200, body)


def _daily(temp_c: float, wind_kmh: float, code: int, days: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {k: [] for k in ("time", *DAILY_VARS)}
    for i in range(days):
        day = (TODAY + timedelta(days=i)).isoformat()
        rain = RAIN_PCT[i]
        out["time"].append(day)
        out["weather_code"].append(61 if rain >= 60 else code)
        out["temperature_2m_max"].append(round(temp_c + 3 + i % 3, 1))
        out["temperature_2m_min"].append(round(temp_c - 4 + i % 2, 1))
        out["precipitation_probability_max"].append(rain)
        out["precipitation_sum"].append(round(rain / 20, 1) if rain >= 40 else 0.0)
        out["wind_speed_10m_max"].append(round(wind_kmh + i, 1))
        out["sunrise"].append(f"{day}T07:{20 + i:02d}")
        out["sunset"].append(f"{day}T16:{45 - i:02d}")
    return out


def _hourly(temp_c: float, code: int, days: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {k: [] for k in ("time", *HOURLY_VARS)}
    for i in range(days):
        day = (TODAY + timedelta(days=i)).isoformat()
        rain = RAIN_PCT[i]
        for hour in range(24):
            afternoon = 12 <= hour < 18
            chance = rain if afternoon else rain // 4
            out["time"].append(f"{day}T{hour:02d}:00")
            out["precipitation_probability"].append(chance)
            out["precipitation"].append(round(rain / 120, 2) if afternoon and rain >= 40 else 0.0)
            out["weather_code"].append(61 if afternoon and rain >= 60 else code)
            out["temperature_2m"].append(round(temp_c - 3 + (6 if afternoon else 0), 1))
    return out
