"""The turn core's outputs: commands with every parameter decided, frozen.

The state machine's own actions (`edge_agent.states`: PlayEarcon, StopPlayback, OpenMic,
CloseMic, BeginTurn, EndTurn) pass through the core unchanged; the ones that need turn state
(streaming from where, truncating which item at how many ms, cancelling which response) are
replaced by the concrete ones below. Each action type has exactly one kind of handler in the
shells; the order of the list is the order to carry them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from edge_agent.states import Action, State

__all__ = [
    "AddNote",
    "AwaitPlayout",
    "CancelReply",
    "CancelTools",
    "ClearInput",
    "CloseSession",
    "Connect",
    "FailFatal",
    "Log",
    "PlayReply",
    "RecordUsage",
    "RequestReply",
    "Ring",
    "RunTool",
    "SendToolOutput",
    "SetTranscription",
    "ShowBudget",
    "StateChanged",
    "StopStream",
    "StreamFrom",
    "Truncate",
    "UserSaid",
    "UserTurnStarted",
]


@dataclass(frozen=True, slots=True)
class StateChanged(Action):
    """The daemon's state changed (LEDs, sd_notify STATUS, the journal)."""

    old: State
    new: State
    turn_id: str = ""


@dataclass(frozen=True, slots=True)
class StreamFrom(Action):
    """Stream mic audio to the session from capture sample `sample` (None: from now on)."""

    sample: int | None = None


@dataclass(frozen=True, slots=True)
class StopStream(Action):
    """Stop streaming mic audio; `clear_input`: also drop what the session holds uncommitted."""

    clear_input: bool = False


@dataclass(frozen=True, slots=True)
class ClearInput(Action):
    """Drop the uncommitted mic audio the session holds (and any queued to send)."""


@dataclass(frozen=True, slots=True)
class Connect(Action):
    """Open the session now (audio streamed meanwhile is buffered); `model`: "" = configured."""

    model: str = ""


@dataclass(frozen=True, slots=True)
class CloseSession(Action):
    """Close the session: `reason` idle | rotate | error | expired."""

    reason: Literal["idle", "rotate", "error", "expired"] = "idle"


@dataclass(frozen=True, slots=True)
class PlayReply(Action):
    """Queue reply audio of `item_id` on the speaker."""

    item_id: str
    pcm: bytes


@dataclass(frozen=True, slots=True)
class AwaitPlayout(Action):
    """Report `PlayedOut(token)` once everything queued so far has been played."""

    token: int


@dataclass(frozen=True, slots=True)
class Truncate(Action):
    """Tell the model only `audio_end_ms` of `item_id` was heard."""

    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class CancelReply(Action):
    """Cancel response `response_id`."""

    response_id: str


@dataclass(frozen=True, slots=True)
class RequestReply(Action):
    """Ask for a response (no other response is active or requested).

    `say`: an announcement — the model is to say exactly this text and call no tool.
    """

    say: str = ""


@dataclass(frozen=True, slots=True)
class RunTool(Action):
    """Run the tool; its outcome comes back as `ToolResult(call_id, ...)`."""

    call_id: str
    name: str
    arguments_json: str
    turn_id: str = ""


@dataclass(frozen=True, slots=True)
class CancelTools(Action):
    """Abandon every running tool call (its result is no longer wanted)."""


@dataclass(frozen=True, slots=True)
class SendToolOutput(Action):
    """The function_call_output for `call_id`."""

    call_id: str
    output_json: str


@dataclass(frozen=True, slots=True)
class AddNote(Action):
    """Add a system note to the conversation without asking for a response."""

    text: str


@dataclass(frozen=True, slots=True)
class SetTranscription(Action):
    """Turn transcription of the user's input on or off for the session."""

    enabled: bool


@dataclass(frozen=True, slots=True)
class UserTurnStarted(Action):
    """The user began a new spoken turn (the tools' confirmation rule counts these)."""


@dataclass(frozen=True, slots=True)
class UserSaid(Action):
    """The transcript of the first user turn after a tool asked for the user's own words."""

    text: str


@dataclass(frozen=True, slots=True)
class RecordUsage(Action):
    """A response was billed: hand its usage to the cost ledger."""

    turn_id: str
    usage: object
    model: str = ""  # the session's model ("" = the configured one)
    response_id: str = ""


@dataclass(frozen=True, slots=True)
class Ring(Action):
    """Start (or stop) ringing: the ringing earcon on a loop and the ringing LED pattern."""

    on: bool
    timer_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ShowBudget(Action):
    """Show (or stop showing) that the budget is reached."""

    reached: bool


@dataclass(frozen=True, slots=True)
class FailFatal(Action):
    """Stop the daemon: retrying cannot help (exit 78)."""

    message: str


@dataclass(frozen=True, slots=True)
class Log(Action):
    """One journal record decided by the core (level: debug | info | warning | error)."""

    level: Literal["debug", "info", "warning", "error"]
    message: str
    fields: Mapping[str, object] = field(default_factory=dict)
