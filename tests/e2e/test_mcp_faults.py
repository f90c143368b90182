"""Hostile ``[[mcp.servers]]`` through the whole daemon: the turn goes on, the model is told.

A real MCP server from the official SDK (tests/integrations/servers.py --kind misc) hangs,
errors, answers 50 MB, dies, or changes its tool list while a spoken turn on the real-time rig
waits for it. Each test asserts on what the Realtime emulator RECEIVED (the
function_call_output carrying a structured error, or a session.update carrying the new tool
list), on what the MCP server received (its own log), and on the reply the speaker played
within the turn's time budget: never a stalled turn.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.config import Config, McpConfig, McpServerConfig
from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request, trim_silence
from edge_agent.sim.pipeline_rig import played_prefix as longest_prefix
from edge_agent.sim.scenario import Call, Reply, Scenario, Turn, tone
from edge_agent.sim.speech import speak
from tests.integrations.conftest import Running, start_http, stdio_command

from .conftest import e2e_config

SORRY = Reply("That did not work.", tone(349, 500))
AGAIN = Reply("Done this time.", tone(587, 500))


def mcp_config(server: McpServerConfig, *, follow_up_s: float = 0.0) -> Config:
    return dataclasses.replace(e2e_config(follow_up_s=follow_up_s), mcp=McpConfig((server,)))


def function_outputs(rig: PipelineRig) -> list[dict[str, Any]]:
    assert rig.emulator is not None
    items = [e["item"] for e in rig.emulator.events_of("conversation.item.create")]
    return [json.loads(i["output"]) for i in items if i["type"] == "function_call_output"]


def tool_updates(rig: PipelineRig) -> list[set[str]]:
    """The tool names of every session.update that carried a tool list, in order."""
    assert rig.emulator is not None
    updates = [e["session"] for e in rig.emulator.events_of("session.update")]
    return [{t["name"] for t in u["tools"]} for u in updates if "tools" in u]


def played_whole(rig: PipelineRig, reply: Reply) -> bool:
    heard = rig.heard()
    return longest_prefix(heard, np.frombuffer(reply.pcm, np.int16))[1] == len(reply.pcm) // 2


async def follow_up(rig: PipelineRig, text: str) -> None:
    """Say `text` (no wake word) once the follow-up window is open (spoken first: espeak on a
    busy machine can take longer than the window)."""
    assert rig.pipeline is not None
    turns = rig.pipeline.turns
    audio = np.concatenate([np.zeros(2400, np.int16), trim_silence(speak(text))])
    await rig.wait_for(
        lambda: turns.current is not None and turns.current.trigger == "follow_up",
        20,
        "the follow-up window",
    )
    await rig.say(audio)


FAULTS = [
    # tool, server mode, timeout_s, the error the model must get
    pytest.param("hang", dict(stateless=True, json_mode=True), 1.0, "timeout", id="hangs"),
    pytest.param("fail", dict(stateless=True, json_mode=True), 3.0, "tool_failed", id="errors"),
    pytest.param(
        "huge", dict(stateless=False, json_mode=False), 8.0, "result_too_large", id="50MB"
    ),
    pytest.param("die", dict(stateless=False, json_mode=False), 3.0, "unreachable", id="dies"),
]


@pytest.mark.parametrize(("tool", "mode", "timeout_s", "error"), FAULTS)
async def test_a_hostile_server_gives_the_model_a_structured_error_and_the_turn_ends(
    pins: MockFactory, tmp_path: Path, tool: str, mode: dict[str, bool], timeout_s: float,
    error: str,
) -> None:  # fmt: skip
    server: Running = start_http(tmp_path, **mode)
    srv = McpServerConfig(name="misc", url=server.url, allow=("*",), timeout_s=timeout_s)
    scenario = Scenario((Turn(calls=(Call(f"mcp_misc_{tool}", {}),), then=SORRY),))
    audio, _ = spoken_request("ask the server")
    try:
        async with PipelineRig(mcp_config(srv), scenario=scenario, pin_factory=pins) as rig:
            assert rig.pipeline is not None
            await rig.say(audio)
            await rig.wait_turns(1, timeout_s=timeout_s + 20)
            [turn] = rig.pipeline.turns.finished
            played = played_whole(rig, SORRY)
    finally:
        server.stop()
    [output] = function_outputs(rig)
    assert output["ok"] is False and output["error"] == error, output
    assert output["device"] == "misc" and len(json.dumps(output)) < 2000
    assert "\n" not in output.get("detail", "")  # the server's text, cleaned
    assert server.received() == [{"tool": tool, "args": {}}]
    # within the request's deadline (plus the registry's half second), then the reply
    assert turn.tools[0].duration_ms < (timeout_s + 1.0) * 1000, turn.tools
    assert turn.outcome == "completed" and played


async def test_a_stdio_server_that_dies_is_restarted_for_the_next_turn(
    pins: MockFactory, tmp_path: Path
) -> None:
    log = tmp_path / "stdio.jsonl"
    command, args = stdio_command("misc", log)
    srv = McpServerConfig(
        name="local", command=command, args=tuple(args), allow=("*",), timeout_s=5.0
    )
    scenario = Scenario(
        (
            Turn(calls=(Call("mcp_local_die", {}),), then=SORRY),
            Turn(calls=(Call("mcp_local_echo", {"text": "back"}),), then=AGAIN),
        )
    )
    audio, _ = spoken_request("ask the local server")
    async with PipelineRig(
        mcp_config(srv, follow_up_s=4.0), scenario=scenario, pin_factory=pins
    ) as rig:
        assert rig.pipeline is not None
        await rig.say(audio)
        await rig.wait_for(lambda: len(function_outputs(rig)) == 1, 20, "the first tool output")
        await follow_up(rig, "try again please")
        await rig.wait_turns(3, timeout_s=30)
        turns = rig.pipeline.turns.finished
        played = played_whole(rig, SORRY) and played_whole(rig, AGAIN)
    died, echoed = function_outputs(rig)
    assert died["ok"] is False and died["error"] == "server_died"
    assert echoed == {"ok": True, "device": "local", "text": "back"}
    # the child that died got the first call, a restarted one the second
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        {"tool": "die", "args": {}},
        {"tool": "echo", "args": {"text": "back", "times": 1}},
    ]
    assert [t.outcome for t in turns[:2]] == ["completed", "completed"] and played


async def test_a_tool_list_changed_mid_session_reaches_the_model(
    pins: MockFactory, tmp_path: Path
) -> None:
    """The server adds a tool during a turn and says so (notifications/tools/list_changed on
    its GET stream): the open session gets a session.update with it, and the next turn can
    call it."""
    server = start_http(tmp_path, stateless=False, json_mode=False)
    srv = McpServerConfig(name="misc", url=server.url, allow=("*",), timeout_s=3.0)
    scenario = Scenario(
        (
            Turn(calls=(Call("mcp_misc_evolve", {}),), then=Reply("Evolved.", tone(523, 400))),
            Turn(calls=(Call("mcp_misc_fresh", {}),), then=AGAIN),
        )
    )
    audio, _ = spoken_request("learn something new")
    try:
        async with PipelineRig(
            mcp_config(srv, follow_up_s=4.0), scenario=scenario, pin_factory=pins
        ) as rig:
            assert rig.pipeline is not None
            await rig.say(audio)
            await rig.wait_for(
                lambda: any("mcp_misc_fresh" in u for u in tool_updates(rig)), 20, "the new list"
            )
            await follow_up(rig, "use the new one")
            await rig.wait_turns(3, timeout_s=30)
            turns = rig.pipeline.turns.finished
            played = played_whole(rig, AGAIN)
    finally:
        server.stop()
    updates = tool_updates(rig)
    assert "mcp_misc_fresh" not in updates[0] and "mcp_misc_echo" in updates[0]
    assert "mcp_misc_fresh" in updates[-1] and "mcp_misc_echo" in updates[-1]
    evolved, fresh = function_outputs(rig)
    assert evolved["text"] == "evolved" and fresh == {
        "ok": True,
        "device": "misc",
        "text": "fresh!",
    }
    assert [c["tool"] for c in server.received()] == ["evolve", "fresh"]
    assert [t.outcome for t in turns[:2]] == ["completed", "completed"] and played
