"""The daemon's state machine: pure, no I/O, no clock.

Everything that changes the daemon's state lives in this file. ``step(state, event, policy)``
returns ``(new_state, actions)``; the shell (`app.py`) carries the actions out. An event the
table lacks for the current state raises `InvalidTransition` and changes nothing; `StateMachine`
logs it at WARNING and ignores it, so a stray event (a late timer, a duplicate button press)
never reaches the event loop as an exception.

States (their values are the journald ``STATE`` field and the sd_notify ``STATUS``)::

    idle ──wake/talk──▶ listening ──speech_stopped──▶ thinking ──reply_started──▶ speaking
      ▲                   │  ▲ ▲                         │                          │
      │              timeout│  │ └────────barge_in─────────┴──────────────────────────┤
      │                   ▼  │ follow-up window (follow_up_s > 0)                   │
      └──────────────────────┴────────────────reply_done─────────────────────────────┘
    any ──mute_toggle──▶ muted ──mute_toggle──▶ idle
    any ──failure──▶ error ──recovered──▶ idle         (error ──wake/talk──▶ listening: retry)

There is one timer: `StartTimer` replaces it, leaving a state cancels it (`CancelTimer`), and
its expiry comes back as `Timeout`. listening waits `no_speech_timeout_s` (or `follow_up_s`);
thinking and speaking are capped by `max_turn_s`, so a lost reply cannot hold the device.

Streaming is a level, not a toggle: `StartStreaming`/`StopStreaming` when already on/off are
no-ops for the shell. listening always streams; thinking and speaking stream only in full
duplex; idle, muted and error never do (no mic audio leaves the device outside a turn).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "Action",
    "AnnouncementDone",
    "AnnouncementStarted",
    "BargeIn",
    "BeginTurn",
    "BudgetRefused",
    "Cancel",
    "CancelResponse",
    "CancelTimer",
    "CloseMic",
    "EndTurn",
    "Event",
    "Failure",
    "InvalidTransition",
    "MuteToggle",
    "OpenMic",
    "PlayEarcon",
    "Policy",
    "Recovered",
    "ReplyDone",
    "ReplyFailed",
    "ReplyStarted",
    "SpeechStarted",
    "SpeechStopped",
    "StartStreaming",
    "StartTimer",
    "State",
    "StateMachine",
    "StopPlayback",
    "StopStreaming",
    "TalkPressed",
    "Timeout",
    "TruncateReply",
    "WakeDetected",
    "step",
]

log = logging.getLogger(__name__)


class State(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"
    ERROR = "error"


# ---------------------------------------------------------------------------------------------
# Events: facts the shell reports.


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of the inputs."""


@dataclass(frozen=True, slots=True)
class WakeDetected(Event):
    """The wake word was heard.

    `sample`: the capture sample index where it fired; `stream_from`: where the user's request
    begins (the wake word's estimated end), the first sample to stream; None: from `sample`.
    """

    model: str = ""
    score: float = 0.0
    sample: int = 0
    stream_from: int | None = None


@dataclass(frozen=True, slots=True)
class TalkPressed(Event):
    """The talk button was pressed (push-to-talk; a barge-in during a reply)."""


@dataclass(frozen=True, slots=True)
class BargeIn(Event):
    """A local interruption other than wake/talk (reserved for future triggers)."""


@dataclass(frozen=True, slots=True)
class SpeechStarted(Event):
    """The server's VAD heard the user start speaking."""


@dataclass(frozen=True, slots=True)
class SpeechStopped(Event):
    """The server's VAD heard the user stop speaking: the turn's input is complete."""


@dataclass(frozen=True, slots=True)
class ReplyStarted(Event):
    """The first sample of reply audio reached the speaker."""


@dataclass(frozen=True, slots=True)
class ReplyDone(Event):
    """The turn's replies are finished and played out; no tool call or response is pending."""


@dataclass(frozen=True, slots=True)
class ReplyFailed(Event):
    """The service could not answer (a ``failed`` response): `code` is its error code."""

    code: str = "error"


@dataclass(frozen=True, slots=True)
class AnnouncementStarted(Event):
    """Something is to be said without a user turn (a notice, a timer's label)."""


@dataclass(frozen=True, slots=True)
class AnnouncementDone(Event):
    """The announcement was said and played out; it opens no mic (no follow-up window)."""


@dataclass(frozen=True, slots=True)
class BudgetRefused(Event):
    """The cost budget is used up and set to refuse: this turn opens no session."""


@dataclass(frozen=True, slots=True)
class MuteToggle(Event):
    """The mute button was pressed."""


@dataclass(frozen=True, slots=True)
class Cancel(Event):
    """The user cancelled the turn (long press)."""


@dataclass(frozen=True, slots=True)
class Failure(Event):
    """Something broke: `reason` is a short code (network, mic_lost, speaker_lost, auth…)."""

    reason: str = "error"


@dataclass(frozen=True, slots=True)
class Recovered(Event):
    """What broke works again."""


@dataclass(frozen=True, slots=True)
class Timeout(Event):
    """The state's timer expired."""


# ---------------------------------------------------------------------------------------------
# Actions: commands for the shell.


@dataclass(frozen=True, slots=True)
class Action:
    """Base class of the outputs."""


@dataclass(frozen=True, slots=True)
class PlayEarcon(Action):
    name: Literal["wake", "done", "error", "muted", "unmuted"]


@dataclass(frozen=True, slots=True)
class BeginTurn(Action):
    trigger: Literal["wake", "talk", "follow_up", "barge_in", "announcement"]


@dataclass(frozen=True, slots=True)
class EndTurn(Action):
    outcome: Literal[
        "completed", "no_speech", "cancelled", "barge_in", "timeout", "error", "muted", "refused"
    ]


@dataclass(frozen=True, slots=True)
class StartStreaming(Action):
    """Stream mic audio to the model; from the wake pre-roll point if `from_preroll`."""

    from_preroll: bool


@dataclass(frozen=True, slots=True)
class StopStreaming(Action):
    pass


@dataclass(frozen=True, slots=True)
class StopPlayback(Action):
    """Silence the speaker now and drop queued reply audio."""


@dataclass(frozen=True, slots=True)
class TruncateReply(Action):
    """Tell the model how much of its reply was heard (conversation.item.truncate)."""


@dataclass(frozen=True, slots=True)
class CancelResponse(Action):
    """Cancel the active response, if any.

    `clear_input`: drop the mic audio the server holds too — a local barge-in (wake word,
    button, cancel); False when the server heard the user, whose speech is the next question.
    """

    clear_input: bool = True


@dataclass(frozen=True, slots=True)
class CloseMic(Action):
    pass


@dataclass(frozen=True, slots=True)
class OpenMic(Action):
    pass


@dataclass(frozen=True, slots=True)
class StartTimer(Action):
    """(Re)start the state's timer; `once_heard`: count only from when the session can hear."""

    seconds: float
    once_heard: bool = False


@dataclass(frozen=True, slots=True)
class CancelTimer(Action):
    pass


@dataclass(frozen=True, slots=True)
class Policy:
    """The configuration the transitions depend on."""

    follow_up_s: float = 5.0
    no_speech_timeout_s: float = 8.0
    max_turn_s: float = 60.0
    duplex: Literal["half", "full"] = "half"


class InvalidTransition(Exception):
    """The event has no transition from the current state; nothing changed."""

    def __init__(self, state: State, event: Event) -> None:
        self.state = state
        self.event = event
        super().__init__(f"no transition for {type(event).__name__} in state {state.value!r}")


# ---------------------------------------------------------------------------------------------
# The table. Each entry: (state, event type) -> (target state, actions builder).

Builder = Callable[[Policy, Event], list[Action]]
Target = State | Callable[[Policy], State]


def _listen(trigger: Literal["wake", "talk", "barge_in"], preroll: bool) -> Builder:
    def build(p: Policy, e: Event) -> list[Action]:
        return [
            PlayEarcon("wake"),
            BeginTurn(trigger),
            StartStreaming(from_preroll=preroll),
            StartTimer(p.no_speech_timeout_s, once_heard=True),
        ]

    return build


def _barge(trigger: Literal["wake", "talk"], preroll: bool) -> Builder:
    def build(p: Policy, e: Event) -> list[Action]:
        return [
            StopPlayback(),
            TruncateReply(),
            CancelResponse(),
            EndTurn("barge_in"),
            *_listen(trigger, preroll)(p, e),
        ]

    return build


def _after_reply(p: Policy) -> State:
    return State.LISTENING if p.follow_up_s > 0 else State.IDLE


def _reply_done(p: Policy, e: Event) -> list[Action]:
    if p.follow_up_s > 0:
        return [
            EndTurn("completed"),
            BeginTurn("follow_up"),
            StartStreaming(from_preroll=False),
            StartTimer(p.follow_up_s, once_heard=True),
        ]
    # Full duplex streams while speaking: going idle must stop it (never stream while idle).
    return [StopStreaming(), EndTurn("completed"), PlayEarcon("done")]


def _speech_stopped(p: Policy, e: Event) -> list[Action]:
    stop: list[Action] = [StopStreaming()] if p.duplex == "half" else []
    return [*stop, StartTimer(p.max_turn_s)]


def _reply_started(p: Policy, e: Event) -> list[Action]:
    """A reply plays: half duplex stops the mic stream; a stuck reply ends at the turn cap."""
    stop: list[Action] = [StopStreaming()] if p.duplex == "half" else []
    return [*stop, StartTimer(p.max_turn_s)]


def _resume(p: Policy, e: Event) -> list[Action]:
    """The user talks again before the reply: its answer is stale; listen and stream again."""
    return [
        CancelResponse(clear_input=False),
        StartStreaming(from_preroll=False),
        StartTimer(p.max_turn_s),
    ]


def _announce(p: Policy, e: Event) -> list[Action]:
    """A turn without the user: nothing is streamed, the turn cap still holds."""
    return [BeginTurn("announcement"), StartTimer(p.max_turn_s)]


def _cap(p: Policy, e: Event) -> list[Action]:
    """Once the user talks, the no-speech timer gives way to the turn cap."""
    return [StartTimer(p.max_turn_s)]


def _const(*actions: Action) -> Builder:
    return lambda p, e: list(actions)


def _end(outcome: Literal["no_speech", "cancelled", "timeout"], *extra: Action) -> Builder:
    return lambda p, e: [*extra, EndTurn(outcome), PlayEarcon("done")]


_FAIL: Final = _const(
    StopStreaming(), StopPlayback(), CancelResponse(), EndTurn("error"), PlayEarcon("error")
)
_REPLY_FAILED: Final = _const(
    StopStreaming(), StopPlayback(), CancelResponse(), EndTurn("error"), PlayEarcon("error")
)
_MUTE: Final = _const(
    StopStreaming(),
    StopPlayback(),
    CancelResponse(),
    EndTurn("muted"),
    CloseMic(),
    PlayEarcon("muted"),
)

TRANSITIONS: Final[dict[tuple[State, type[Event]], tuple[Target, Builder]]] = {
    (State.IDLE, WakeDetected): (State.LISTENING, _listen("wake", True)),
    (State.IDLE, TalkPressed): (State.LISTENING, _listen("talk", False)),
    (State.IDLE, MuteToggle): (State.MUTED, _const(CloseMic(), PlayEarcon("muted"))),
    (State.IDLE, Failure): (State.ERROR, _const(PlayEarcon("error"))),
    (State.IDLE, AnnouncementStarted): (State.THINKING, _announce),
    (State.LISTENING, SpeechStarted): (State.LISTENING, _cap),
    (State.LISTENING, SpeechStopped): (State.THINKING, _speech_stopped),
    (State.LISTENING, ReplyStarted): (State.SPEAKING, _reply_started),
    (State.LISTENING, Timeout): (State.IDLE, _end("no_speech", StopStreaming())),
    (State.LISTENING, Cancel): (State.IDLE, _end("cancelled", StopStreaming(), CancelResponse())),
    (State.LISTENING, WakeDetected): (
        State.LISTENING,
        lambda p, e: [StartTimer(p.no_speech_timeout_s, once_heard=True)],
    ),
    (State.LISTENING, TalkPressed): (
        State.LISTENING,
        lambda p, e: [StartTimer(p.no_speech_timeout_s, once_heard=True)],
    ),
    (State.LISTENING, MuteToggle): (State.MUTED, _MUTE),
    (State.LISTENING, Failure): (State.ERROR, _FAIL),
    (State.LISTENING, ReplyFailed): (State.IDLE, _REPLY_FAILED),
    (State.LISTENING, BudgetRefused): (
        State.IDLE,
        _const(StopStreaming(), EndTurn("refused"), PlayEarcon("budget")),
    ),
    (State.THINKING, ReplyStarted): (State.SPEAKING, _reply_started),
    (State.THINKING, ReplyDone): (_after_reply, _reply_done),
    (State.THINKING, SpeechStarted): (State.LISTENING, _resume),
    (State.THINKING, WakeDetected): (State.LISTENING, _barge("wake", True)),
    (State.THINKING, TalkPressed): (State.LISTENING, _barge("talk", False)),
    (State.THINKING, Timeout): (
        State.IDLE,
        _const(StopStreaming(), CancelResponse(), EndTurn("timeout"), PlayEarcon("error")),
    ),
    (State.THINKING, Cancel): (State.IDLE, _end("cancelled", StopStreaming(), CancelResponse())),
    (State.THINKING, MuteToggle): (State.MUTED, _MUTE),
    (State.THINKING, Failure): (State.ERROR, _FAIL),
    (State.THINKING, ReplyFailed): (State.IDLE, _REPLY_FAILED),
    (State.THINKING, AnnouncementDone): (State.IDLE, _const(StopStreaming(), EndTurn("completed"))),
    (State.SPEAKING, ReplyStarted): (State.SPEAKING, _const()),
    (State.SPEAKING, ReplyDone): (_after_reply, _reply_done),
    (State.SPEAKING, WakeDetected): (State.LISTENING, _barge("wake", True)),
    (State.SPEAKING, TalkPressed): (State.LISTENING, _barge("talk", False)),
    (State.SPEAKING, SpeechStarted): (
        State.LISTENING,
        lambda p, e: [
            StopPlayback(),
            TruncateReply(),
            CancelResponse(clear_input=False),
            EndTurn("barge_in"),
            BeginTurn("barge_in"),
            StartStreaming(from_preroll=False),
            StartTimer(p.max_turn_s),
        ],
    ),
    (State.SPEAKING, Cancel): (
        State.IDLE,
        _end("cancelled", StopStreaming(), StopPlayback(), TruncateReply(), CancelResponse()),
    ),
    (State.SPEAKING, Timeout): (
        State.IDLE,
        _end("timeout", StopStreaming(), StopPlayback(), TruncateReply(), CancelResponse()),
    ),
    (State.SPEAKING, MuteToggle): (State.MUTED, _MUTE),
    (State.SPEAKING, Failure): (State.ERROR, _FAIL),
    (State.SPEAKING, ReplyFailed): (State.IDLE, _REPLY_FAILED),
    (State.SPEAKING, AnnouncementDone): (State.IDLE, _const(StopStreaming(), EndTurn("completed"))),
    (State.MUTED, MuteToggle): (State.IDLE, _const(OpenMic(), PlayEarcon("unmuted"))),
    (State.ERROR, Recovered): (State.IDLE, _const()),
    (State.ERROR, WakeDetected): (State.LISTENING, _listen("wake", True)),
    (State.ERROR, TalkPressed): (State.LISTENING, _listen("talk", False)),
    (State.ERROR, MuteToggle): (State.MUTED, _const(CloseMic(), PlayEarcon("muted"))),
    (State.ERROR, Failure): (State.ERROR, _const()),
    (State.ERROR, AnnouncementStarted): (State.THINKING, _announce),
}
"""The whole state machine. `docs` and tests read this table; keep every rule here."""


def step(state: State, event: Event, policy: Policy) -> tuple[State, list[Action]]:
    """Apply one event.

    Raises:
        InvalidTransition: the table has no entry; nothing changed.
    """
    try:
        target, build = TRANSITIONS[(state, type(event))]
    except KeyError:
        raise InvalidTransition(state, event) from None
    new_state = target if isinstance(target, State) else target(policy)
    actions = build(policy, event)
    if new_state is not state and not any(isinstance(a, StartTimer) for a in actions):
        actions = [CancelTimer(), *actions]
    return new_state, actions


class StateMachine:
    """Holds the current state; ignores (and logs) invalid transitions."""

    def __init__(self, policy: Policy | None = None, state: State = State.IDLE) -> None:
        self.policy = policy or Policy()
        self.state = state

    def handle(self, event: Event) -> list[Action]:
        """Apply `event`; returns the actions, or [] when the event is invalid here."""
        try:
            new_state, actions = step(self.state, event, self.policy)
        except InvalidTransition as exc:
            log.warning("ignored event: %s", exc, extra={"STATE": self.state.value})
            return []
        self.state = new_state
        return actions
