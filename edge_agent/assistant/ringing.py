"""When a due timer rings, what is said, and what stops it: the rules as a pure state machine.

The turn core (the lead's `edge_agent/turn/`) feeds `RingPolicy` frozen events and carries out
the frozen actions it returns; this module does no I/O and reads no clock (events carry
``now_s``, monotonic seconds). The rules:

- A `TimerFired` that is ``missed`` only goes to the journal: no ring.
- A timer that fires while a conversation is busy (the user speaking, a reply playing) waits:
  it starts ringing when `ConversationIdle` arrives.
- Ringing = `StartRinging`: the shell loops the ``ringing`` earcon (one cycle each time the
  speaker is idle, so a spoken announcement and the ring alternate), shows
  ``status.led.ringing`` and arms ``give_up_at_s`` (``timers.ring_timeout_s``).
  With ``timers.speak_label`` and a session that can answer (``online``), also
  `Announce(text)`: the model says it as its own turn; offline the earcon alone rings.
- More timers firing while it rings join the ring (one more announcement; the give-up time
  moves out).
- `StopHeard` (wake word, talk button, or speech heard by the local VAD) while ringing →
  `StopRinging(reason, consumed=True)`: the wake word / press that stopped it does not open a
  turn. `Tick` at or past ``give_up_at_s`` → `StopRinging("timeout", consumed=False)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from edge_agent.assistant.timers import TimerFired

__all__ = [
    "Announce",
    "ConversationBusy",
    "ConversationIdle",
    "RingPolicy",
    "StartRinging",
    "StopHeard",
    "StopRinging",
    "Tick",
    "announcement",
]

StopSource = Literal["wake_word", "talk_button", "speech"]
LED_KEY: Final = "ringing"
EARCON: Final = "ringing"


# -- events (in) -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConversationBusy:
    """A turn started (wake word, follow-up speech, a reply began playing)."""

    now_s: float


@dataclass(frozen=True, slots=True)
class ConversationIdle:
    """The last reply finished playing (or the turn ended without one)."""

    now_s: float


@dataclass(frozen=True, slots=True)
class StopHeard:
    """Something that stops ringing happened: the wake word, the talk button, local VAD speech."""

    source: StopSource
    now_s: float


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes (the shell sends one per ring cycle, ~1.4 s)."""

    now_s: float


# -- actions (out) -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartRinging:
    """Loop the ringing earcon, show the ringing LED pattern, give up at ``give_up_at_s``."""

    timer_ids: tuple[int, ...]
    give_up_at_s: float
    earcon: str = EARCON
    led: str = LED_KEY


@dataclass(frozen=True, slots=True)
class Announce:
    """Have the model say `text`: an out-of-band ``response.create`` with these instructions and
    ``tool_choice: "none"`` (the label came from a user turn; it must not be able to call tools).
    """

    text: str
    timer_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StopRinging:
    """Stop the loop and the LED pattern; `consumed`: the stop signal opens no turn."""

    reason: Literal["wake_word", "talk_button", "speech", "timeout"]
    timer_ids: tuple[int, ...]
    rang_s: float
    consumed: bool = True


RingAction = StartRinging | Announce | StopRinging


def announcement(fired: tuple[TimerFired, ...]) -> str:
    """What the model is asked to say: 'Say briefly that the pasta timer is done.'"""
    parts = []
    for f in fired:
        name = f"the {f.label} {f.kind}" if f.label else f"the {f.kind}"
        parts.append(name + (" is done" if f.kind == "timer" else " is ringing"))
    what = " and ".join(parts) if len(parts) <= 2 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Say in one short sentence, in the user's language, that {what}."


@dataclass(slots=True)
class RingPolicy:
    """The ringing rules; one per daemon. Call `handle(event, online=...)` for every event."""

    ring_timeout_s: float = 60.0
    speak_label: bool = True
    busy: bool = False
    waiting: list[TimerFired] = field(default_factory=list)
    ringing: list[TimerFired] = field(default_factory=list)
    started_at_s: float = 0.0
    give_up_at_s: float = 0.0

    @property
    def is_ringing(self) -> bool:
        return bool(self.ringing)

    def handle(
        self,
        event: TimerFired | ConversationBusy | ConversationIdle | StopHeard | Tick,
        *,
        now_s: float = 0.0,
        online: bool = True,
    ) -> list[RingAction]:
        """The actions for `event`. `now_s` is needed with `TimerFired` (it has a wall time)."""
        if isinstance(event, TimerFired):
            if event.missed:
                return []
            if self.busy and not self.ringing:
                self.waiting.append(event)
                return []
            return self._ring((event,), now_s, online)
        if isinstance(event, ConversationBusy):
            self.busy = True
            return []
        if isinstance(event, ConversationIdle):
            self.busy = False
            if self.waiting and not self.ringing:
                due, self.waiting = tuple(self.waiting), []
                return self._ring(due, event.now_s, online)
            return []
        if isinstance(event, StopHeard):
            return self._stop(event.source, event.now_s, consumed=True)
        if self.ringing and event.now_s >= self.give_up_at_s:
            return self._stop("timeout", event.now_s, consumed=False)
        return []

    def _ring(self, fired: tuple[TimerFired, ...], now_s: float, online: bool) -> list[RingAction]:
        if not self.ringing:
            self.started_at_s = now_s
        self.ringing.extend(fired)
        self.give_up_at_s = now_s + self.ring_timeout_s
        ids = tuple(f.timer_id for f in self.ringing)
        actions: list[RingAction] = [StartRinging(ids, self.give_up_at_s)]
        if self.speak_label and online:
            actions.append(Announce(announcement(fired), tuple(f.timer_id for f in fired)))
        return actions

    def _stop(self, reason: str, now_s: float, *, consumed: bool) -> list[RingAction]:
        if not self.ringing:
            return []
        ids = tuple(f.timer_id for f in self.ringing)
        self.ringing = []
        rang = max(0.0, now_s - self.started_at_s)
        return [StopRinging(reason, ids, round(rang, 3), consumed)]  # type: ignore[arg-type]
