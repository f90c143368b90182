"""The model knows the local time: a "Local time: …" system item lands right before the user's
own item of each turn (what the emulator's conversation holds), in the `[home]` time zone, and
the session offers no get_time tool (bench/assistant_context.py: the item is the cheaper way)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory

from edge_agent.assistant.clock import turn_item
from edge_agent.config import HomeConfig
from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request
from edge_agent.sim.scenario import Reply, Scenario, Turn, tone

from .conftest import e2e_config

ZONE = "Asia/Kolkata"  # UTC+05:30: a wrong zone or a UTC time cannot match


async def test_each_user_turn_is_preceded_by_the_local_time(pins: MockFactory) -> None:
    cfg = dataclasses.replace(e2e_config(follow_up_s=0.0), home=HomeConfig(timezone=ZONE))
    ask, _ = spoken_request("what time is it")
    scenario = Scenario((Turn(reply=Reply("It is a quarter past.", tone(440, 500))),))
    async with PipelineRig(cfg, scenario=scenario, pin_factory=pins) as rig:
        assert rig.emulator is not None
        before = dt.datetime.now(dt.UTC).timestamp()
        await rig.say(ask)
        await rig.wait_turns(1)
        after = dt.datetime.now(dt.UTC).timestamp()
        added = [e for e in rig.emulator.server_events if e["type"] == "conversation.item.added"]
        [update, *_] = [e for e in rig.emulator.client_events if e["type"] == "session.update"]
    items = [e["item"] for e in added]
    [note] = [i for i in items if i.get("role") == "system"]
    [user] = [(i, e) for i, e in zip(items, added, strict=True) if i.get("role") == "user"]
    text = note["content"][0]["text"]
    zone = ZoneInfo(ZONE)
    assert text in {turn_item(t, zone, "en") for t in (before, after)}, text
    assert user[1]["previous_item_id"] == note["id"]  # just before the user's words
    tools = [t["name"] for t in update["session"]["tools"]]
    assert "get_time" not in tools and "set_timer" in tools
    assert (
        "The current local time is given before each user turn."
        in update["session"]["instructions"]
    )
