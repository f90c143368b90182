"""The speech link: the Realtime client as a component — its events in, the core's verbs out.

Owns the `RealtimeClient` and one pump task that hands each of its (already translated) events
to the App's `dispatch` in order: dispatching synchronously is the backpressure that keeps the
client's bounded queue meaningful. Carries out the session actions (Connect, CloseSession,
Truncate, CancelReply, RequestReply, SendToolOutput, AddNote, ClearInput, SetTranscription) by
calling the client's verbs. Decides nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from edge_agent.app import Handlers
from edge_agent.realtime.client import RealtimeClient
from edge_agent.states import Event
from edge_agent.turn.actions import (
    AddNote,
    CancelReply,
    ClearInput,
    CloseSession,
    Connect,
    RequestReply,
    SendToolOutput,
    SetTranscription,
    Truncate,
)

__all__ = ["SpeechLink"]


class SpeechLink:
    """The Realtime session as an App component."""

    name = "realtime"

    def __init__(self, client: RealtimeClient) -> None:
        self.client = client
        self._dispatch: Callable[[Event], None] | None = None
        self._pump: asyncio.Task[None] | None = None

    def bind(self, dispatch: Callable[[Event], None]) -> None:
        """Where the pump delivers events (the App's `dispatch`); `post` until bound."""
        self._dispatch = dispatch

    async def start(self, post: Callable[[Event], None]) -> None:
        self._pump = asyncio.create_task(self._forward(post), name="realtime-events")

    def handlers(self) -> Handlers:
        c = self.client
        return {
            Connect: lambda a: c.connect_soon(a.model or None),
            CloseSession: lambda a: c.close_session(),
            Truncate: lambda a: c.truncate(a.item_id, a.audio_end_ms),
            CancelReply: lambda a: c.cancel_response(a.response_id),
            RequestReply: lambda a: c.request_response(a.say),
            SendToolOutput: lambda a: c.send_function_output(a.call_id, a.output_json),
            AddNote: lambda a: c.add_note(a.text),
            ClearInput: lambda a: c.clear_input(),
            SetTranscription: lambda a: c.set_transcription(a.enabled),
        }

    def is_healthy(self) -> bool:
        return self._pump is not None and not self._pump.done()

    async def aclose(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self.client.aclose()

    async def _forward(self, post: Callable[[Event], None]) -> None:
        dispatch = self._dispatch or post
        async for event in self.client:
            dispatch(event)
