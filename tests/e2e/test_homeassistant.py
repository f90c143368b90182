"""`[homeassistant]` through the whole daemon: a spoken request on the real-time rig, the Realtime
emulator's scripted model calling the ``ha_`` tools, a Home Assistant-shaped MCP server.

The server (tests/integrations/servers.py --kind ha, the official SDK, stateless JSON behind a
bearer token, as Home Assistant serves /api/mcp) logs every call it RECEIVED: the tests assert
on that log, on the function_call_output the emulator received, and on the reply audio the
speaker played, not on what the daemon believes it did.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.config import Config, HomeAssistantConfig, Secret
from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request, trim_silence
from edge_agent.sim.pipeline_rig import played_prefix as longest_prefix
from edge_agent.sim.scenario import Call, Reply, Scenario, Turn, tone
from edge_agent.sim.speech import speak
from tests.integrations.conftest import TOKEN, Running, start_http

from .conftest import e2e_config

OFF_REPLY = Reply("The kitchen lights are off.", tone(660, 600))


@pytest.fixture
def ha(tmp_path: Path) -> Iterator[Running]:
    """A fresh Home Assistant-shaped server per test (the tests change its entities)."""
    server = start_http(tmp_path, kind="ha", stateless=True, json_mode=True, token=TOKEN)
    yield server
    server.stop()


def ha_config(server: Running, *, follow_up_s: float = 0.0, **options: Any) -> Config:
    cfg = e2e_config(follow_up_s=follow_up_s)
    ha = HomeAssistantConfig(
        url=server.url.removesuffix("/api/mcp"), area="Kitchen", token=Secret(TOKEN), **options
    )
    return dataclasses.replace(cfg, homeassistant=ha)


def function_outputs(rig: PipelineRig) -> list[dict[str, Any]]:
    assert rig.emulator is not None
    items = [e["item"] for e in rig.emulator.events_of("conversation.item.create")]
    return [json.loads(i["output"]) for i in items if i["type"] == "function_call_output"]


def offered(rig: PipelineRig) -> set[str]:
    """Every tool name the daemon offered the model in its session.updates."""
    assert rig.emulator is not None
    updates = [e["session"] for e in rig.emulator.events_of("session.update")]
    return {t["name"] for u in updates for t in u.get("tools", [])}


def received(server: Running, tool: str) -> list[dict[str, Any]]:
    return [c["args"] for c in server.received() if c["tool"] == tool]


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype=np.int16)


async def state_of(rig: PipelineRig, entity_id: str) -> str:
    """An entity's state on the server, asked through the daemon's own registry."""
    assert rig.pipeline is not None
    out = await rig.pipeline.tools.registry.call(
        "ha_get_state_of", json.dumps({"entity_id": entity_id})
    )
    return str(json.loads(out)["text"])


async def test_hey_jarvis_turn_off_the_kitchen_lights(pins: MockFactory, ha: Running) -> None:
    call = Call("ha_HassTurnOff", {"area": "Kitchen", "domain": ["light"]})
    scenario = Scenario((Turn(calls=(call,), then=OFF_REPLY),))
    audio, _ = spoken_request("turn off the kitchen lights")
    async with PipelineRig(ha_config(ha), scenario=scenario, pin_factory=pins) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        await rig.say(audio)
        await rig.wait_turns(1)
        kitchen, hall = await state_of(rig, "light.kitchen"), await state_of(rig, "light.hall")
        heard = rig.heard()
        sent = json.dumps(rig.emulator.client_events)
        instructions = rig.emulator.events_of("session.update")[0]["session"]["instructions"]
        [turn] = rig.pipeline.turns.finished
    # Home Assistant received the intent, with the area, once; the guard read the live context
    assert received(ha, "HassTurnOff") == [{"area": "Kitchen", "domain": ["light"]}]
    assert received(ha, "GetLiveContext") == [{}]
    assert (kitchen, hall) == ("off", "on")
    # the model was offered Home Assistant's tools and told where this speaker is
    assert {"ha_HassTurnOff", "ha_HassTurnOn", "ha_GetLiveContext"} <= offered(rig)
    assert "This speaker is in the Kitchen area" in instructions
    [output] = function_outputs(rig)
    assert output["ok"] is True and output["result"]["response_type"] == "action_done"
    assert output["result"]["data"]["success"][0]["id"] == "light.kitchen"
    assert TOKEN not in sent  # the token never leaves for the cloud
    # the reply reached the speaker, sample for sample
    assert longest_prefix(heard, samples(OFF_REPLY.pcm))[1] == len(OFF_REPLY.pcm) // 2
    assert turn.outcome == "completed" and [(t.name, t.ok) for t in turn.tools] == [
        ("ha_HassTurnOff", True)
    ]


async def test_unlock_the_front_door_is_refused_by_default(pins: MockFactory, ha: Running) -> None:
    refused = Reply("I'm not allowed to unlock doors.", tone(392, 600))
    call = Call("ha_HassTurnOff", {"name": "Front Door"})
    scenario = Scenario((Turn(calls=(call,), then=refused),))
    audio, _ = spoken_request("unlock the front door")
    async with PipelineRig(ha_config(ha), scenario=scenario, pin_factory=pins) as rig:
        assert rig.pipeline is not None
        await rig.say(audio)
        await rig.wait_turns(1)
        lock = await state_of(rig, "lock.front_door")
        heard = rig.heard()
        [turn] = rig.pipeline.turns.finished
    [output] = function_outputs(rig)
    assert output["ok"] is False and output["error"] == "not_allowed"
    assert "homeassistant.allow_unlock = true" in output["detail"]
    assert received(ha, "HassTurnOff") == [] and lock == "locked"  # it never reached HA
    assert received(ha, "GetLiveContext") == [{}]  # the target was looked up there
    assert longest_prefix(heard, samples(refused.pcm))[1] == len(refused.pcm) // 2
    assert turn.outcome == "completed"


@pytest.mark.parametrize(("answer", "unlocks"), [("yes, do it", True), ("no, leave it", False)])
async def test_unlock_with_allow_unlock_asks_and_needs_the_users_yes(
    pins: MockFactory, ha: Running, answer: str, unlocks: bool
) -> None:
    question = Reply("Do you want me to unlock the front door?", tone(440, 500))
    first = Turn(calls=(Call("ha_HassTurnOff", {"name": "Front Door"}),), then=question)
    audio, _ = spoken_request("unlock the front door")
    spoken_answer = np.concatenate([np.zeros(2400, np.int16), trim_silence(speak(answer))])
    cfg = ha_config(ha, follow_up_s=2.0, allow_unlock=True)
    async with PipelineRig(cfg, scenario=Scenario((first,)), pin_factory=pins) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        await rig.say(audio)
        await rig.wait_for(lambda: len(function_outputs(rig)) == 1, 20, "the first tool output")
        [asked] = function_outputs(rig)
        assert asked["error"] == "confirmation_required" and asked["say"] == "Unlock Front Door?"
        assert received(ha, "HassTurnOff") == []
        # the model confirms whatever was heard; the daemon checks the user's own words
        confirm = Call("confirm_action", {"confirmation_id": asked["confirmation_id"]})
        done = Reply("Done.", tone(880, 400))
        rig.emulator.set_turns([Turn(calls=(confirm,), then=done, user_transcript=answer)])
        turns = rig.pipeline.turns
        await rig.wait_for(
            lambda: turns.current is not None and turns.current.trigger == "follow_up",
            20,
            "the follow-up window",
        )
        heard_question = rig.heard()
        await rig.say(spoken_answer)
        await rig.wait_turns(3)
        lock = await state_of(rig, "lock.front_door")
    # the question was spoken before the answer was heard
    assert longest_prefix(heard_question, samples(question.pcm))[1] == len(question.pcm) // 2
    outputs = function_outputs(rig)
    assert outputs[1]["ok"] is unlocks
    if unlocks:
        assert received(ha, "HassTurnOff") == [{"name": "Front Door"}] and lock == "unlocked"
    else:
        assert outputs[1]["error"] == "confirmation_declined"
        assert received(ha, "HassTurnOff") == [] and lock == "locked"


async def test_home_assistant_gone_mid_session_is_a_structured_error(
    pins: MockFactory, ha: Running
) -> None:
    """Home Assistant restarts (or dies) after the daemon listed its tools: the call fails with
    a structured error the model can say, within the request timeout, and the turn ends."""
    sorry = Reply("I can't reach Home Assistant.", tone(330, 500))
    call = Call("ha_HassLightSet", {"area": "Kitchen", "brightness": 20})
    scenario = Scenario((Turn(calls=(call,), then=sorry),))
    audio, _ = spoken_request("dim the kitchen lights")
    async with PipelineRig(
        ha_config(ha, timeout_s=2.0), scenario=scenario, pin_factory=pins
    ) as rig:
        assert rig.pipeline is not None
        assert "ha_HassLightSet" in rig.pipeline.tools.registry.names
        ha.stop()
        await rig.say(audio)
        await rig.wait_turns(1, timeout_s=20)
        heard = rig.heard()
        [turn] = rig.pipeline.turns.finished
    [output] = function_outputs(rig)
    assert output["ok"] is False and output["error"] == "unreachable"
    assert turn.outcome == "completed" and turn.tools[0].duration_ms < 2500
    assert longest_prefix(heard, samples(sorry.pcm))[1] == len(sorry.pcm) // 2
