"""Rigs for the audio tests: the ALSA file-backed devices and the paced PulseAudio devices."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from edge_agent.sim.alsa import AlsaFileRig
from edge_agent.sim.pulse_rig import PulseRig


@pytest.fixture
def alsa_rig() -> Iterator[AlsaFileRig]:
    with AlsaFileRig() as rig, rig.activate():
        yield rig


@pytest.fixture
def pulse_rig() -> Iterator[PulseRig]:
    with PulseRig() as rig, rig.activate():
        yield rig


def noise(n: int, seed: int = 0) -> np.ndarray:
    """Random int16 samples with no zero, so silence (padding, priming) never matches them."""
    rng = np.random.default_rng(seed)
    mag = rng.integers(1, 30000, n, dtype=np.int16)
    return (mag * rng.choice(np.array([-1, 1], dtype=np.int16), n)).astype(np.int16)
