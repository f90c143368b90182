"""Pure cores: device name resolution and confirmations (no I/O, time as an argument)."""

from __future__ import annotations

import pytest

from edge_agent.config import DeviceConfig
from edge_agent.tools.confirm import Confirmations, PendingAction
from edge_agent.tools.directory import DeviceDirectory, normalise
from edge_agent.tools.registry import ToolFailure


def dev(name: str, area: str = "", *aliases: str) -> DeviceConfig:
    return DeviceConfig(name=name, family="tasmota", host="h", area=area, aliases=aliases)


DIRECTORY = DeviceDirectory(
    [
        dev("Kitchen light", "Kitchen", "ceiling light"),
        dev("Kitchen plug", "Kitchen"),
        dev("Bedroom lamp", "Bedroom"),
        dev("Reading lamp", "Bedroom"),
        dev("TV", "Living room"),
    ]
)


def test_normalise() -> None:
    assert normalise("  The Kitchen-Light! ") == "kitchen light"


@pytest.mark.parametrize(
    ("said", "area", "found"),
    [
        ("kitchen light", None, "Kitchen light"),
        ("CEILING LIGHT", None, "Kitchen light"),
        ("the tv", None, "TV"),
        ("kitchen lite", None, "Kitchen light"),
        ("reading", None, "Reading lamp"),
        ("lamp", "bedroom", None),  # two lamps in the bedroom
        ("plug", None, "Kitchen plug"),
        ("light", "kitchen", "Kitchen light"),
    ],
)
def test_find(said: str, area: str | None, found: str | None) -> None:
    if found is None:
        with pytest.raises(ToolFailure) as err:
            DIRECTORY.find(said, area=area)
        assert err.value.code == "ambiguous"
        assert err.value.extra == {"candidates": ["Bedroom lamp", "Reading lamp"]}
    else:
        assert DIRECTORY.find(said, area=area).name == found


@pytest.mark.parametrize("said", ["garage", "http://10.0.0.2/cm?cmnd=Power", "../..", ""])
def test_not_found(said: str) -> None:
    with pytest.raises(ToolFailure) as err:
        DIRECTORY.find(said)
    assert err.value.code == "not_found"


def test_areas() -> None:
    assert [d.name for d in DIRECTORY.in_area("living  ROOM")] == ["TV"]
    assert DIRECTORY.area_name("bedrom") == "Bedroom"
    with pytest.raises(ToolFailure) as err:
        DIRECTORY.in_area("attic")
    assert err.value.detail == "no area called 'attic'; areas: Bedroom, Kitchen, Living room"


def tokens():
    n = iter(range(100))
    return lambda: f"c-{next(n):08x}"


def test_confirmation_lifecycle() -> None:
    c = Confirmations(30.0, token=tokens())
    ident = c.request("Garage", "set_power", {"device": "garage", "state": "on"}, now=100.0)
    assert ident == "c-00000000"
    with pytest.raises(ToolFailure) as err:
        c.redeem(ident, now=101.0)
    assert err.value.code == "confirmation_needs_user"
    c.new_user_turn()
    c.user_transcript("Yes!")
    assert c.redeem(ident, now=110.0) == PendingAction(
        "Garage", "set_power", (("device", "garage"), ("state", "on")), 100.0, 0, approved=True
    )
    with pytest.raises(ToolFailure) as err:
        c.redeem(ident, now=111.0)
    assert err.value.code == "invalid_confirmation"


def test_a_turn_before_the_request_does_not_count() -> None:
    c = Confirmations(30.0, token=tokens())
    c.new_user_turn()
    ident = c.request("Garage", "set_power", {"state": "on"}, now=0.0)
    with pytest.raises(ToolFailure):
        c.redeem(ident, now=1.0)


def test_confirmation_expires() -> None:
    c = Confirmations(30.0, token=tokens())
    ident = c.request("Garage", "set_power", {"state": "on"}, now=0.0)
    c.new_user_turn()
    with pytest.raises(ToolFailure) as err:
        c.redeem(ident, now=30.5)
    assert err.value.code == "invalid_confirmation"
