"""The home location: `[home]` coordinates, or its place name geocoded once and cached on disk.

"What's the weather" means here. With ``home.latitude``/``longitude`` set nothing is looked up.
With ``home.location`` the name is geocoded (Open-Meteo, through `WeatherService.geocode`) the
first time and the answer kept in ``<cache_dir>/home_location.json`` with the name it was found
for, so later starts (and a daemon with no network at boot) need no lookup. A name the geocoder
cannot find is logged once, clearly, at start; the daemon runs on and `get_weather` without a
place answers ``no_home_location`` with the reason.

The cache file is read back as hostile input (a hand-edited or corrupt file): numbers checked,
text cleaned; a bad file is ignored and rewritten.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any, Final

from edge_agent.config import HomeConfig
from edge_agent.errors import ToolError
from edge_agent.tools.weather import Place, WeatherService

__all__ = ["CACHE_NAME", "HomeLocation"]

log = logging.getLogger(__name__)

CACHE_NAME: Final = "home_location.json"


class HomeLocation:
    """Resolves and remembers the home `Place`; `place()` is the tools' hook."""

    def __init__(self, cfg: HomeConfig, weather: WeatherService | None, cache_dir: Path) -> None:
        self.cfg = cfg
        self.weather = weather
        self.cache_path = Path(cache_dir) / CACHE_NAME
        self._place: Place | None = None
        self._problem = ""
        self._lock = asyncio.Lock()
        if cfg.latitude or cfg.longitude:
            name = cfg.location.strip() or f"{cfg.latitude:.4f}, {cfg.longitude:.4f}"
            self._place = Place(name, cfg.latitude, cfg.longitude)

    @property
    def configured(self) -> bool:
        return bool(self._place or self.cfg.location.strip())

    @property
    def name(self) -> str:
        """The resolved place's name ("" before `resolve` or when there is none)."""
        return self._place.name if self._place else ""

    async def resolve(self) -> Place | None:
        """Find the home place (once); logs why not and returns None when it cannot."""
        try:
            return await self.place()
        except ToolError as exc:
            if exc.code == "no_home_location" and not self.cfg.location.strip():
                return None
            log.error(
                "home location unavailable: %s",
                exc.detail,
                extra={"ERROR_CODE": "home_location", "DEVICE": "open-meteo"},
            )
            return None

    async def place(self) -> Place:
        """The home place. Raises ToolError no_home_location (with the reason) or a lookup error."""
        if self._place is not None:
            return self._place
        query = " ".join(self.cfg.location.split())
        if not query:
            raise ToolError(
                "no_home_location",
                "no home location is set; ask the user for a place (the owner can set "
                "[home] location)",
            )
        async with self._lock:
            if self._place is not None:
                return self._place
            if self._problem:  # not found once: asking again gives the same answer
                raise ToolError("no_home_location", self._problem)
            cached = await asyncio.to_thread(self._read_cache, query)
            if cached is not None:
                self._place = cached
                return cached
            if self.weather is None:
                raise ToolError("no_home_location", "the weather tools are off")
            try:
                place = await self.weather.geocode(query)
            except ToolError as exc:
                if exc.code == "not_found":
                    self._problem = (
                        f"home.location = {query!r} was not found by the geocoder; "
                        "fix the name (add the country: 'Paris, France') or set "
                        "home.latitude and home.longitude"
                    )
                    raise ToolError("no_home_location", self._problem) from None
                raise  # timeout, unreachable: try again next time
            self._place = place
            await asyncio.to_thread(self._write_cache, query, place)
            log.info("home location %s", place.name, extra={"DEVICE": "open-meteo"})
            return place

    # -- the cache file (worker thread) --------------------------------------------------------
    def _read_cache(self, query: str) -> Place | None:
        try:
            raw = json.loads(self.cache_path.read_text(encoding="utf-8")[:4096])
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict) or raw.get("query") != query.lower():
            return None
        try:
            return Place.from_answer(_as_answer(raw))
        except ToolError:
            return None

    def _write_cache(self, query: str, place: Place) -> None:
        data = {
            "query": query.lower(),
            "name": place.name,
            "latitude": place.latitude,
            "longitude": place.longitude,
            "timezone": place.timezone,
        }
        tmp = self.cache_path.with_suffix(".tmp")
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.cache_path)
        except OSError as exc:  # no cache: geocoded again at the next start
            log.warning("cannot cache the home location: %s", exc.strerror or exc)


def _as_answer(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: raw.get(k) for k in ("name", "latitude", "longitude", "timezone")}
