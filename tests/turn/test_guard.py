"""The full-duplex barge-in guard with literal times: the pure rule, then through the turn core."""

from __future__ import annotations

from edge_agent.states import BeginTurn, EndTurn, State, StopPlayback
from edge_agent.turn.actions import (
    CancelReply,
    Log,
    StateChanged,
    StopStream,
    StreamFrom,
    Truncate,
    UserTurnStarted,
)
from edge_agent.turn.events import (
    EchoVad,
    Heard,
    ReplyAudio,
    ResponseFinished,
    ResponseStarted,
    Tick,
    UserSpeechStarted,
)
from edge_agent.turn.guard import DEFAULT_CONFIRM_MS, BargeGuard, GuardVerdict
from tests.turn.test_core import PCM_100MS, core, played_out, ready_turn, speaking, without_logs

S = State
BARGE = [
    UserTurnStarted(),
    StateChanged(S.SPEAKING, S.LISTENING, "t2"),
    StopPlayback(),
    Truncate("i1", 300),
    CancelReply("r1"),
    EndTurn("barge_in"),
    BeginTurn("barge_in"),
]


# -- the rule ------------------------------------------------------------------------------------
def test_without_a_local_vad_only_the_first_ms_of_a_reply_are_guarded() -> None:
    g = BargeGuard(300)
    assert g.speech_started(1000, 299).decision == "ignore"
    assert g.speech_started(1000, 300) == GuardVerdict("barge_in")
    assert g.speech_started(1000, None) == GuardVerdict("barge_in")  # no reply playing


def test_before_the_canceller_converged_server_speech_in_a_reply_is_ignored() -> None:
    g = BargeGuard(300, local_vad=True)
    g.vad(True, False, 900)  # the VAD hears the uncancelled echo: proves nothing
    v = g.speech_started(1000, 5000)
    assert v.decision == "ignore" and "not measured the echo path" in v.why
    assert g.speech_started(1000, None).decision == "barge_in"  # outside a reply: the user


def test_a_start_waits_for_the_vad_and_barges_in_when_it_agrees() -> None:
    g = BargeGuard(300, local_vad=True, confirm_ms=400)
    g.vad(False, True, 900)
    assert g.speech_started(1000, 50).decision == "wait"  # even early in the reply
    assert g.next_deadline_ms() == 1400
    assert g.vad(True, True, 1399) is True  # agreed in time: barge in now
    assert not g.is_waiting and g.next_deadline_ms() is None
    assert g.vad(True, True, 1450) is False  # nothing waits any more


def test_a_start_the_vad_never_confirms_is_dropped_at_its_deadline() -> None:
    g = BargeGuard(300, local_vad=True, confirm_ms=400)
    g.vad(False, True, 900)
    assert g.speech_started(1000, 2500).decision == "wait"
    assert g.tick(1399) is None
    v = g.tick(1400)
    assert v is not None and v.decision == "ignore" and "2500 ms into the reply" in v.why
    assert g.vad(True, True, 1500) is False  # too late: that start is gone


def test_the_vad_speaking_now_or_just_before_confirms_at_once() -> None:
    g = BargeGuard(300, local_vad=True, confirm_ms=400)
    g.vad(True, True, 900)
    assert g.speech_started(1000, 100).decision == "barge_in"
    g.vad(False, True, 1100)  # stopped: its speech still counts for 400 ms
    assert g.speech_started(1500, 600).decision == "barge_in"
    assert g.speech_started(1501, 601).decision == "wait"


def test_cancel_drops_a_waiting_start() -> None:
    g = BargeGuard(300, local_vad=True)
    g.vad(False, True, 0)
    g.speech_started(100, 1000)
    g.cancel()
    assert g.vad(True, True, 200) is False and g.tick(10_000) is None


# -- through the turn core -------------------------------------------------------------------
def test_core_with_local_vad_barges_in_when_the_vad_confirms() -> None:
    c = core(duplex="full", barge_guard_ms=300, local_vad=True)
    c.handle(EchoVad(False, True), 1000)  # converged on an earlier reply
    speaking(c)  # reply audio from 2200, streamed through
    c.handle(Heard((("i1", 24 * 300),)), 2600)
    assert c.handle(UserSpeechStarted(), 2700) == []  # waits for the local VAD
    assert c.next_deadline_ms() == 2700 + DEFAULT_CONFIRM_MS
    assert without_logs(c.handle(EchoVad(True, True), 2760)) == BARGE
    assert c.state is S.LISTENING


def test_core_with_local_vad_ignores_echo_the_vad_did_not_hear() -> None:
    c = core(duplex="full", barge_guard_ms=300, local_vad=True)
    speaking(c)
    c.handle(EchoVad(False, True), 2300)
    assert c.handle(UserSpeechStarted(), 2700) == []
    assert c.handle(Tick(), 2699 + DEFAULT_CONFIRM_MS) == []  # still waiting
    assert c.handle(Tick(), 2700 + DEFAULT_CONFIRM_MS) == [
        Log(
            "info",
            "speech 500 ms into the reply ignored: the local VAD on the echo-cancelled mic "
            "heard nobody (its own echo)",
            {"STATE": "speaking"},
        )
    ]
    assert c.state is S.SPEAKING
    # the VAD alone never barges in
    assert c.handle(EchoVad(True, True), 2800 + DEFAULT_CONFIRM_MS) == []


def test_core_before_convergence_ignores_server_speech_during_the_reply() -> None:
    c = core(duplex="full", barge_guard_ms=300, local_vad=True)
    c.handle(EchoVad(True, False), 1000)
    speaking(c)
    out = c.handle(UserSpeechStarted(), 4000)
    assert [type(a) for a in out] == [Log] and c.state is S.SPEAKING


def test_core_a_waiting_start_dies_with_the_reply() -> None:
    c = core(duplex="full", barge_guard_ms=300, local_vad=True)
    speaking(c)
    c.handle(EchoVad(False, True), 2300)
    c.handle(UserSpeechStarted(), 2700)
    out = c.handle(ResponseFinished("r1"), 2710)
    played_out(c, out, 2720)  # the reply ends: listening for a follow-up
    assert c.state is S.LISTENING and c.next_deadline_ms() == 7720  # the follow-up timer
    assert c.handle(EchoVad(True, True), 2800) == []  # no barge-in out of a finished reply


def test_core_streams_through_a_reply_only_once_the_canceller_converged() -> None:
    c = core(duplex="full", barge_guard_ms=300, local_vad=True)
    speaking(c)  # no EchoVad yet: the echo path is unknown
    assert c._streaming is False  # the reply's start stopped the stream
    assert c.handle(EchoVad(True, False), 2600) == []  # still unknown: nothing changes
    assert c.handle(EchoVad(False, True), 2700) == [StreamFrom(None)]  # from now on
    assert c.handle(EchoVad(True, True), 2800) == []  # already streaming


def test_core_streams_through_replies_once_converged_and_stops_when_it_is_lost() -> None:
    c = core(duplex="full", barge_guard_ms=300, local_vad=True)
    c.handle(EchoVad(False, True), 0)  # converged on an earlier reply
    ready_turn(c)
    c.handle(ResponseStarted("r1"), 2100)
    out = c.handle(ReplyAudio("r1", "i1", PCM_100MS), 2200)
    assert not [a for a in out if isinstance(a, StopStream)]  # full duplex: streams on
    # the echo path moved (the canceller re-learns): stop streaming the reply meanwhile
    assert c.handle(EchoVad(False, False), 2400) == [StopStream(clear_input=False)]
    assert c.handle(UserSpeechStarted(), 2500)[0].message.endswith("echo path yet")  # type: ignore[attr-defined]
    assert c.handle(EchoVad(False, True), 2900) == [StreamFrom(None)]
    half = core(duplex="full", barge_guard_ms=300)  # no canceller: streams through the reply
    ready_turn(half)
    half.handle(ResponseStarted("r1"), 2100)
    out = half.handle(ReplyAudio("r1", "i1", PCM_100MS), 2200)
    assert not [a for a in out if isinstance(a, StopStream)]


def test_speech_that_ended_before_the_reply_began_is_no_barge_in() -> None:
    g = BargeGuard(300, local_vad=True, confirm_ms=400)
    g.vad(True, True, 900)  # the user's question
    g.vad(False, True, 1000)  # ... ends; the reply begins at 1100
    assert g.speech_started(1300, 200).decision == "wait"  # 300 ms after: not the question
    g.vad(True, True, 1400)
    g.vad(False, True, 1500)  # speech during the reply, ended 100 ms ago: counts
    assert g.speech_started(1600, 500).decision == "barge_in"
