import numpy as np
import pytest

from edge_agent.audio.ring import SampleRing, SamplesLost


def test_read_returns_exact_samples_across_wraparound() -> None:
    ring = SampleRing(10)
    data = np.arange(1, 26, dtype=np.int16)
    for i in range(0, 25, 3):
        ring.push(data[i : i + 3])
    assert ring.head == 25
    assert ring.tail == 15
    assert ring.read(15).tolist() == list(range(16, 26))
    assert ring.read(18, 22).tolist() == [19, 20, 21, 22]


def test_push_larger_than_capacity_keeps_the_newest() -> None:
    ring = SampleRing(4)
    ring.push(np.arange(10, dtype=np.int16))
    assert ring.head == 10
    assert ring.read(6).tolist() == [6, 7, 8, 9]


def test_reading_overwritten_samples_raises() -> None:
    ring = SampleRing(4)
    ring.push(np.arange(6, dtype=np.int16))
    with pytest.raises(SamplesLost, match="samples from 1 are gone"):
        ring.read(1)


def test_reading_past_head_is_an_error() -> None:
    ring = SampleRing(4)
    ring.push(np.arange(2, dtype=np.int16))
    with pytest.raises(ValueError):
        ring.read(0, 3)
    assert ring.read(2).size == 0


def test_skip_makes_the_gap_and_everything_before_unreadable() -> None:
    ring = SampleRing(10)
    ring.push(np.arange(4, dtype=np.int16))
    ring.skip(3)
    ring.push(np.array([7, 8], dtype=np.int16))
    assert ring.head == 9 and ring.tail == 7
    assert ring.read(7).tolist() == [7, 8]
    with pytest.raises(SamplesLost):
        ring.read(2)
