"""The model's clock, kept right per turn: "Local time: …" as a system item when the user speaks.

Why an item and not the `get_time` tool (bench/assistant_context.py, tokens ≈ chars/4): the
item is ~11 input tokens that later responses re-read (mostly from the prompt cache); the tool
is ~62 tokens of spec on every response, and each use adds a call, its output and one more
response over the whole conversation. For a 5-turn session with one time question that is 395
tokens against 3144, and the item answers without a round trip. A Realtime session lives up to
an hour, so a time in the instructions alone would be 50 minutes wrong by its end.

When: on `UserTurnStarted` (the service heard the user begin to speak, so the session is
ready and the user's item is not committed yet: the note lands just before it). Only when its
text changed since the last note of this session (the text has minute resolution), so a turn
that restarts its speech, or two turns in one minute, add one item, not several. A new session
(`Connect`) starts over: its history is empty.

Must not: read the wall clock itself (`text` does: `Assistant.turn_context`) or decide turns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge_agent.app import Handlers
from edge_agent.turn.actions import Connect, UserTurnStarted

__all__ = ["TurnClock"]


class TurnClock:
    """An App component: the local time as a system note at the start of each user turn."""

    name = "turn-clock"

    def __init__(self, text: Callable[[], str], send_note: Callable[[str], None]) -> None:
        self._text = text
        self._send = send_note
        self.last = ""
        self.sent = 0

    async def start(self, post: Callable[[Any], None]) -> None:
        pass

    def handlers(self) -> Handlers:
        return {UserTurnStarted: self._user_turn, Connect: self._new_session}

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        pass

    def _user_turn(self, action: UserTurnStarted) -> None:
        text = self._text()
        if text and text != self.last:
            self.last = text
            self.sent += 1
            self._send(text)

    def _new_session(self, action: Connect) -> None:
        self.last = ""
