"""An Open-Meteo emulator: ``/v1/search`` (geocoding) and ``/v1/forecast`` (current weather).

Serves a few fixed cities with deterministic weather, in the API's answer shapes: a search with
no match answers without a ``results`` key; a bad forecast request answers 400
``{"error":true,"reason":…}``. Point ``weather.geocoding_url`` at ``<url>/v1/search`` and
``weather.forecast_url`` at ``<url>/v1/forecast`` (see `config_urls`).
"""

from __future__ import annotations

from typing import Any, Final

from edge_agent.sim.http import EmulatedHttpService, Request, Response

__all__ = ["CITIES", "OpenMeteoEmulator"]

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
        return Response(
            200,
            {"latitude": city[4], "longitude": city[5], "current_units": units, "current": current},
        )
