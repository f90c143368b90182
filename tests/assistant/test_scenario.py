"""The bundled assistant scenario: every scripted call runs through the real registry."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from edge_agent.assistant.assembly import build_assistant
from edge_agent.config import parse_config
from edge_agent.sim.scenario import load_scenario
from edge_agent.sim.weather import OpenMeteoEmulator
from edge_agent.tools.home import build_registry
from edge_agent.tools.weather import WeatherService
from tests.assistant.conftest import Wall, utc

SCENARIO = Path(str(resources.files("edge_agent.sim") / "data" / "assistant.toml"))


async def test_every_call_in_the_assistant_scenario_succeeds(tmp_path: Path, serve, http) -> None:
    emu = serve(OpenMeteoEmulator())
    urls = emu.config_urls()
    cfg = parse_config(
        f"""
[daemon]
state_dir = "{tmp_path}"
cache_dir = "{tmp_path}"
[weather]
geocoding_url = "{urls["geocoding_url"]}"
forecast_url = "{urls["forecast_url"]}"
[home]
timezone = "America/Toronto"
""",
        require_api_key=False,
    )
    wall = Wall(utc(2026, 11, 25, 23, 0))
    assistant = build_assistant(  # as the daemon builds it: the time per turn, no get_time
        cfg, WeatherService(cfg.weather, http), wall=wall, turn_context=True
    )
    reg = build_registry(cfg, http, assistant=assistant)
    first_note = assistant.turn_context()  # what the model is told before the first turn
    scenario = load_scenario(SCENARIO)
    results = []
    try:
        for turn in scenario.turns:
            for call in turn.calls:
                results.append(json.loads(await reg.call(call.name, json.dumps(call.arguments))))
            wall.now += 60
    finally:
        await reg.aclose()
    assert all(r["ok"] for r in results), results
    assert "get_time" not in [s["name"] for s in reg.specs()]
    assert first_note == "Local time: Wednesday 25 November 2026, 18:00."
    assert results[0]["set"]["label"] == "tea"
    assert results[1]["precip_chance_pct"] == 20
    assert results[2] == {"volume_pct": 90, "was_pct": 100, "ok": True}
    assert results[3]["timers"][0]["left"] == "2 minutes"
    assert results[4]["left"] == 0
    assert [r.path for r in emu.requests] == ["/v1/search", "/v1/forecast"]
