"""The ringing rules: events in, actions out, whole outputs compared."""

from __future__ import annotations

from edge_agent.assistant.ringing import (
    Announce,
    ConversationBusy,
    ConversationIdle,
    RingPolicy,
    StartRinging,
    StopHeard,
    StopRinging,
    Tick,
    announcement,
)
from edge_agent.assistant.timers import TimerFired

PASTA = TimerFired(1, "timer", "pasta", 1000.0)
EGGS = TimerFired(2, "timer", "eggs", 1000.0)
WAKE = TimerFired(3, "alarm", "", 1000.0)


def test_rings_announces_and_the_wake_word_stops_it() -> None:
    policy = RingPolicy(ring_timeout_s=60)
    assert policy.handle(PASTA, now_s=10.0) == [
        StartRinging((1,), 70.0),
        Announce(
            "Say in one short sentence, in the user's language, that the pasta timer is done.", (1,)
        ),
    ]
    assert policy.handle(Tick(20.0)) == []
    assert policy.handle(StopHeard("wake_word", 24.5)) == [
        StopRinging("wake_word", (1,), 14.5, consumed=True)
    ]
    assert policy.handle(StopHeard("wake_word", 25.0)) == []  # not ringing: a normal wake
    assert not policy.is_ringing


def test_offline_or_speak_label_off_rings_the_earcon_alone() -> None:
    assert RingPolicy().handle(PASTA, now_s=0.0, online=False) == [StartRinging((1,), 60.0)]
    assert RingPolicy(speak_label=False).handle(PASTA, now_s=0.0) == [StartRinging((1,), 60.0)]


def test_gives_up_after_the_timeout() -> None:
    policy = RingPolicy(ring_timeout_s=30, speak_label=False)
    policy.handle(WAKE, now_s=100.0)
    assert policy.handle(Tick(129.9)) == []
    assert policy.handle(Tick(130.0)) == [StopRinging("timeout", (3,), 30.0, consumed=False)]
    assert policy.handle(Tick(131.0)) == []


def test_a_timer_during_a_conversation_waits_for_the_reply_to_end() -> None:
    policy = RingPolicy(ring_timeout_s=60, speak_label=False)
    assert policy.handle(ConversationBusy(5.0)) == []
    assert policy.handle(PASTA, now_s=6.0) == []
    assert policy.handle(EGGS, now_s=7.0) == []
    assert policy.handle(ConversationIdle(9.0)) == [StartRinging((1, 2), 69.0)]


def test_more_timers_join_the_ring_and_move_the_give_up_time() -> None:
    policy = RingPolicy(ring_timeout_s=60)
    policy.handle(PASTA, now_s=0.0)
    policy.handle(ConversationBusy(1.0))  # the announcement plays: still ringing
    assert policy.handle(EGGS, now_s=20.0) == [
        StartRinging((1, 2), 80.0),
        Announce(
            "Say in one short sentence, in the user's language, that the eggs timer is done.", (2,)
        ),
    ]
    assert policy.handle(StopHeard("speech", 30.0)) == [StopRinging("speech", (1, 2), 30.0)]


def test_missed_ones_do_not_ring() -> None:
    assert (
        RingPolicy().handle(TimerFired(4, "alarm", "x", 0.0, 900.0, missed=True), now_s=1.0) == []
    )


def test_announcements() -> None:
    assert announcement((WAKE,)).endswith("that the alarm is ringing.")
    three = announcement((PASTA, EGGS, WAKE))
    assert three.endswith(
        "that the pasta timer is done, the eggs timer is done and the alarm is ringing."
    )


def test_the_journal_records_who_stopped_it(caplog) -> None:
    import logging

    from edge_agent.assistant.service import log_ring_stopped

    caplog.set_level(logging.INFO)
    log_ring_stopped("wake_word", (1, 2), 4.25)
    log_ring_stopped("timeout", (3,), 60.0)
    first, second = caplog.records
    assert first.getMessage() == "ringing stopped by wake word after 4.2 s"
    assert (first.TIMER_ID, first.TIMER_OUTCOME, first.TIMER_STOPPED_BY, first.TIMER_RANG_MS) == (
        "1,2",
        "stopped",
        "wake_word",
        4250,
    )
    assert second.levelno == logging.WARNING and second.TIMER_OUTCOME == "timeout"
