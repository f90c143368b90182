"""The doctor's `home` check: does ``[home] location`` resolve, and in which time zone.

Only shown when a home is configured. A place name is looked up with the configured geocoder
(the daemon caches the answer, the doctor asks afresh so a wrong name shows up); coordinates
need no lookup. Must not: write the daemon's cache (the doctor may run as another user).
"""

from __future__ import annotations

from edge_agent.assistant.clock import resolve_zone
from edge_agent.config import Config
from edge_agent.doctor import CheckResult, fail, ok, warn
from edge_agent.errors import ToolError

__all__ = ["home"]


async def home(cfg: Config, timeout_s: float) -> list[CheckResult]:
    from edge_agent.tools.http import make_http_client
    from edge_agent.tools.weather import WeatherService

    h = cfg.home
    zone = resolve_zone(h.timezone).key
    if h.latitude or h.longitude:
        return [ok("home", f"{h.latitude:.4f}, {h.longitude:.4f}; time zone {zone}")]
    name = " ".join(h.location.split())
    if not name:
        return []
    async with make_http_client(cfg.tools) as http:
        weather = WeatherService(
            cfg.weather, http, timeout_s=min(cfg.tools.http_timeout_s, timeout_s)
        )
        try:
            place = await weather.geocode(name)
        except ToolError as exc:
            if exc.code == "not_found":
                return [
                    fail(
                        "home",
                        f"home.location = {h.location!r} was not found by the geocoder",
                        "fix the name (add the country: 'Paris, France') or set home.latitude "
                        "and home.longitude",
                    )
                ]
            return [
                warn(
                    "home",
                    f"home.location = {h.location!r}: {exc.detail}",
                    "the daemon uses its cached answer if it has one; check the network",
                )
            ]
    return [
        ok("home", f"{place.name} ({place.latitude:.2f}, {place.longitude:.2f}); time zone {zone}")
    ]
