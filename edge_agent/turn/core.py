"""The turn core: one pure owner of every turn rule. Events in, actions out, `now_ms` in.

`TurnCore.handle(event, now_ms)` takes a state-machine event (`edge_agent.states`: wake word,
buttons, mute, failures) or a turn event (`edge_agent.turn.events`: the speech backend, the
speaker's counter, the tool runner, the timer) and returns the actions for the shells, in the
order to carry them out. `next_deadline_ms()` says when to send `Tick()`. It owns:

- the state (through the table in `edge_agent.states`, the single source of transitions) and
  its timer; the no-speech timer counts only from when the session can hear (`once_heard`), so
  a slow connect does not eat the user's time to speak;
- where streaming starts (the wake word's end, `WakeDetected.stream_from`) and whether it runs:
  a level (listening always, thinking/speaking only in full duplex) held off while a tool call
  waits for its output;
- in full duplex, whether the service's speech during a reply is the user or the reply's own
  echo (`BargeGuard`, with the local VAD's `EchoVad` when echo cancellation is on), and not
  streaming a reply's echo before the canceller has the echo path;
- the replies (`Replies`: one active response, tool calls and their budget, audio received vs
  heard per item) and what an interruption does: cancel or not, clear the input or not,
  truncate at what was heard;
- when a reply is done (nothing pending and everything played out), a failed response (an
  error turn: WARNING with the error, the error earcon, no follow-up window), an incomplete one
  (what arrived plays; the log says why);
- the session policy: connect on a turn, close idle sessions and rotate old ones between turns;
- the turn records (`TurnLog`) and their summary line.

Must not: do I/O, read a clock, or know a wire protocol's event names.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from edge_agent.assistant import ringing as rp
from edge_agent.assistant.timers import TimerFired
from edge_agent.states import (
    Action,
    AnnouncementDone,
    AnnouncementStarted,
    BeginTurn,
    BudgetRefused,
    CancelResponse,
    CancelTimer,
    EndTurn,
    Event,
    Failure,
    InvalidTransition,
    PlayEarcon,
    Policy,
    ReplyDone,
    ReplyFailed,
    ReplyStarted,
    SpeechStarted,
    SpeechStopped,
    StartStreaming,
    StartTimer,
    State,
    StopPlayback,
    StopStreaming,
    TalkPressed,
    Timeout,
    TruncateReply,
    WakeDetected,
    step,
)
from edge_agent.turn.actions import (
    AwaitPlayout,
    ClearInput,
    CloseSession,
    Connect,
    FailFatal,
    Log,
    PlayReply,
    RecordUsage,
    Ring,
    SetTranscription,
    ShowBudget,
    StateChanged,
    StopStream,
    StreamFrom,
    UserSaid,
    UserTurnStarted,
)
from edge_agent.turn.events import (
    Announce,
    BudgetChanged,
    EchoVad,
    Heard,
    PlayedOut,
    ReplyAudio,
    ResponseFinished,
    ResponseRejected,
    ResponseStarted,
    RingSpeechHeard,
    SessionFatal,
    SessionLost,
    SessionReady,
    Tick,
    ToolCallRequested,
    ToolResult,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from edge_agent.turn.guard import BargeGuard
from edge_agent.turn.replies import DEFAULT_TOOL_BUDGET_MS, Replies
from edge_agent.turn.session import SessionClock, SessionPolicy
from edge_agent.turn.turnlog import ToolCall, TurnLog

__all__ = ["TurnCore", "TurnPolicy"]

_IN_TURN: Final = frozenset({State.LISTENING, State.THINKING, State.SPEAKING})
_REPLYING: Final = frozenset({State.THINKING, State.SPEAKING})
_TURN_OVER: Final = frozenset({State.IDLE, State.ERROR, State.MUTED})
_MAX_QUEUED_ANNOUNCEMENTS: Final = 8
_WAKE_AFTER_SPEECH_STOP_MS: Final = 2500  # a wake word ending this soon after speech stopped
# the ringing is the same utterance (the VAD needs 200 ms of speech, the detector the whole word)


@dataclass(frozen=True, slots=True)
class TurnPolicy:
    """Everything the turn rules depend on (from [conversation], [audio] and [realtime])."""

    follow_up_s: float = 5.0
    no_speech_timeout_s: float = 8.0
    max_turn_s: float = 60.0
    duplex: Literal["half", "full"] = "half"
    tool_budget_ms: int = DEFAULT_TOOL_BUDGET_MS
    idle_close_s: float = 300.0
    session_max_s: float = 3300.0
    barge_guard_ms: int = 0  # full duplex: speech heard this soon after a reply began is its echo
    local_vad: bool = False  # EchoVad events come (echo cancellation on): barge in only on its word
    connect_timeout_s: float = 10.0  # a no-speech timer waits at most this (+1 s) for the session

    @property
    def machine(self) -> Policy:
        return Policy(self.follow_up_s, self.no_speech_timeout_s, self.max_turn_s, self.duplex)


def _new_turn_id() -> str:
    return uuid.uuid4().hex[:8]


class TurnCore:
    """All turn rules; `handle(event, now_ms)` → actions."""

    def __init__(
        self,
        policy: TurnPolicy | None = None,
        *,
        turns: TurnLog | None = None,
        turn_ids: Callable[[], str] = _new_turn_id,
        cost_usd: Callable[[str, object], float | None] | None = None,
        ring: rp.RingPolicy | None = None,
    ) -> None:
        """`cost_usd(model, usage)`: what one response cost ("" = the configured model); None
        when it cannot be priced. Without it turn summaries carry no COST_USD. `ring`: the
        timers' ringing rules (`edge_agent.assistant.ringing`); fed `TimerFired` events."""
        self.policy = policy or TurnPolicy()
        self.turns = turns if turns is not None else TurnLog()
        self._turn_ids = turn_ids
        self._machine_policy = self.policy.machine
        self.state = State.IDLE
        self.turn_id = ""
        self.replies = Replies(tool_budget_ms=self.policy.tool_budget_ms)
        self.session = SessionClock(
            SessionPolicy(self.policy.idle_close_s, self.policy.session_max_s)
        )
        self._timer_ms: int | None = None  # the state's timer
        self._timer_on_ready_s: float | None = None  # a no-speech timer waiting for the session
        self._want_stream = False
        self._streaming = False
        self._playout_token = 0
        self._awaiting_playout = False
        self._next_turn_id = ""
        self._reply_audio_ms: int | None = None  # when the current reply's audio began
        self._guard = BargeGuard(self.policy.barge_guard_ms, local_vad=self.policy.local_vad)
        self._transcript_wanted = False
        self._cost_usd = cost_usd
        self._budget = BudgetChanged()
        self._speech_stopped_ring_ms: int | None = None
        self._session_model = ""  # "" = the configured model
        self._refuse_turn = False
        self._ring = ring or rp.RingPolicy()
        self._announcements: deque[Announce] = deque()
        self._announcing: Announce | None = None
        self._now_ms = 0
        self._out: list[Action] = []

    # -- the interface -------------------------------------------------------------------------
    def handle(self, event: Event, now_ms: int) -> list[Action]:
        """Apply one event; returns the actions to carry out, in order."""
        self._now_ms = now_ms
        self._out = []
        self._on(event)
        out, self._out = self._out, []
        return out

    def next_deadline_ms(self) -> int | None:
        """When the core wants a `Tick()` (None: no timer running)."""
        timers = (self._timer_ms, self.replies.next_deadline_ms(), self._guard.next_deadline_ms())
        due = [d for d in timers if d is not None]
        if self._ring.is_ringing:
            due.append(round(self._ring.give_up_at_s * 1000))
        if self._is_between_turns():
            session_due = self.session.deadline_ms()
            if session_due is not None:
                due.append(session_due)
        return min(due) if due else None

    # -- dispatch ------------------------------------------------------------------------------
    def _on(self, ev: Event) -> None:
        match ev:
            case Tick():
                self._tick()
            case SessionReady():
                self._session_ready()
            case SessionLost():
                self._session_lost(ev)
            case SessionFatal(message=message):
                self._emit(FailFatal(message))
                self._step(Failure("auth"))
            case UserSpeechStarted():
                self._speech_started()
            case EchoVad(speaking=speaking, converged=converged):
                if self._guard.vad(speaking, converged, self._now_ms) and self._replying_aloud:
                    self._barge_in_by_speech()
                else:
                    self._sync_stream()  # converged: a reply may be streamed through now
            case UserSpeechStopped():
                self.session.touch(self._now_ms)
                if self.turns.current is not None and self.state in _IN_TURN:
                    self.turns.current.mark_speech_stopped(self._now_ms / 1000)
                self._step(SpeechStopped())
            case UserTranscript(text=text):
                if self._transcript_wanted:
                    self._transcript_wanted = False
                    self._emit(UserSaid(text), SetTranscription(False))
            case ResponseStarted(response_id=rid):
                self._emit(*self.replies.started(rid))
            case ResponseRejected():
                self.replies.rejected()
            case ReplyAudio():
                self._reply_audio(ev)
            case ToolCallRequested():
                self._tool_call(ev)
            case ToolResult():
                self._tool_result(ev)
            case ResponseFinished():
                self._response_finished(ev)
            case Heard(items=items):
                self.replies.heard(items)
            case PlayedOut(token=token):
                self._played_out(token)
            case BudgetChanged():
                self._budget_changed(ev)
            case Announce():
                self._queue_announcement(ev)
            case TimerFired():
                self._ring_actions(self._ring.handle(ev, now_s=self._now_ms / 1000, online=True))
            case WakeDetected() | TalkPressed() if self._ring.is_ringing:
                source = "wake_word" if isinstance(ev, WakeDetected) else "talk_button"
                self._ring_actions(self._ring.handle(rp.StopHeard(source, self._now_ms / 1000)))
            case RingSpeechHeard():
                if self._ring.is_ringing and self.state in _TURN_OVER:  # not the label's voice
                    self._speech_stopped_ring_ms = self._now_ms
                    self._ring_actions(
                        self._ring.handle(rp.StopHeard("speech", self._now_ms / 1000))
                    )
            case WakeDetected() if self._wake_stopped_the_ring():
                # the local VAD heard the wake word's first syllables and stopped the ring
                # before the detector finished: that wake word is the stop, not a new turn
                self._speech_stopped_ring_ms = None
                self._emit(Log("info", "wake word taken as the ringing's stop, no turn"))
            case _:
                self._step(ev)

    # -- state machine -------------------------------------------------------------------------
    def _step(self, event: Event) -> None:
        old = self.state
        try:
            new, actions = step(old, event, self._machine_policy)
        except InvalidTransition as exc:
            self._emit(Log("debug", f"ignored event: {exc}", {"STATE": old.value}))
            return
        self.state = new
        if old is State.SPEAKING and new is not old:
            self._guard.cancel()
        begins = any(isinstance(a, BeginTurn) for a in actions)
        if new is not old:
            upcoming = self.turn_id
            if begins:
                upcoming = self._next_turn_id = self._turn_ids()
            self._emit(StateChanged(old, new, upcoming))
        for action in actions:
            self._translate(action, event)
        self._sync_stream()
        if (old in _TURN_OVER) != (new in _TURN_OVER):
            busy = rp.ConversationBusy if new not in _TURN_OVER else rp.ConversationIdle
            self._ring_actions(self._ring.handle(busy(self._now_ms / 1000)))
        if new is State.IDLE and new is not old:
            self._next_announcement()
        if self._refuse_turn:
            self._refuse_turn = False
            reason = self._budget.reason or "the cost budget is reached"
            self._emit(Log("warning", f"turn refused: {reason}", {"ERROR_CODE": "budget"}))
            self._step(BudgetRefused())

    def _translate(self, action: Action, event: Event) -> None:
        match action:
            case StartTimer(seconds=seconds, once_heard=once_heard):
                self._timer_ms = None
                self._timer_on_ready_s = None
                if once_heard and not self.session.is_ready:
                    # counts from SessionReady; if the session never comes, from the connect
                    # timeout on (the backend reports a failed connect long before that)
                    self._timer_on_ready_s = seconds
                    wait_ms = round((self.policy.connect_timeout_s + 1.0) * 1000)
                    self._timer_ms = self._now_ms + wait_ms
                else:
                    self._timer_ms = self._now_ms + round(seconds * 1000)
            case CancelTimer():
                self._timer_ms = None
                self._timer_on_ready_s = None
            case StartStreaming(from_preroll=from_preroll):
                sample = None
                if from_preroll and isinstance(event, WakeDetected):
                    sample = event.stream_from if event.stream_from is not None else event.sample
                self._start_stream(sample)
            case StopStreaming():
                self._want_stream = False
                clear = self.state in _TURN_OVER
                if self._streaming or clear:
                    self._streaming = False
                    self._emit(StopStream(clear_input=clear))
            case TruncateReply():
                self._emit(*self.replies.truncate())
            case CancelResponse(clear_input=clear_input):
                self._emit(*self.replies.cancel())
                if clear_input:
                    self._emit(ClearInput())
            case StopPlayback():
                self._new_playout()
                self._emit(action)
            case BeginTurn(trigger=trigger):
                self._emit(action)
                self._begin_turn(trigger, event)
            case EndTurn(outcome=outcome):
                self._end_turn(outcome)
                self._emit(action)
            case _:
                self._emit(action)

    # -- turns ---------------------------------------------------------------------------------
    def _begin_turn(self, trigger: str, event: Event) -> None:
        self.turn_id = self._next_turn_id or self._turn_ids()
        self._next_turn_id = ""
        wake = event if isinstance(event, WakeDetected) else None
        self.turns.begin(
            self.turn_id,
            trigger,
            self._now_ms / 1000,
            model=wake.model if wake else "",
            score=wake.score if wake else None,
        )
        self._reply_audio_ms = None
        self.session.touch(self._now_ms)
        if not self.session.is_open:
            if self._budget.action == "refuse":
                self._refuse_turn = True  # no session: the turn ends once this step is done
                return
            self._session_model = self._budget.model if self._budget.action == "use_model" else ""
            self.session.opened(self._now_ms)
            self._emit(Connect(self._session_model))
        elif self.session.is_ready:
            self._mark_stream_started()

    def _end_turn(self, outcome: str) -> None:
        self._announcing = None
        record = self.turns.current
        if record is not None:
            record.reply_samples = self.replies.heard_samples()
        self.replies.forget_items()
        record = self.turns.end(outcome, self._now_ms / 1000)
        if record is not None:
            fields = {**record.fields(), "STATE": self.state.value}
            self._emit(Log("info", record.summary(), fields))
        self.turn_id = ""

    # -- streaming -----------------------------------------------------------------------------
    def _start_stream(self, sample: int | None) -> None:
        self._want_stream = True
        if self._streaming and sample is not None:
            # a barge-in while streaming (full duplex): restart at the new request's start
            self._streaming = False
            self._emit(StopStream(clear_input=False))
        self._sync_stream(sample)

    def _sync_stream(self, sample: int | None = None) -> None:
        """Stream while wanted, no tool call holds the input and, during a reply, the mic holds
        no echo of it (no canceller, or one that has converged)."""
        echo_risk = self.state is State.SPEAKING and not self._guard.trusts_the_mic
        target = self._want_stream and not self.replies.is_input_held and not echo_risk
        if target and not self._streaming:
            self._streaming = True
            self._emit(StreamFrom(sample))
            if self.session.is_ready:
                self._mark_stream_started()
        elif not target and self._streaming:
            self._streaming = False
            self._emit(StopStream(clear_input=False))

    def _mark_stream_started(self) -> None:
        record = self.turns.current
        if record is not None and self._streaming:
            record.mark_stream_started(self._now_ms / 1000)

    # -- the session ---------------------------------------------------------------------------
    def _session_ready(self) -> None:
        self.session.ready(self._now_ms)
        self.replies.reset()
        if self._timer_on_ready_s is not None:
            self._timer_ms = self._now_ms + round(self._timer_on_ready_s * 1000)
            self._timer_on_ready_s = None
        if self.state in _IN_TURN:
            self._mark_stream_started()
        self._transcript_wanted = False
        if self._announcing is not None and self.state is State.THINKING:
            self._emit(*self.replies.request(say=self._announcing.text))

    def _session_lost(self, ev: SessionLost) -> None:
        self.session.closed()
        self.replies.reset()
        self._transcript_wanted = False
        if self.state in _IN_TURN:
            fields = {"ERROR_CODE": "network", "STATE": self.state.value}
            self._emit(Log("warning", f"realtime connection lost: {ev.reason}", fields))
            if ev.will_retry:
                self._emit(CloseSession("error"))  # a turn cannot wait for backoff: give up
            self._step(Failure("network"))
        elif ev.will_retry:
            self._emit(CloseSession("error"))

    def _is_between_turns(self) -> bool:
        return self.state in _TURN_OVER and self.replies.is_idle and not self._streaming

    def _tick(self) -> None:
        now = self._now_ms
        if self._ring.is_ringing:
            self._ring_actions(self._ring.handle(rp.Tick(now / 1000)))
        self._emit(*self.replies.tick(now))
        dropped = self._guard.tick(now)
        if dropped is not None:
            self._emit(Log("info", dropped.why, {"STATE": self.state.value}))
        self._sync_stream()
        if self._timer_ms is not None and now >= self._timer_ms:
            if self._timer_on_ready_s is not None:  # the session never came: count from now
                self._timer_ms = now + round(self._timer_on_ready_s * 1000)
                self._timer_on_ready_s = None
            else:
                self._timer_ms = None
                self._step(Timeout())
        if self._is_between_turns():
            verdict = self.session.verdict(now)
            if verdict is not None:
                self.session.closed()
                self.replies.reset()
                message = (
                    "closing idle realtime session"
                    if verdict == "idle"
                    else ("rotating the realtime session (it is old)")
                )
                self._emit(Log("info", message), CloseSession(verdict))

    # -- user speech ---------------------------------------------------------------------------
    def _speech_started(self) -> None:
        now = self._now_ms
        self.session.touch(now)
        began = self._reply_audio_ms if self.state is State.SPEAKING else None
        verdict = self._guard.speech_started(now, None if began is None else now - began)
        if verdict.decision == "ignore":
            self._emit(Log("info", verdict.why, {"STATE": self.state.value}))
        elif verdict.decision == "barge_in":
            self._barge_in_by_speech()

    @property
    def _replying_aloud(self) -> bool:
        return self.state is State.SPEAKING and self._reply_audio_ms is not None

    def _barge_in_by_speech(self) -> None:
        self._emit(UserTurnStarted())
        self._step(SpeechStarted())

    # -- replies -------------------------------------------------------------------------------
    def _reply_audio(self, ev: ReplyAudio) -> None:
        if self.state not in _IN_TURN:
            return
        play, first = self.replies.audio(ev.response_id, ev.item_id, len(ev.pcm) // 2)
        if not play:
            return
        self.session.touch(self._now_ms)
        self._new_playout()
        self._emit(PlayReply(ev.item_id, ev.pcm))
        record = self.turns.current
        if record is not None:
            record.mark_reply_audio(len(ev.pcm) // 2, self._now_ms / 1000)
        if first:
            self._reply_audio_ms = self._now_ms
            self._step(ReplyStarted())

    def _tool_call(self, ev: ToolCallRequested) -> None:
        if self.state not in _IN_TURN:
            return
        held = self.replies.is_input_held
        self._emit(
            *self.replies.call_requested(
                ev.response_id, ev.call_id, ev.name, ev.arguments_json, self._now_ms, self.turn_id
            )
        )
        if self.replies.is_input_held and not held:
            # speech buffered now must not start a reply that lacks the tool's result
            self._emit(ClearInput())
            self._sync_stream()

    def _tool_result(self, ev: ToolResult) -> None:
        record = self.turns.current
        if record is not None and self.state in _IN_TURN:
            record.tools.append(ToolCall(ev.name, ev.ok, ev.duration_ms))
        if ev.wants_transcript and not self._transcript_wanted:
            self._transcript_wanted = True
            self._emit(SetTranscription(True))
        self._emit(*self.replies.tool_result(ev.call_id, ev.name, ev.output_json))
        self._sync_stream()
        self._check_done()

    def _response_finished(self, ev: ResponseFinished) -> None:
        self.session.touch(self._now_ms)
        if ev.usage is not None:
            self._emit(RecordUsage(self.turn_id, ev.usage, self._session_model, ev.response_id))
            record = self.turns.current
            usd = self._cost_usd(self._session_model, ev.usage) if self._cost_usd else None
            if record is not None and usd is not None:
                record.cost_usd = (record.cost_usd or 0.0) + usd
        dropped = self.replies.is_dropped(ev.response_id)
        self._emit(*self.replies.finished(ev.response_id, ev.status))
        if not dropped and self.state in _IN_TURN:
            if ev.status == "failed":
                self._reply_failed(ev)
                return
            if ev.status == "incomplete":
                msg = f"reply incomplete ({ev.reason or 'no reason given'}): playing what arrived"
                self._emit(Log("warning", msg, {"ERROR_CODE": ev.reason or "incomplete"}))
        self._sync_stream()
        self._check_done()

    def _reply_failed(self, ev: ResponseFinished) -> None:
        code = ev.error_code or ev.reason or "response_failed"
        detail = ev.error_message or "no detail"
        msg = f"reply failed: {ev.error_type or 'error'} {code}: {detail}"
        self._emit(Log("warning", msg[:300], {"ERROR_CODE": code, "STATE": self.state.value}))
        self._step(ReplyFailed(code))

    def _check_done(self) -> None:
        """Nothing active or pending: once the audio has played out, the reply is done."""
        if self.state in _REPLYING and self.replies.is_idle and not self._awaiting_playout:
            self._awaiting_playout = True
            self._emit(AwaitPlayout(self._playout_token))

    def _new_playout(self) -> None:
        """New audio, or the speaker was silenced: a playout being awaited is stale."""
        self._playout_token += 1
        self._awaiting_playout = False

    def _played_out(self, token: int) -> None:
        if token != self._playout_token or self.state not in _REPLYING:
            return
        self._awaiting_playout = False
        if not self.replies.is_idle:
            return
        self.replies.played_out()
        announced, self._announcing = self._announcing, None
        if announced is not None and not announced.start_conversation:
            self._step(AnnouncementDone())  # it opens no mic
        else:
            self._step(ReplyDone())

    # -- announcements and ringing --------------------------------------------------------------
    def _queue_announcement(self, ev: Announce) -> None:
        if len(self._announcements) >= _MAX_QUEUED_ANNOUNCEMENTS:
            self._emit(
                Log("warning", "announcement dropped: too many queued", {"SOURCE": ev.source})
            )
            return
        self._announcements.append(ev)
        if self.state is State.IDLE:
            self._next_announcement()

    def _next_announcement(self) -> None:
        """Say the next queued announcement as its own turn (a turn in progress goes first)."""
        if not self._announcements or self._announcing is not None:
            return
        ev = self._announcements.popleft()
        fields = {"SOURCE": ev.source[:40]}
        if not self.session.is_open and self._budget.action == "refuse":
            self._emit(Log("warning", "announcement not spoken: budget reached", fields))
            self._emit(PlayEarcon("done"))
            return
        self._emit(Log("info", f"announcement from {ev.source[:40] or 'unknown'}", fields))
        self._announcing = ev
        self._step(AnnouncementStarted())
        if self.session.is_ready and self.state is State.THINKING:
            self._emit(*self.replies.request(say=ev.text))

    def _ring_actions(self, actions: list[rp.RingAction]) -> None:
        for action in actions:
            match action:
                case rp.StartRinging(timer_ids=ids):
                    self._emit(Ring(True, ids))
                case rp.StopRinging(reason=reason, timer_ids=ids, rang_s=rang_s):
                    fields = {"TIMER_IDS": ",".join(map(str, ids)), "TIMER_STOP": reason}
                    self._emit(
                        Ring(False, ids),
                        Log("info", f"ringing stopped ({reason}) after {rang_s:g} s", fields),
                    )
                case rp.Announce(text=text):
                    self._queue_announcement(Announce(text, "timer"))

    def _wake_stopped_the_ring(self) -> bool:
        at = self._speech_stopped_ring_ms
        return at is not None and self._now_ms - at <= _WAKE_AFTER_SPEECH_STOP_MS

    def _budget_changed(self, ev: BudgetChanged) -> None:
        if ev.reached != self._budget.reached:
            self._emit(ShowBudget(ev.reached))
        self._budget = ev

    def _emit(self, *actions: Action) -> None:
        self._out.extend(actions)
