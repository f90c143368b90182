"""The registry: validation, timeouts, structured errors, logging, hooks."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from edge_agent.errors import ToolError
from edge_agent.tools.registry import Tool, ToolFailure, ToolRegistry

from .conftest import TIME_SCALE

SCHEMA = {
    "type": "object",
    "properties": {"device": {"type": "string", "maxLength": 20}, "n": {"type": "integer"}},
    "required": ["device"],
    "additionalProperties": False,
}


async def echo(args: dict) -> dict:
    return {"device": args["device"], "n": args.get("n", 0)}


async def slow(args: dict) -> dict:
    await asyncio.sleep(10)
    return {}


async def fails(args: dict) -> dict:
    raise ToolFailure("ambiguous", "which one?", candidates=["a", "b"])


async def crashes(args: dict) -> dict:
    raise KeyError("internal detail that must not leak")


async def leaks(args: dict) -> dict:
    return {"detail": "password is hunter2-secret"}


async def huge(args: dict) -> dict:
    return {"blob": "x" * 10000}


def registry(**kw) -> ToolRegistry:
    tools = [Tool(n, f"{n} tool", SCHEMA, h, timeout_s=0.2) for n, h in [
        ("echo", echo), ("slow", slow), ("fails", fails), ("crashes", crashes),
        ("leaks", leaks), ("huge", huge)]]  # fmt: skip
    return ToolRegistry(tools, **kw)


def test_specs() -> None:
    assert registry().specs()[0] == {
        "type": "function",
        "name": "echo",
        "description": "echo tool",
        "parameters": SCHEMA,
    }
    with pytest.raises(ValueError):
        ToolRegistry([Tool("a", "", SCHEMA, echo), Tool("a", "", SCHEMA, echo)])


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("echo", '{"device": "lamp", "n": 2}', {"device": "lamp", "n": 2, "ok": True}),
        ("echo", "not json", {"ok": False, "error": "bad_arguments",
                              "detail": "arguments are not valid JSON"}),
        ("echo", "[1]", {"ok": False, "error": "bad_arguments",
                         "detail": "arguments must be a JSON object"}),
        ("echo", '{"n": 1}', {"ok": False, "error": "bad_arguments",
                              "detail": "data must contain ['device'] properties"}),
        ("echo", '{"device": "x", "url": "http://evil"}', {"ok": False, "error": "bad_arguments",
            "detail": "data must not contain {'url'} properties"}),
        ("nope", "{}", {"ok": False, "error": "unknown_tool", "detail": "no tool named 'nope'"}),
        ("fails", '{"device": "x"}', {"ok": False, "error": "ambiguous", "detail": "which one?",
                                      "candidates": ["a", "b"]}),
        ("crashes", '{"device": "x"}', {"ok": False, "error": "internal_error",
                                        "detail": "KeyError"}),
        ("huge", '{"device": "x"}', {"ok": False, "error": "result_too_large",
                                     "detail": "narrow the request"}),
    ],
)  # fmt: skip
async def test_call_results(name: str, args: str, expected: dict) -> None:
    assert json.loads(await registry().call(name, args)) == expected


async def test_timeout_is_enforced() -> None:
    start = time.monotonic()
    result = json.loads(await registry().call("slow", '{"device": "x"}'))
    assert result == {
        "ok": False,
        "error": "timeout",
        "detail": "no answer in 0.2 s; outcome unknown",
    }
    assert time.monotonic() - start < 0.5 * TIME_SCALE


async def test_secrets_are_scrubbed_from_results() -> None:
    reg = registry(secrets=["hunter2-secret"])
    assert "hunter2" not in await reg.call("leaks", '{"device": "x"}')


async def test_one_log_line_per_call_with_fields(caplog) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent.tools.registry")
    reg = registry()
    await reg.call("echo", '{"device": "lamp"}', turn_id="t-1")
    await reg.call("fails", '{"device": "garage"}')
    calls = [r for r in caplog.records if r.name == "edge_agent.tools.registry"]
    assert len(calls) == 2
    ok, err = calls
    assert (ok.TOOL, ok.DEVICE, ok.OUTCOME, ok.TURN_ID) == ("echo", "lamp", "ok", "t-1")
    assert isinstance(ok.LATENCY_MS, int)
    assert (err.TOOL, err.DEVICE, err.OUTCOME, err.ERROR_CODE) == (
        "fails", "garage", "error", "ambiguous",
    )  # fmt: skip


async def test_hooks() -> None:
    reg = registry()
    turns: list[int] = []
    reg.on_new_user_turn(lambda: turns.append(1))
    reg.new_user_turn()
    assert turns == [1]
    reg.add_instructions(lambda: "")
    reg.add_instructions(lambda: "remember: x")
    assert reg.instructions() == "remember: x"
    closed: list[str] = []

    async def close() -> None:
        closed.append("yes")

    reg.on_close(close)
    await reg.aclose()
    assert closed == ["yes"]


async def test_plain_tool_error_has_code_and_detail() -> None:
    async def h(args: dict) -> dict:
        raise ToolError("not_found", "no such thing")

    reg = ToolRegistry([Tool("t", "", {"type": "object"}, h)])
    assert json.loads(await reg.call("t", "")) == {
        "ok": False,
        "error": "not_found",
        "detail": "no such thing",
    }
