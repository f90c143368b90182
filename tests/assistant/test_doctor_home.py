"""`edge-agent doctor`'s home line, against the Open-Meteo emulator."""

from __future__ import annotations

from pathlib import Path

from edge_agent.doctor import Status
from edge_agent.probes import DoctorOptions, run_checks
from edge_agent.sim.weather import OpenMeteoEmulator

OTHERS = frozenset({"audio", "network", "realtime", "wake", "gpio", "devices"})


async def _home_lines(tmp_path: Path, emu: OpenMeteoEmulator, home: str) -> list:
    urls = emu.config_urls()
    path = tmp_path / "config.toml"
    path.write_text(
        f'[weather]\ngeocoding_url = "{urls["geocoding_url"]}"\n'
        f'forecast_url = "{urls["forecast_url"]}"\n[home]\ntimezone = "America/Toronto"\n{home}\n'
    )
    opts = DoctorOptions(
        config_path=str(path),
        env={"OPENAI_API_KEY": "sk-test-0123456789abcdef"},
        skip=OTHERS,
        journal_socket=str(tmp_path / "no-journal"),
        timeout_s=2.0,
    )
    return [r for r in await run_checks(opts) if r.check == "home"]


async def test_home_found_not_found_and_not_configured(tmp_path: Path, serve) -> None:
    emu = serve(OpenMeteoEmulator())
    (found,) = await _home_lines(tmp_path, emu, 'location = "Toronto"')
    assert found.status is Status.OK
    assert found.detail == "Toronto, Ontario, Canada (43.70, -79.42); time zone America/Toronto"
    assert emu.requests[-1].query["name"] == "toronto"
    (missing,) = await _home_lines(tmp_path, emu, 'location = "Atlantis"')
    assert missing.status is Status.FAIL
    assert missing.detail == "home.location = 'Atlantis' was not found by the geocoder"
    assert "home.latitude" in missing.hint
    (coords,) = await _home_lines(tmp_path, emu, "latitude = 1.5\nlongitude = 2.25")
    assert coords.detail == "1.5000, 2.2500; time zone America/Toronto"
    assert await _home_lines(tmp_path, emu, "") == []  # no home: no line


async def test_an_unreachable_geocoder_is_a_warning(tmp_path: Path, serve) -> None:
    emu = serve(OpenMeteoEmulator())
    emu.hang = True
    (line,) = await _home_lines(tmp_path, emu, 'location = "Toronto"')
    assert line.status is Status.WARN and "cached answer" in line.hint
