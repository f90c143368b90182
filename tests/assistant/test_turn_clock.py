"""The local time as a note per user turn: when it is sent, when not (literal actions in)."""

from __future__ import annotations

from edge_agent.assistant.turn_clock import TurnClock
from edge_agent.turn.actions import Connect, UserTurnStarted


def test_one_note_per_minute_of_turns_and_again_in_a_new_session() -> None:
    now = ["Local time: Wednesday 2 December 2026, 19:20."]
    sent: list[str] = []
    clock = TurnClock(lambda: now[0], sent.append)
    on = clock.handlers()
    on[Connect](Connect())
    on[UserTurnStarted](UserTurnStarted())
    on[UserTurnStarted](UserTurnStarted())  # the same turn's speech restarted: no second note
    assert sent == ["Local time: Wednesday 2 December 2026, 19:20."]
    now[0] = "Local time: Wednesday 2 December 2026, 20:10."  # 50 minutes into the session
    on[UserTurnStarted](UserTurnStarted())
    assert sent[-1] == "Local time: Wednesday 2 December 2026, 20:10." and len(sent) == 2
    on[Connect](Connect("gpt-realtime-2.1-mini"))  # a new session has no history: say it again
    on[UserTurnStarted](UserTurnStarted())
    assert len(sent) == 3 and clock.sent == 3


def test_no_text_no_note() -> None:
    sent: list[str] = []
    TurnClock(lambda: "", sent.append).handlers()[UserTurnStarted](UserTurnStarted())
    assert sent == []
