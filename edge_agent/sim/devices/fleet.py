"""`DeviceFleet`: one emulator per configured device, and a config that points at them.

Used by `edge-agent sim devices`, `edge-agent simulate` and the end-to-end tests: start the
fleet from a real config, then run the daemon (or the tools) against ``fleet.config``, whose
devices are rewritten to ``127.0.0.1:<port>`` and whose weather URLs point at an Open-Meteo
emulator. Families whose emulator is not installed are skipped and listed in `skipped`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from edge_agent.config import Config, DeviceConfig
from edge_agent.sim.devices import emulator_class
from edge_agent.sim.http import EmulatedHttpService
from edge_agent.sim.weather import OpenMeteoEmulator

__all__ = ["DeviceFleet"]

log = logging.getLogger(__name__)


class DeviceFleet:
    """Emulators for `cfg.devices` (+ Open-Meteo when `weather`); a context manager."""

    def __init__(self, cfg: Config, *, weather: bool = True) -> None:
        self.source = cfg
        self.with_weather = weather
        self.emulators: dict[str, EmulatedHttpService] = {}
        self.weather: OpenMeteoEmulator | None = None
        self.skipped: list[str] = []
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        """The source config with every served device (and weather) pointing at an emulator."""
        if self._config is None:
            raise RuntimeError("fleet not started")
        return self._config

    def start(self) -> DeviceFleet:
        devices: list[DeviceConfig] = []
        try:
            for dev in self.source.devices:
                try:
                    cls = emulator_class(dev.family)
                except (ImportError, KeyError, AttributeError):
                    log.warning("no emulator for %s devices; %r skipped", dev.family, dev.name)
                    self.skipped.append(dev.name)
                    continue
                emu = cls.for_device(dev).start()  # type: ignore[attr-defined]
                self.emulators[dev.name] = emu
                devices.append(dataclasses.replace(  # emulators speak plain http
                    dev, host="127.0.0.1", port=emu.port, scheme="http", ca_file="",
                    cert_sha256=""))  # fmt: skip
            weather = self.source.weather
            if self.with_weather:
                self.weather = OpenMeteoEmulator()
                self.weather.start()
                urls = self.weather.config_urls()
                weather = dataclasses.replace(
                    weather, geocoding_url=urls["geocoding_url"], forecast_url=urls["forecast_url"]
                )
        except BaseException:
            self.stop()
            raise
        self._config = dataclasses.replace(self.source, devices=tuple(devices), weather=weather)
        return self

    def stop(self) -> None:
        """Stop every emulator (in parallel: each waits out its server's poll interval)."""
        services = [*self.emulators.values(), *([self.weather] if self.weather else [])]
        threads = [threading.Thread(target=s.stop) for s in services]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def __enter__(self) -> DeviceFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
