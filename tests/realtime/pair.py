"""The turn core against the real client and emulator, in memory: h11's `ConnectionPair` idea.

`CorePair` feeds every event the client queues into a `TurnCore` and carries out the core's
session actions on the client (the same verbs `pipeline.link.SpeechLink` calls); tool calls are
answered by a test-given function; the test plays the speaker (`heard`) and the mic (`speak`).
No sockets are faked: the client talks to the emulator over a real WebSocket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from edge_agent.realtime.client import RealtimeClient
from edge_agent.states import Action, Event, TalkPressed
from edge_agent.turn.actions import (
    AddNote,
    AwaitPlayout,
    CancelReply,
    ClearInput,
    CloseSession,
    Connect,
    RequestReply,
    RunTool,
    SendToolOutput,
    StopStream,
    StreamFrom,
    Truncate,
)
from edge_agent.turn.core import TurnCore, TurnPolicy
from edge_agent.turn.events import PlayedOut, Tick, ToolResult
from tests.realtime.conftest import TIMEOUT_S

Tool = Callable[[RunTool], Awaitable[str]]


class CorePair:
    def __init__(self, client: RealtimeClient, policy: TurnPolicy, tool: Tool | None = None):
        self.client, self.core, self.tool = client, TurnCore(policy), tool
        self.actions: list[Action] = []
        self.events: list[Event] = []
        self.streaming = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def feed(self, event: Event) -> list[Action]:
        now_ms = int(asyncio.get_running_loop().time() * 1000)
        out = self.core.handle(event, now_ms)
        self.actions += out
        for action in out:
            self._carry_out(action)
        if self._timer is not None:
            self._timer.cancel()
        due_ms = self.core.next_deadline_ms()
        if due_ms is not None:  # the App's timer: a Tick at the core's next deadline
            self._timer = asyncio.get_running_loop().call_at(
                due_ms / 1000 + 0.001, self.feed, Tick()
            )
        return out

    def _carry_out(self, a: Action) -> None:
        c = self.client
        match a:
            case Connect():
                c.connect_soon()
            case CloseSession():
                c.close_session()
            case Truncate():
                c.truncate(a.item_id, a.audio_end_ms)
            case CancelReply():
                c.cancel_response(a.response_id)
            case RequestReply():
                c.request_response()
            case SendToolOutput():
                c.send_function_output(a.call_id, a.output_json)
            case AddNote():
                c.add_note(a.text)
            case ClearInput():
                c.clear_input()
            case StreamFrom():
                self.streaming = True
            case StopStream():
                self.streaming = False
                if a.clear_input:
                    c.clear_input()
            case AwaitPlayout():
                self._spawn(self._later(PlayedOut(a.token)))
            case RunTool() if self.tool is not None:
                self._spawn(self._run(a))

    async def _later(self, event: Event) -> None:
        await asyncio.sleep(0)
        self.feed(event)

    async def _run(self, a: RunTool) -> None:
        assert self.tool is not None
        output = await self.tool(a)
        self.feed(ToolResult(a.call_id, a.name, output))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start_turn(self) -> None:
        """A talk-button turn, waiting for the session to be ready."""
        self.feed(TalkPressed())
        await self.client.ensure_connected()

    async def until(self, kind: type, predicate: Callable[[Event], bool] = lambda e: True) -> Event:
        """Pump client events into the core until one of `kind` (matching) went through."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                ev = await self.client.events.get()
                self.events.append(ev)
                self.feed(ev)
                if isinstance(ev, kind) and predicate(ev):
                    return ev

    def sent(self, kind: type) -> list[Action]:
        return [a for a in self.actions if isinstance(a, kind)]
