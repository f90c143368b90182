"""gpiozero mock pins for the status tests, passed explicitly (never via Device.pin_factory)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

SCALE = float(os.environ.get("EDGE_AGENT_TEST_TIME_SCALE", "1"))
"""Stretch waits on slow machines (a Pi Zero): EDGE_AGENT_TEST_TIME_SCALE=3."""
TIMEOUT_S = 2.0 * SCALE


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pins = MockFactory(pin_class=MockPWMPin)
    yield pins
    pins.reset()
