"""`[homeassistant]` against a server shaped like Home Assistant's MCP server, behind a token.

The server (servers.py --kind ha) has Home Assistant's intent tool names and argument shapes,
GetLiveContext with its YAML text, a kitchen light, a front door lock and a garage door cover;
it is stateless with JSON answers, as Home Assistant serves /api/mcp. Assertions are on what it
RECEIVED and on the entity states it ended with.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.config import parse_config
from edge_agent.tools.home import build_registry
from edge_agent.tools.registry import ToolRegistry

from .conftest import TOKEN, Running


def _toml(server: Running, tmp_path: Path, **extra: Any) -> str:
    token_file = tmp_path / "ha.token"
    token_file.write_text(extra.pop("token", TOKEN) + "\n")
    base = server.url.removesuffix("/api/mcp")
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in extra.items())
    return f"""
[tools]
enabled = []

[homeassistant]
url = "{base}"
token_file = "{token_file}"
area = "Kitchen"
{lines}
"""


@pytest.fixture
async def make(ha_server: Running, tmp_path: Path, http: httpx.AsyncClient) -> AsyncIterator[Any]:
    made: list[ToolRegistry] = []

    async def build(**extra: Any) -> ToolRegistry:
        cfg = parse_config(_toml(ha_server, tmp_path, **extra), require_api_key=False)
        registry = build_registry(cfg, http)
        await registry.start()
        made.append(registry)
        return registry

    yield build
    for registry in made:
        await registry.aclose()


async def _call(registry: ToolRegistry, name: str, args: dict[str, Any]) -> Any:
    return json.loads(await registry.call(name, json.dumps(args)))


async def _state(registry: ToolRegistry, entity_id: str) -> str:
    out = await _call(registry, "ha_get_state_of", {"entity_id": entity_id})
    return str(out["text"])


def _calls(server: Running, tool: str) -> list[dict[str, Any]]:
    return [c["args"] for c in server.received() if c["tool"] == tool]


async def test_tools_are_listed_namespaced_with_the_area_in_the_instructions(make: Any) -> None:
    registry = await make()
    assert {"ha_HassTurnOn", "ha_HassTurnOff", "ha_HassLightSet", "ha_HassSetPosition",
            "ha_GetLiveContext", "confirm_action"} <= set(registry.names)  # fmt: skip
    spec = next(s for s in registry.specs() if s["name"] == "ha_HassTurnOff")
    assert "unlock" in spec["description"]
    assert set(spec["parameters"]["properties"]) == {
        "name", "area", "floor", "domain", "device_class"}  # fmt: skip
    text = registry.instructions()
    assert "This speaker is in the Kitchen area" in text and 'pass area "Kitchen"' in text
    assert TOKEN not in json.dumps(registry.specs())


async def test_turn_off_the_kitchen_lights(make: Any, ha_server: Running) -> None:
    registry = await make()
    before = len(_calls(ha_server, "HassTurnOff"))
    out = await _call(registry, "ha_HassTurnOff", {"area": "Kitchen", "domain": ["light"]})
    assert out["ok"] is True
    assert out["result"]["response_type"] == "action_done"
    assert out["result"]["data"]["success"] == [
        {"name": "Kitchen Light", "type": "entity", "id": "light.kitchen"}
    ]
    assert _calls(ha_server, "HassTurnOff")[before:] == [{"area": "Kitchen", "domain": ["light"]}]
    assert await _state(registry, "light.kitchen") == "off"
    assert await _state(registry, "light.hall") == "on"


async def test_unlock_the_front_door_is_refused_by_default(make: Any, ha_server: Running) -> None:
    registry = await make()
    before = len(_calls(ha_server, "HassTurnOff"))
    out = await _call(registry, "ha_HassTurnOff", {"name": "front door"})
    assert out["ok"] is False and out["error"] == "not_allowed"
    assert "homeassistant.allow_unlock = true" in out["detail"]
    assert len(_calls(ha_server, "HassTurnOff")) == before  # it never reached Home Assistant
    assert await _state(registry, "lock.front_door") == "locked"


async def test_unlock_with_allow_unlock_asks_and_waits_for_a_spoken_yes(
    make: Any, ha_server: Running
) -> None:
    registry = await make(allow_unlock=True)
    before = len(_calls(ha_server, "HassTurnOff"))
    asked = await _call(registry, "ha_HassTurnOff", {"name": "Front Door"})
    assert asked["error"] == "confirmation_required" and asked["say"] == "Unlock Front Door?"
    assert len(_calls(ha_server, "HassTurnOff")) == before
    same_turn = await _call(
        registry, "confirm_action", {"confirmation_id": asked["confirmation_id"]}
    )
    assert same_turn["error"] == "confirmation_needs_user"
    registry.new_user_turn()
    registry.user_transcript("yes")  # the device heard the user's own yes
    done = await _call(registry, "confirm_action", {"confirmation_id": asked["confirmation_id"]})
    assert done["ok"] is True
    assert _calls(ha_server, "HassTurnOff")[before:] == [{"name": "Front Door"}]
    assert await _state(registry, "lock.front_door") == "unlocked"
    await _call(registry, "ha_HassTurnOn", {"name": "Front Door"})  # locking needs no yes
    assert await _state(registry, "lock.front_door") == "locked"


async def test_an_alias_the_model_invents_still_counts_as_the_lock(make: Any) -> None:
    registry = await make()
    out = await _call(registry, "ha_HassTurnOff", {"name": "front door lock", "domain": ["lock"]})
    assert out["error"] == "not_allowed"
    whole_hall = await _call(registry, "ha_HassTurnOff", {"area": "Hallway"})
    assert whole_hall["error"] == "not_allowed"


async def test_opening_the_garage_is_refused_by_default_closing_is_not(
    make: Any, ha_server: Running
) -> None:
    registry = await make()
    opened = await _call(registry, "ha_HassTurnOn", {"name": "Garage Door"})
    assert opened["error"] == "not_allowed" and "allow_open" in opened["detail"]
    half = await _call(registry, "ha_HassSetPosition", {"name": "Garage Door", "position": 50})
    assert half["error"] == "not_allowed"
    closed = await _call(registry, "ha_HassSetPosition", {"name": "Garage Door", "position": 0})
    assert closed["ok"] is True
    assert await _state(registry, "cover.garage") == "closed"
    assert {"name": "Garage Door"} not in _calls(ha_server, "HassTurnOn")


async def test_opening_the_garage_with_allow_open_asks_first(make: Any, ha_server: Running) -> None:
    registry = await make(allow_open=True)
    asked = await _call(registry, "ha_HassTurnOn", {"name": "Garage Door"})
    assert asked["error"] == "confirmation_required" and asked["say"] == "Open Garage Door?"
    registry.new_user_turn()
    registry.user_transcript("yes")  # the device heard the user's own yes
    done = await _call(registry, "confirm_action", {"confirmation_id": asked["confirmation_id"]})
    assert done["ok"] is True
    assert await _state(registry, "cover.garage") == "open"
    await _call(registry, "ha_HassTurnOff", {"name": "Garage Door"})


async def test_a_wrong_token_offers_no_tools_and_says_why(make: Any) -> None:
    registry = await make(token="wrong")
    assert [n for n in registry.names if n.startswith("ha_")] == []
