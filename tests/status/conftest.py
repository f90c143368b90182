"""gpiozero mock pins for the status tests, passed explicitly (never via Device.pin_factory)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

SCALE = float(os.environ.get("EDGE_AGENT_TEST_TIME_SCALE", "1"))
"""Stretch waits on slow machines (a Pi Zero): EDGE_AGENT_TEST_TIME_SCALE=3."""
TIMEOUT_S = 2.0 * SCALE
SETTLE_S = 0.05 * SCALE
"""Time for the LED thread to apply a new pattern before a test records the pin."""
T = TypeVar("T")


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pins = MockFactory(pin_class=MockPWMPin)
    yield pins
    pins.reset()


def eventually(read: Callable[[], T], expected: object, timeout_s: float = TIMEOUT_S) -> None:
    """Wait until `read()` equals `expected` (the LED thread applies a pattern a moment later)."""
    deadline = time.monotonic() + timeout_s
    while (got := read()) != expected:
        assert time.monotonic() < deadline, f"still {got!r}, expected {expected!r}"
        time.sleep(0.002)
