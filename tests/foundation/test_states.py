"""The state machine table: every entry's whole output, policies, timers and invalid events."""

from __future__ import annotations

import logging

import pytest

from edge_agent.states import (
    TRANSITIONS,
    Action,
    AnnouncementDone,
    AnnouncementStarted,
    BargeIn,
    BeginTurn,
    BudgetRefused,
    Cancel,
    CancelResponse,
    CancelTimer,
    CloseMic,
    EndTurn,
    Event,
    Failure,
    InvalidTransition,
    MuteToggle,
    OpenMic,
    PlayEarcon,
    Policy,
    Recovered,
    ReplyDone,
    ReplyFailed,
    ReplyStarted,
    SpeechStarted,
    SpeechStopped,
    StartStreaming,
    StartTimer,
    State,
    StateMachine,
    StopPlayback,
    StopStreaming,
    TalkPressed,
    Timeout,
    TruncateReply,
    WakeDetected,
    step,
)

HALF = Policy(follow_up_s=5.0, no_speech_timeout_s=8.0, max_turn_s=60.0, duplex="half")
FULL = Policy(follow_up_s=5.0, no_speech_timeout_s=8.0, max_turn_s=60.0, duplex="full")
NO_FOLLOW_UP = Policy(follow_up_s=0.0, no_speech_timeout_s=8.0, max_turn_s=60.0, duplex="half")
EVENT_TYPES: tuple[type[Event], ...] = (
    WakeDetected,
    TalkPressed,
    BargeIn,
    SpeechStarted,
    SpeechStopped,
    ReplyStarted,
    ReplyDone,
    ReplyFailed,
    BudgetRefused,
    AnnouncementStarted,
    AnnouncementDone,
    MuteToggle,
    Cancel,
    Failure,
    Recovered,
    Timeout,
)

LISTEN_WAKE = [
    PlayEarcon("wake"),
    BeginTurn("wake"),
    StartStreaming(from_preroll=True),
    StartTimer(8.0, once_heard=True),
]
LISTEN_TALK = [
    PlayEarcon("wake"),
    BeginTurn("talk"),
    StartStreaming(from_preroll=False),
    StartTimer(8.0, once_heard=True),
]
BARGE = [StopPlayback(), TruncateReply(), CancelResponse(), EndTurn("barge_in")]
FAIL = [
    CancelTimer(),
    StopStreaming(),
    StopPlayback(),
    CancelResponse(),
    EndTurn("error"),
    PlayEarcon("error"),
]
MUTE = [
    CancelTimer(),
    StopStreaming(),
    StopPlayback(),
    CancelResponse(),
    EndTurn("muted"),
    CloseMic(),
    PlayEarcon("muted"),
]
REPLY_FAILED = [
    CancelTimer(),
    StopStreaming(),
    StopPlayback(),
    CancelResponse(),
    EndTurn("error"),
    PlayEarcon("error"),
]
ANNOUNCE = [BeginTurn("announcement"), StartTimer(60.0)]
ANNOUNCED = [CancelTimer(), StopStreaming(), EndTurn("completed")]
FOLLOW_UP = [
    EndTurn("completed"),
    BeginTurn("follow_up"),
    StartStreaming(from_preroll=False),
    StartTimer(5.0, once_heard=True),
]

# The whole table under the default (half duplex, follow-up on) policy.
EXPECTED_HALF: dict[tuple[State, type[Event]], tuple[State, list[Action]]] = {
    (State.IDLE, WakeDetected): (State.LISTENING, LISTEN_WAKE),
    (State.IDLE, TalkPressed): (State.LISTENING, LISTEN_TALK),
    (State.IDLE, MuteToggle): (State.MUTED, [CancelTimer(), CloseMic(), PlayEarcon("muted")]),
    (State.IDLE, Failure): (State.ERROR, [CancelTimer(), PlayEarcon("error")]),
    (State.IDLE, AnnouncementStarted): (State.THINKING, ANNOUNCE),
    (State.LISTENING, SpeechStarted): (State.LISTENING, [StartTimer(60.0)]),
    (State.LISTENING, SpeechStopped): (State.THINKING, [StopStreaming(), StartTimer(60.0)]),
    (State.LISTENING, ReplyStarted): (State.SPEAKING, [StopStreaming(), StartTimer(60.0)]),
    (State.LISTENING, Timeout): (
        State.IDLE,
        [CancelTimer(), StopStreaming(), EndTurn("no_speech"), PlayEarcon("done")],
    ),
    (State.LISTENING, Cancel): (
        State.IDLE,
        [
            CancelTimer(),
            StopStreaming(),
            CancelResponse(),
            EndTurn("cancelled"),
            PlayEarcon("done"),
        ],
    ),
    (State.LISTENING, WakeDetected): (State.LISTENING, [StartTimer(8.0, once_heard=True)]),
    (State.LISTENING, TalkPressed): (State.LISTENING, [StartTimer(8.0, once_heard=True)]),
    (State.LISTENING, MuteToggle): (State.MUTED, MUTE),
    (State.LISTENING, Failure): (State.ERROR, FAIL),
    (State.LISTENING, ReplyFailed): (State.IDLE, REPLY_FAILED),
    (State.LISTENING, BudgetRefused): (
        State.IDLE,
        [CancelTimer(), StopStreaming(), EndTurn("refused"), PlayEarcon("budget")],
    ),
    (State.THINKING, ReplyStarted): (State.SPEAKING, [StopStreaming(), StartTimer(60.0)]),
    (State.THINKING, ReplyDone): (State.LISTENING, FOLLOW_UP),
    (State.THINKING, SpeechStarted): (
        State.LISTENING,
        [CancelResponse(clear_input=False), StartStreaming(from_preroll=False), StartTimer(60.0)],
    ),
    (State.THINKING, WakeDetected): (State.LISTENING, [*BARGE, *LISTEN_WAKE]),
    (State.THINKING, TalkPressed): (State.LISTENING, [*BARGE, *LISTEN_TALK]),
    (State.THINKING, Timeout): (
        State.IDLE,
        [
            CancelTimer(),
            StopStreaming(),
            CancelResponse(),
            EndTurn("timeout"),
            PlayEarcon("error"),
        ],
    ),
    (State.THINKING, Cancel): (
        State.IDLE,
        [
            CancelTimer(),
            StopStreaming(),
            CancelResponse(),
            EndTurn("cancelled"),
            PlayEarcon("done"),
        ],
    ),
    (State.THINKING, MuteToggle): (State.MUTED, MUTE),
    (State.THINKING, Failure): (State.ERROR, FAIL),
    (State.THINKING, ReplyFailed): (State.IDLE, REPLY_FAILED),
    (State.THINKING, AnnouncementDone): (State.IDLE, ANNOUNCED),
    (State.SPEAKING, ReplyStarted): (State.SPEAKING, []),
    (State.SPEAKING, ReplyDone): (State.LISTENING, FOLLOW_UP),
    (State.SPEAKING, WakeDetected): (State.LISTENING, [*BARGE, *LISTEN_WAKE]),
    (State.SPEAKING, TalkPressed): (State.LISTENING, [*BARGE, *LISTEN_TALK]),
    (State.SPEAKING, SpeechStarted): (
        State.LISTENING,
        [
            StopPlayback(),
            TruncateReply(),
            CancelResponse(clear_input=False),
            EndTurn("barge_in"),
            BeginTurn("barge_in"),
            StartStreaming(from_preroll=False),
            StartTimer(60.0),
        ],
    ),
    (State.SPEAKING, Cancel): (
        State.IDLE,
        [
            CancelTimer(),
            StopStreaming(),
            StopPlayback(),
            TruncateReply(),
            CancelResponse(),
            EndTurn("cancelled"),
            PlayEarcon("done"),
        ],
    ),
    (State.SPEAKING, Timeout): (
        State.IDLE,
        [
            CancelTimer(),
            StopStreaming(),
            StopPlayback(),
            TruncateReply(),
            CancelResponse(),
            EndTurn("timeout"),
            PlayEarcon("done"),
        ],
    ),
    (State.SPEAKING, MuteToggle): (State.MUTED, MUTE),
    (State.SPEAKING, Failure): (State.ERROR, FAIL),
    (State.SPEAKING, ReplyFailed): (State.IDLE, REPLY_FAILED),
    (State.SPEAKING, AnnouncementDone): (State.IDLE, ANNOUNCED),
    (State.MUTED, MuteToggle): (State.IDLE, [CancelTimer(), OpenMic(), PlayEarcon("unmuted")]),
    (State.ERROR, Recovered): (State.IDLE, [CancelTimer()]),
    (State.ERROR, WakeDetected): (State.LISTENING, LISTEN_WAKE),
    (State.ERROR, TalkPressed): (State.LISTENING, LISTEN_TALK),
    (State.ERROR, MuteToggle): (State.MUTED, [CancelTimer(), CloseMic(), PlayEarcon("muted")]),
    (State.ERROR, Failure): (State.ERROR, []),
    (State.ERROR, AnnouncementStarted): (State.THINKING, ANNOUNCE),
}


def test_expected_table_covers_every_transition() -> None:
    assert set(EXPECTED_HALF) == set(TRANSITIONS)


def test_every_state_has_a_way_in_and_out() -> None:
    sources = {s for s, _ in TRANSITIONS}
    targets = {step(s, e(), HALF)[0] for s, e in TRANSITIONS} | {
        step(s, e(), NO_FOLLOW_UP)[0] for s, e in TRANSITIONS
    }
    assert sources == set(State)
    assert targets == set(State)


@pytest.mark.parametrize(
    ("state", "event_type"), list(EXPECTED_HALF), ids=lambda x: getattr(x, "__name__", str(x))
)
def test_transition(state: State, event_type: type[Event]) -> None:
    assert step(state, event_type(), HALF) == EXPECTED_HALF[(state, event_type)]


def test_wake_event_fields_do_not_change_the_output() -> None:
    event = WakeDetected(model="hey_jarvis", score=0.97, sample=48_000)
    assert step(State.IDLE, event, HALF) == (State.LISTENING, LISTEN_WAKE)


# ---- follow-up window on/off


@pytest.mark.parametrize("state", [State.THINKING, State.SPEAKING])
def test_reply_done_without_follow_up_goes_idle(state: State) -> None:
    assert step(state, ReplyDone(), NO_FOLLOW_UP) == (
        State.IDLE,
        [CancelTimer(), StopStreaming(), EndTurn("completed"), PlayEarcon("done")],
    )


def test_follow_up_window_times_out_to_idle() -> None:
    sm = StateMachine(HALF, State.SPEAKING)
    assert sm.handle(ReplyDone()) == FOLLOW_UP
    assert sm.state is State.LISTENING
    assert sm.handle(Timeout()) == [
        CancelTimer(),
        StopStreaming(),
        EndTurn("no_speech"),
        PlayEarcon("done"),
    ]
    assert sm.state is State.IDLE


def test_follow_up_window_uses_its_own_length() -> None:
    policy = Policy(follow_up_s=2.5, no_speech_timeout_s=8.0, max_turn_s=60.0)
    assert step(State.SPEAKING, ReplyDone(), policy)[1][-1] == StartTimer(2.5, once_heard=True)


# ---- half vs full duplex


def test_full_duplex_keeps_streaming_through_the_reply() -> None:
    assert step(State.LISTENING, SpeechStopped(), FULL) == (State.THINKING, [StartTimer(60.0)])
    assert step(State.THINKING, ReplyStarted(), FULL) == (State.SPEAKING, [StartTimer(60.0)])
    assert step(State.LISTENING, ReplyStarted(), FULL) == (State.SPEAKING, [StartTimer(60.0)])


def test_full_duplex_server_vad_barge_in() -> None:
    assert step(State.SPEAKING, SpeechStarted(), FULL) == (
        State.LISTENING,
        [
            StopPlayback(),
            TruncateReply(),
            CancelResponse(clear_input=False),
            EndTurn("barge_in"),
            BeginTurn("barge_in"),
            StartStreaming(from_preroll=False),
            StartTimer(60.0),
        ],
    )


@pytest.mark.parametrize("policy", [HALF, FULL, NO_FOLLOW_UP], ids=["half", "full", "no-follow"])
def test_no_mic_audio_is_streamed_outside_a_turn(policy: Policy) -> None:
    """Every way into idle, muted or error stops streaming if it could be on (full duplex)."""
    streaming_states = {State.LISTENING} | (
        {State.THINKING, State.SPEAKING} if policy.duplex == "full" else set()
    )
    for (state, event_type), _ in TRANSITIONS.items():
        new_state, actions = step(state, event_type(), policy)
        if new_state in (State.IDLE, State.MUTED, State.ERROR) and state in streaming_states:
            assert StopStreaming() in actions, (state, event_type)
        if new_state is State.LISTENING and state is not State.LISTENING:
            assert any(isinstance(a, StartStreaming) for a in actions), (state, event_type)


# ---- timers


def test_leaving_a_state_cancels_its_timer_unless_a_new_one_starts() -> None:
    for policy in (HALF, FULL, NO_FOLLOW_UP):
        for state, event_type in TRANSITIONS:
            new_state, actions = step(state, event_type(), policy)
            timers = [a for a in actions if isinstance(a, StartTimer | CancelTimer)]
            if new_state is not state:
                assert timers, (state, event_type)
            if any(isinstance(a, CancelTimer) for a in actions):
                assert actions[0] == CancelTimer()
                assert not any(isinstance(a, StartTimer) for a in actions)


def test_staying_in_a_state_without_a_new_timer_keeps_it() -> None:
    assert step(State.SPEAKING, ReplyStarted(), HALF) == (State.SPEAKING, [])
    assert step(State.ERROR, Failure(), HALF) == (State.ERROR, [])


# ---- a whole conversation through StateMachine


def test_a_conversation_with_a_barge_in() -> None:
    sm = StateMachine(HALF)
    script: list[tuple[Event, State]] = [
        (WakeDetected(score=0.9), State.LISTENING),
        (SpeechStarted(), State.LISTENING),
        (SpeechStopped(), State.THINKING),
        (ReplyStarted(), State.SPEAKING),
        (WakeDetected(score=0.8), State.LISTENING),
        (SpeechStopped(), State.THINKING),
        (ReplyStarted(), State.SPEAKING),
        (ReplyDone(), State.LISTENING),
        (Timeout(), State.IDLE),
        (MuteToggle(), State.MUTED),
        (MuteToggle(), State.IDLE),
        (Failure("network"), State.ERROR),
        (Recovered(), State.IDLE),
    ]
    seen = []
    for event, _ in script:
        sm.handle(event)
        seen.append(sm.state)
    assert seen == [s for _, s in script]


# ---- invalid transitions


INVALID = [
    (state, event_type)
    for state in State
    for event_type in EVENT_TYPES
    if (state, event_type) not in TRANSITIONS
]


def test_there_are_invalid_pairs_in_every_state() -> None:
    assert {s for s, _ in INVALID} == set(State)


@pytest.mark.parametrize(
    ("state", "event_type"), INVALID, ids=lambda x: getattr(x, "__name__", str(x))
)
def test_step_raises_on_invalid_transition(state: State, event_type: type[Event]) -> None:
    event = event_type()
    with pytest.raises(InvalidTransition) as info:
        step(state, event, HALF)
    assert info.value.state is state
    assert info.value.event == event
    assert str(info.value) == f"no transition for {event_type.__name__} in state {state.value!r}"


@pytest.mark.parametrize(
    ("state", "event_type"), INVALID, ids=lambda x: getattr(x, "__name__", str(x))
)
def test_machine_ignores_and_logs_invalid_transition(
    state: State, event_type: type[Event], caplog: pytest.LogCaptureFixture
) -> None:
    sm = StateMachine(HALF, state)
    with caplog.at_level(logging.DEBUG, logger="edge_agent.states"):
        assert sm.handle(event_type()) == []
    assert sm.state is state
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"ignored event: no transition for {event_type.__name__} in state {state.value!r}"
    )
    assert record.__dict__["STATE"] == state.value


def test_machine_keeps_working_after_an_invalid_event() -> None:
    sm = StateMachine(HALF)
    assert sm.handle(ReplyDone()) == []
    assert sm.handle(WakeDetected()) == LISTEN_WAKE
    assert sm.state is State.LISTENING


def test_state_values_are_the_journal_and_status_strings() -> None:
    assert [s.value for s in State] == [
        "idle",
        "listening",
        "thinking",
        "speaking",
        "muted",
        "error",
    ]
