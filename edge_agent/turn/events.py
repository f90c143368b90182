"""The turn core's inputs that are not state-machine events: facts from the shells, frozen.

The state machine's own events (wake word, buttons, mute, failures, timers) live in
`edge_agent.states`; the core accepts both. These come from the speech backend (translated from
its wire protocol by the backend, so the core never sees a Realtime event name), the speaker's
played counter, the tool runner and the shell's timer.

Must not: carry sockets, tasks or callbacks; every field is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.states import Event

__all__ = [
    "Announce",
    "BudgetChanged",
    "EchoVad",
    "Heard",
    "PlayedOut",
    "ReplyAudio",
    "ResponseFinished",
    "ResponseRejected",
    "ResponseStarted",
    "RingSpeechHeard",
    "SessionFatal",
    "SessionLost",
    "SessionReady",
    "Tick",
    "ToolCallRequested",
    "ToolResult",
    "UserSpeechStarted",
    "UserSpeechStopped",
    "UserTranscript",
]


# -- from the speech backend -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SessionReady(Event):
    """The session is set up and hears what is streamed (audio buffered meanwhile is sent)."""

    session_id: str = ""


@dataclass(frozen=True, slots=True)
class SessionLost(Event):
    """The session ended or could not be opened; `will_retry`: the backend keeps connecting."""

    reason: str = ""
    will_retry: bool = False


@dataclass(frozen=True, slots=True)
class SessionFatal(Event):
    """The service refused us for good (bad key, unknown model, quota): `message` says why."""

    message: str = ""


@dataclass(frozen=True, slots=True)
class UserSpeechStarted(Event):
    """The service's VAD heard the user start speaking."""


@dataclass(frozen=True, slots=True)
class UserSpeechStopped(Event):
    """The service's VAD heard the user stop: the user's input is complete."""


@dataclass(frozen=True, slots=True)
class UserTranscript(Event):
    """The transcript of the user's last input (only when transcription is on)."""

    text: str = ""


@dataclass(frozen=True, slots=True)
class ResponseStarted(Event):
    """The service began a response (ours or one its VAD created)."""

    response_id: str = ""


@dataclass(frozen=True, slots=True)
class ResponseRejected(Event):
    """Our request for a response was refused because another one is active."""


@dataclass(frozen=True, slots=True)
class ReplyAudio(Event):
    """A chunk of reply audio (24 kHz int16 mono, an even number of bytes) for `item_id`."""

    response_id: str = ""
    item_id: str = ""
    pcm: bytes = b""


@dataclass(frozen=True, slots=True)
class ToolCallRequested(Event):
    """The model asked for a function call (arguments as the model sent them)."""

    response_id: str = ""
    call_id: str = ""
    name: str = ""
    arguments_json: str = ""


@dataclass(frozen=True, slots=True)
class ResponseFinished(Event):
    """A response ended.

    `status`: completed | cancelled | incomplete | failed; `reason`: why it was cancelled or
    incomplete (turn_detected, client_cancelled, max_output_tokens, content_filter);
    `error_type`/`error_code`/`error_message`: what failed; `usage`: the backend's usage object,
    passed through untouched to the cost ledger.
    """

    response_id: str = ""
    status: str = "completed"
    reason: str = ""
    error_type: str = ""
    error_code: str = ""
    error_message: str = ""
    usage: object = None


# -- from the speaker, the mic, the tool runner and the shell's timer --------------------------
@dataclass(frozen=True, slots=True)
class EchoVad(Event):
    """The local VAD on the echo-cancelled mic changed its mind (sent only with echo
    cancellation on): `speaking` now; `converged`: the canceller has measured the echo path, so
    what the VAD hears is not the reply's own echo."""

    speaking: bool = False
    converged: bool = False


@dataclass(frozen=True, slots=True)
class Heard(Event):
    """The speaker's counter: samples of each reply item that have left the speaker so far."""

    items: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class PlayedOut(Event):
    """Everything queued before `AwaitPlayout(token)` has been played."""

    token: int = 0


@dataclass(frozen=True, slots=True)
class ToolResult(Event):
    """A tool call finished; `output_json` is its function_call_output text.

    `wants_transcript`: the tool asked the user a question only the user's own words may answer
    (a confirmation): transcribe the next user turn and hand its text to the tools.
    """

    call_id: str = ""
    name: str = ""
    output_json: str = ""
    ok: bool = True
    duration_ms: int = 0
    wants_transcript: bool = False


@dataclass(frozen=True, slots=True)
class Announce(Event):
    """Speak `text` without a user turn (an automation's notice, a timer's label).

    Queued behind a turn in progress; the model is told to say exactly the text (an earcon
    alone when offline). `start_conversation`: listen afterwards as after a reply; otherwise
    the mic is not opened. `source` names who asked (for the journal).
    """

    text: str = ""
    source: str = ""
    start_conversation: bool = False


@dataclass(frozen=True, slots=True)
class RingSpeechHeard(Event):
    """The local speech VAD heard someone while it rang (`edge_agent.assistant.ring_stop`).

    Stops the ringing unless an announcement is playing (its own voice must not stop it);
    never opens a turn: only the wake word or the talk button does."""


@dataclass(frozen=True, slots=True)
class BudgetChanged(Event):
    """The cost governor's verdict for the next session (`edge_agent.usage.budget`).

    `action`: ok | warn | use_model (open sessions with `model`) | refuse (open none);
    `reached`: a limit is reached (the LED shows the budget pattern).
    """

    action: str = "ok"
    model: str = ""
    reason: str = ""
    reached: bool = False


@dataclass(frozen=True, slots=True)
class Tick(Event):
    """The shell's timer: the core's `next_deadline_ms()` has come."""
