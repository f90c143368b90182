"""PressTracker (pure): debounce and tap/hold, with time as an argument."""

from __future__ import annotations

from edge_agent.status.presses import PressTracker


def tracker() -> PressTracker:
    return PressTracker(bounce_s=0.05, hold_s=1.0)


def test_tap_counts_after_the_level_settles() -> None:
    t = tracker()
    assert t.edge(True, 10.0) == []
    assert t.next_poll_s() == 10.05
    assert t.poll(10.05) == ["down"]
    assert t.edge(False, 10.3) == []
    assert t.poll(10.349) == []
    assert t.poll(10.35) == ["tap"]
    assert t.next_poll_s() is None


def test_hold_fires_once_while_held_and_no_tap_follows() -> None:
    t = tracker()
    t.edge(True, 0.0)
    assert t.poll(0.05) == ["down"]
    assert t.next_poll_s() == 1.0
    assert t.poll(0.99) == []
    assert t.poll(1.0) == ["hold"]
    assert t.poll(5.0) == []
    t.edge(False, 6.0)
    assert t.poll(6.05) == []
    assert not t.is_pressed


def test_contact_bounce_is_one_press() -> None:
    t = tracker()
    for i, level in enumerate([True, False, True, False, True]):
        assert t.edge(level, i * 0.005) == []
    assert t.poll(0.02 + 0.049) == []
    assert t.poll(0.02 + 0.05) == ["down"]


def test_a_short_glitch_is_ignored() -> None:
    t = tracker()
    t.edge(True, 0.0)
    t.edge(False, 0.01)
    assert t.poll(0.2) == []
    assert t.next_poll_s() is None and not t.is_pressed


def test_late_poll_reports_everything_that_completed() -> None:
    t = tracker()
    t.edge(True, 0.0)
    assert t.poll(2.0) == ["down", "hold"]


def test_no_bounce_time_is_immediate() -> None:
    t = PressTracker(bounce_s=0.0, hold_s=0.5)
    assert t.edge(True, 1.0) == ["down"]
    assert t.edge(False, 1.1) == ["tap"]
