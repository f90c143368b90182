"""Unit conversions at the driver boundary (pure functions)."""

from __future__ import annotations

import pytest

from edge_agent.tools.drivers.scales import (
    hs_to_rgb,
    kelvin_to_mired,
    kelvin_to_rgb,
    level_to_pct,
    mired_to_kelvin,
    pct_to_level,
    rgb_to_xy,
    xy_to_rgb,
)


@pytest.mark.parametrize("top", [254, 255])
def test_percent_round_trips_through_device_levels(top: int) -> None:
    for pct in range(1, 101):
        level = pct_to_level(pct, top)
        assert 1 <= level <= top
        assert level_to_pct(level, top) == pct
    assert (pct_to_level(0, top), pct_to_level(150, top)) == (1, top)
    assert (level_to_pct(0, top), level_to_pct(1, 255)) == (0, 1)


def test_kelvin_mired_with_lamp_clamp() -> None:
    assert (kelvin_to_mired(2700), kelvin_to_mired(6500)) == (370, 154)
    assert (kelvin_to_mired(1000), kelvin_to_mired(20000)) == (500, 153)
    assert (mired_to_kelvin(370), mired_to_kelvin(250)) == (2700, 4000)


def test_colours() -> None:
    for rgb in [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]:
        back = xy_to_rgb(rgb_to_xy(rgb))
        assert max(abs(a - b) for a, b in zip(back, rgb, strict=True)) <= 8, (rgb, back)
    assert rgb_to_xy((0, 0, 0)) == (0.3227, 0.329)
    assert hs_to_rgb(0, 254) == (255, 0, 0)
    warm, cold = kelvin_to_rgb(2700), kelvin_to_rgb(10000)
    assert warm[0] == 255 and warm[2] < warm[1] < 255
    assert cold[2] == 255 and cold[0] < 255
