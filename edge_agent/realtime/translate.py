"""Realtime server events → the turn core's events. Pure; the only place the two vocabularies meet.

The turn core (`edge_agent.turn`) never sees a Realtime event name: the client hands each parsed
server event through `to_turn_event` and queues what comes out. Events the turn does not need
(item bookkeeping, transcript deltas, rate limits) translate to None. Fatal errors and session
errors are the client's business (`RealtimeClient`), not translated here.
"""

from __future__ import annotations

from edge_agent.realtime import protocol as p
from edge_agent.states import Event
from edge_agent.turn.events import (
    ReplyAudio,
    ResponseFinished,
    ResponseRejected,
    ResponseStarted,
    ToolCallRequested,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)

__all__ = ["to_turn_event"]


def to_turn_event(ev: p.ServerEvent) -> Event | None:
    """The turn event for `ev`, or None when the turn has no use for it."""
    match ev:
        case p.SpeechStarted():
            return UserSpeechStarted()
        case p.SpeechStopped():
            return UserSpeechStopped()
        case p.UserTranscript(text=text):
            return UserTranscript(text)
        case p.ResponseCreated(response_id=rid):
            return ResponseStarted(rid)
        case p.AudioDelta(response_id=rid, item_id=iid, pcm=pcm):
            return ReplyAudio(rid, iid, pcm[: len(pcm) - len(pcm) % 2])  # whole samples only
        case p.FunctionCallDone(response_id=rid, call_id=cid, name=name, arguments_json=args):
            return ToolCallRequested(rid, cid, name, args)
        case p.ResponseDone():
            return ResponseFinished(
                ev.response_id,
                ev.status,
                ev.reason,
                ev.error_type,
                ev.reason if ev.status == "failed" else "",
                ev.error_message,
                ev.usage,
            )
        case p.ServerError(code="conversation_already_has_active_response"):
            return ResponseRejected()
    return None
