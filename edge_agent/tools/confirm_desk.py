"""One ``confirm_action`` tool for every tool source that asks for spoken confirmation.

Built-in home tools, Home Assistant's MCP tools, MCP servers' tools and ``[[tools.http]]``
tools all hold sensitive actions behind the same `Confirmations` (tools/confirm.py: one-time
ids, the user's own yes in the first user turn after the request, a time limit). `ConfirmDesk` is the thin routing on top:
a source registers a handler per action name, `ask` stores the action and raises the
``confirmation_required`` failure, and the one ``confirm_action`` tool redeems the id and runs
the stored action (the model cannot change what it confirms) through its source's handler.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from edge_agent.tools.confirm import Confirmations
from edge_agent.tools.registry import Tool, ToolFailure

__all__ = ["CONFIRM_TOOL", "ConfirmDesk"]

CONFIRM_TOOL = "confirm_action"

ConfirmedHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ConfirmDesk:
    """Routes redeemed confirmations to the source that asked for them."""

    def __init__(
        self,
        confirmations: Confirmations,
        *,
        clock: Callable[[], float] = time.monotonic,
        answer_wait_s: float = 2.0,
    ) -> None:
        self.confirmations = confirmations
        self.answer_wait_s = answer_wait_s
        self._clock = clock
        self._handlers: dict[str, ConfirmedHandler] = {}
        self._answered = asyncio.Event()  # set when a user turn's transcript arrives

    def user_transcript(self, text: str) -> None:
        """The transcript of the user's answer turn (the daemon's, never the model's)."""
        self.confirmations.user_transcript(text)
        self._answered.set()

    def wants_user_transcript(self) -> bool:
        return self.confirmations.wants_user_transcript(self._clock())

    def register(self, action: str, handler: ConfirmedHandler) -> None:
        """`handler(arguments)` runs `action` once confirmed (no further confirmation)."""
        self._handlers[action] = handler

    @property
    def needed(self) -> bool:
        """Whether any source registered an action that may ask (else no confirm_action)."""
        return bool(self._handlers)

    def unregister(self, action: str) -> None:
        self._handlers.pop(action, None)

    def ask(self, device: str, action: str, arguments: dict[str, Any], say: str) -> NoReturn:
        """Store the action and fail the call with ``confirmation_required``."""
        ident = self.confirmations.request(device, action, arguments, self._clock())
        raise ToolFailure(
            "confirmation_required",
            f"ask the user; after a spoken yes call {CONFIRM_TOOL} within "
            f"{self.confirmations.ttl_s:g} s",
            device=device,
            confirmation_id=ident,
            say=say,
        )

    async def confirm_action(self, args: dict[str, Any]) -> dict[str, Any]:
        ident = args["confirmation_id"]
        if self.confirmations.status(ident, self._clock()) == "awaiting_answer":
            # the user spoke; the transcript of that turn may still be on its way
            self._answered.clear()
            try:
                async with asyncio.timeout(self.answer_wait_s):
                    await self._answered.wait()
            except TimeoutError:
                pass
            if self.confirmations.status(ident, self._clock()) == "awaiting_answer":
                self.confirmations.cancel(ident)  # silence, or no transcript: not a yes
        pending = self.confirmations.redeem(ident, self._clock())
        handler = self._handlers.get(pending.action)
        if handler is None:  # its source went away (an MCP tool list changed)
            raise ToolFailure("not_available", "that action is no longer offered")
        return await handler(dict(pending.arguments))

    def tool(self, timeout_s: float) -> Tool:
        return Tool(
            CONFIRM_TOOL,
            "Carry out an action that returned confirmation_required, after the user said yes "
            "in a new spoken reply. Pass the confirmation_id you were given.",
            {
                "type": "object",
                "properties": {
                    "confirmation_id": {"type": "string", "pattern": "^c-[0-9a-f]{8}$"},
                },
                "required": ["confirmation_id"],
                "additionalProperties": False,
            },
            self.confirm_action,
            timeout_s,
        )
