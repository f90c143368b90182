"""The tool runner: RunTool actions become registry calls in tasks; results come back as events.

Owns the tool registry (and the HTTP client its tools share), the running calls (cancelled
together on `CancelTools`), and the registry's hooks the turn core drives: a new user turn
(`UserTurnStarted`) and the user's own words after a confirmation request (`UserSaid`). Each
finished call is posted as `ToolResult`. Decides nothing: the budget, the one reply after all
outputs and what an interruption abandons are the turn core's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from edge_agent.app import Handlers
from edge_agent.states import Event
from edge_agent.tools.registry import ToolRegistry
from edge_agent.turn.actions import CancelTools, RunTool, UserSaid, UserTurnStarted
from edge_agent.turn.events import ToolResult

__all__ = ["ToolRunner"]


class ToolRunner:
    """The registry as an App component."""

    name = "tools"

    def __init__(self, registry: ToolRegistry, http: httpx.AsyncClient | None = None) -> None:
        self.registry = registry
        self.http = http
        self._post: Callable[[Event], None] = lambda e: None
        self._calls: set[asyncio.Task[None]] = set()

    async def start(self, post: Callable[[Event], None]) -> None:
        self._post = post
        await self.registry.start()  # outside tool sources (Home Assistant, MCP servers) connect

    def handlers(self) -> Handlers:
        return {
            RunTool: self._run,
            CancelTools: lambda a: self._cancel_all(),
            UserTurnStarted: lambda a: self.registry.new_user_turn(),
            UserSaid: lambda a: self.registry.user_transcript(a.text),
        }

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._cancel_all()
        try:
            await self.registry.aclose()
        finally:
            if self.http is not None:
                await self.http.aclose()

    def _run(self, action: RunTool) -> None:
        task = asyncio.create_task(self._call(action), name=f"tool-{action.name[:40]}")
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _call(self, action: RunTool) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        output = await self.registry.call(
            action.name, action.arguments_json, turn_id=action.turn_id or None
        )
        self._post(
            ToolResult(
                action.call_id,
                action.name,
                output,
                _is_ok(output),
                round((loop.time() - started) * 1000),
                wants_transcript=self.registry.wants_user_transcript(),
            )
        )

    def _cancel_all(self) -> None:
        for task in list(self._calls):
            task.cancel()
        self._calls.clear()


def _is_ok(output: str) -> bool:
    try:
        result = json.loads(output)
    except ValueError:
        return False
    return isinstance(result, dict) and result.get("ok", "error" not in result) is not False
