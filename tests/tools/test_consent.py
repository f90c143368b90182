"""Consent is the user's spoken yes, checked on the device (issue 14 §3), through the registry:
the daemon reports user turns and their transcripts; the model only calls confirm_action."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.sim.devices.fleet import DeviceFleet
from edge_agent.tools.confirm import is_affirmative
from edge_agent.tools.home import build_registry

from .rig import Clock, home_config


class House:
    def __init__(self, fleet: DeviceFleet, http: Any) -> None:
        self.fleet = fleet
        self.clock = Clock()
        self.reg = build_registry(fleet.config, http, clock=self.clock, answer_wait_s=0.05)

    async def call(self, name: str, **args: Any) -> dict[str, Any]:
        return json.loads(await self.reg.call(name, json.dumps(args)))

    async def ask(self) -> str:
        first = await self.call("set_power", device="garage door", state="on")
        assert first["error"] == "confirmation_required"
        return first["confirmation_id"]

    def garage_writes(self) -> list[Any]:
        return [r for r in self.fleet.emulators["Garage door"].requests if "turn" in r.query]


@pytest.fixture
async def house(tmp_path: Path, http) -> AsyncIterator[House]:
    with DeviceFleet(home_config(tmp_path)) as fleet:
        h = House(fleet, http)
        yield h
        await h.reg.aclose()


async def test_yes_in_the_next_turn_confirms(house: House) -> None:
    assert house.reg.wants_user_transcript() is False
    cid = await house.ask()
    assert house.reg.wants_user_transcript() is True  # transcription on for the next turn
    house.reg.new_user_turn()
    house.reg.user_transcript("Yes, please.")
    assert house.reg.wants_user_transcript() is False  # answered: transcription off again
    done = await house.call("confirm_action", confirmation_id=cid)
    assert done["ok"] is True and [r.query["turn"] for r in house.garage_writes()] == ["on"]


@pytest.mark.parametrize(
    "heard",
    ["No.", "no, don't", "", "   ", "Yes, and unlock the back door too", "yes no",
     "The weather in Toronto is sunny", "yes " * 20],
)  # fmt: skip
async def test_anything_but_a_plain_yes_cancels(house: House, heard: str) -> None:
    cid = await house.ask()
    house.reg.new_user_turn()
    house.reg.user_transcript(heard)
    assert house.reg.wants_user_transcript() is False
    result = await house.call("confirm_action", confirmation_id=cid)
    assert result["error"] == "confirmation_declined" and house.garage_writes() == []
    again = await house.call("confirm_action", confirmation_id=cid)  # and it stays cancelled
    assert again["error"] == "confirmation_declined" and house.garage_writes() == []


async def test_speech_before_the_request_or_the_model_alone_does_not_count(house: House) -> None:
    cid = await house.ask()
    house.reg.user_transcript("yes")  # no new user turn yet: e.g. the model's own audio
    early = await house.call("confirm_action", confirmation_id=cid)
    assert early["error"] == "confirmation_needs_user" and house.garage_writes() == []


async def test_only_the_first_user_turn_answers(house: House) -> None:
    cid = await house.ask()
    house.reg.new_user_turn()  # the TV, transcript never delivered
    house.reg.new_user_turn()  # a second turn
    house.reg.user_transcript("yes")
    result = await house.call("confirm_action", confirmation_id=cid)
    assert result["error"] == "confirmation_declined" and house.garage_writes() == []


async def test_silence_cancels(house: House) -> None:
    """The user turn's transcript never arrives: after a short wait it is not a yes."""
    cid = await house.ask()
    house.reg.new_user_turn()
    result = await house.call("confirm_action", confirmation_id=cid)
    assert result["error"] == "confirmation_declined" and house.garage_writes() == []
    house.reg.user_transcript("yes")  # too late
    assert (await house.call("confirm_action", confirmation_id=cid))["ok"] is False


async def test_a_transcript_arriving_after_the_call_is_awaited(house: House) -> None:
    cid = await house.ask()
    house.reg.new_user_turn()
    pending = asyncio.create_task(house.call("confirm_action", confirmation_id=cid))
    await asyncio.sleep(0.01)
    house.reg.user_transcript("okay")
    done = await pending
    assert done["ok"] is True and len(house.garage_writes()) == 1


async def test_a_yes_expires_with_the_id(house: House) -> None:
    cid = await house.ask()
    house.reg.new_user_turn()
    house.reg.user_transcript("yes")
    house.clock.now += 31
    result = await house.call("confirm_action", confirmation_id=cid)
    assert result["error"] == "invalid_confirmation" and house.garage_writes() == []


@pytest.mark.parametrize(
    ("text", "yes"),
    [("Yes.", True), ("YES!", True), ("yes please", True), ("Okay, thanks", True),
     ("Ja, bitte", True), ("Oui merci", True), ("sí", True), ("go ahead", True),
     ("no", False), ("yes, no", False), ("yesterday", False), ("please", False),
     ("not yes", False), ("", False), ("yes, do it", True), ("yes, go ahead please", True),
     ("yes, and also unlock the door", False)],
)  # fmt: skip
def test_is_affirmative(text: str, yes: bool) -> None:
    from edge_agent.config import ToolsConfig

    assert is_affirmative(text, ToolsConfig().confirm_words) is yes
