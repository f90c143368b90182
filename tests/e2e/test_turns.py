"""Spoken turns through the whole daemon: wake word, streaming, tools, reply audio, LEDs, sd_notify."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.config import DeviceConfig
from edge_agent.sim.audio_match import locate
from edge_agent.sim.notify import NotifySink
from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request, trim_silence
from edge_agent.sim.pipeline_rig import played_prefix as longest_prefix
from edge_agent.sim.scenario import Call, Reply, Scenario, Turn, tone
from edge_agent.sim.speech import speak
from edge_agent.system.notify import Notifier

from .conftest import e2e_config, led_states

WEATHER_REPLY = Reply("It is four degrees and cloudy in Toronto.", tone(523, 1000))


def function_outputs(rig: PipelineRig) -> list[dict[str, object]]:
    assert rig.emulator is not None
    items = [e["item"] for e in rig.emulator.events_of("conversation.item.create")]
    return [json.loads(i["output"]) for i in items if i["type"] == "function_call_output"]


def as_samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype=np.int16)


async def test_weather_question_end_to_end(pins: MockFactory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    scenario = Scenario(
        (Turn(calls=(Call("get_weather", {"location": "Toronto"}),), then=WEATHER_REPLY),)
    )
    audio, question_at = spoken_request("what's the weather in Toronto?")
    with NotifySink(tmp_path / "notify") as sink:
        notifier = Notifier({"NOTIFY_SOCKET": sink.path})
        async with PipelineRig(
            e2e_config(), scenario=scenario, pin_factory=pins, notifier=notifier
        ) as rig:
            assert rig.pipeline is not None and rig.emulator is not None
            assert rig.pipeline.listener.capture.frames_received > 0  # READY means it hears
            await rig.say(audio)
            await rig.wait_turns(2)  # the question, then the follow-up window without speech
            heard = rig.heard()
            turns = rig.pipeline.turns.finished
            received = as_samples(bytes(rig.emulator.input_audio))
            mic = rig.mic_input()  # what the mic was fed (a busy rig may add silence to `audio`)
            weather_requests = [r.query for r in rig.fleet.weather.requests]  # type: ignore[union-attr]
        sink.drain()

    # the tool ran against the weather emulator with the location the model asked for
    assert any(q.get("name", "").lower() == "toronto" for q in weather_requests)
    [output] = function_outputs(rig)
    assert output.get("ok") is True and "toronto" in json.dumps(output).lower()
    # the reply audio reached the speaker sample for sample
    start, n = longest_prefix(heard, as_samples(WEATHER_REPLY.pcm))
    assert start >= 0 and n == len(WEATHER_REPLY.pcm) // 2
    # what the emulator received in the first turn is one exact slice of the mic input, from
    # before the question to past its end: nothing lost while the socket connected
    first = received[: turns[0].streamed_samples]
    nz = int(np.flatnonzero(first)[0])
    at, _ = longest_prefix(mic, first[nz:], probe=480)
    offset = at - nz  # index in `mic` of the stream's first sample
    expected = np.zeros(len(first), np.int16)
    lo, hi = max(0, -offset), min(len(first), len(mic) - offset)
    expected[lo:hi] = mic[offset + lo : offset + hi]
    bad = np.flatnonzero(first != expected)
    assert len(bad) == 0, (bad[:5], len(bad), len(first), offset, lo, hi, len(mic))
    spoken = locate(audio[question_at : question_at + 24000], mic)
    assert spoken.quality > 0.95, spoken  # the question's first second, whole, in the mic
    assert offset < spoken.offset and offset + len(first) > spoken.end
    # the turn's record
    assert turns[0].outcome == "completed" and turns[0].wake_score is not None
    assert [t.name for t in turns[0].tools] == ["get_weather"] and turns[0].tools[0].ok
    assert turns[0].latency_ms is not None and turns[0].wake_to_stream_ms is not None
    assert turns[1].trigger == "follow_up" and turns[1].outcome == "no_speech"
    # LEDs and systemd followed the states
    assert led_states(pins)[:5] == ["idle", "listening", "thinking", "speaking", "listening"]
    assert led_states(pins)[-1] == "idle"
    assert sink.lines()[:2] == ["READY=1", "STATUS=idle"]
    statuses = [line for line in sink.lines() if line.startswith("STATUS=")]
    assert statuses[:5] == [
        "STATUS=idle",
        "STATUS=listening",
        "STATUS=thinking",
        "STATUS=speaking",
        "STATUS=listening",
    ]


async def test_turning_off_the_kitchen_light(pins: MockFactory) -> None:
    light = DeviceConfig(
        name="kitchen light", family="tasmota", host="kitchen.lan", kind="light", area="kitchen"
    )
    scenario = Scenario(
        (
            Turn(
                calls=(Call("set_power", {"device": "kitchen light", "state": "off"}),),
                then=Reply("The kitchen light is off.", tone(660, 600)),
            ),
        )
    )
    audio, _ = spoken_request("turn off the kitchen light")
    async with PipelineRig(
        e2e_config(follow_up_s=0.0, devices=(light,)), scenario=scenario, pin_factory=pins
    ) as rig:
        assert rig.fleet is not None
        device = rig.fleet.emulators["kitchen light"]
        device.power[0] = "ON"  # type: ignore[attr-defined]
        await rig.say(audio)
        await rig.wait_turns(1)
    assert device.power[0] == "OFF"  # type: ignore[attr-defined]
    [output] = function_outputs(rig)
    assert output["ok"] is True


@pytest.mark.parametrize(("answer", "opens"), [("yes, do it", True), ("no, leave it", False)])
async def test_sensitive_device_needs_a_spoken_yes(
    pins: MockFactory, answer: str, opens: bool
) -> None:
    garage = DeviceConfig(
        name="garage door", family="shelly_gen1", host="garage.lan", kind="garage", area="garage"
    )
    first = Turn(
        calls=(Call("set_power", {"device": "garage door", "state": "on"}),),
        then=Reply("Do you want me to open the garage door?", tone(440, 500)),
    )
    audio, _ = spoken_request("open the garage door")
    yes = np.concatenate([np.zeros(2400, np.int16), trim_silence(speak(answer))])
    async with PipelineRig(
        e2e_config(follow_up_s=2.0, devices=(garage,)),
        scenario=Scenario((first,)),
        pin_factory=pins,
    ) as rig:
        assert rig.fleet is not None and rig.emulator is not None and rig.pipeline is not None
        relay = rig.fleet.emulators["garage door"].relays[0]  # type: ignore[attr-defined]
        await rig.say(audio)
        await rig.wait_for(lambda: len(function_outputs(rig)) == 1, 20, "the first tool output")
        [asked] = function_outputs(rig)
        assert asked["error"] == "confirmation_required" and relay["ison"] is False
        confirm = Call("confirm_action", {"confirmation_id": asked["confirmation_id"]})
        # the model confirms whatever was said; the device checks the user's own words
        then = Reply("Opening.", tone(880, 400))
        rig.emulator.set_turns([Turn(calls=(confirm,), then=then, user_transcript=answer)])
        # the reply is played, then the follow-up window listens without the wake word
        turns = rig.pipeline.turns
        await rig.wait_for(
            lambda: turns.current is not None and turns.current.trigger == "follow_up",
            20,
            "the follow-up window",
        )
        await rig.say(yes)
        await rig.wait_turns(3)
    outputs = function_outputs(rig)
    assert outputs[1]["ok"] is opens and relay["ison"] is opens
    if not opens:
        assert outputs[1]["error"] == "confirmation_declined"
    # transcription was on for the answer only: switched on with the request, off after it
    updates = [e["session"] for e in rig.emulator.events_of("session.update")]
    switches = [u["audio"]["input"]["transcription"] for u in updates[1:]]
    assert switches[0] is not None and switches[-1] is None
    turns = rig.pipeline.turns.finished
    assert [t.outcome for t in turns[:2]] == ["completed", "completed"]
    assert [t.tools[0].name for t in turns[:2]] == ["set_power", "confirm_action"]


async def test_two_tool_calls_then_one_reply(pins: MockFactory) -> None:
    calls = (
        Call("get_weather", {"location": "London"}),
        Call("get_weather", {"location": "Paris"}),
    )
    reply = Reply("London is cloudy, Paris is raining.", tone(523, 600))
    audio, _ = spoken_request("what's the weather in London and Paris?")
    async with PipelineRig(
        e2e_config(follow_up_s=0.0),
        scenario=Scenario((Turn(calls=calls, then=reply),)),
        pin_factory=pins,
    ) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        await rig.say(audio)
        await rig.wait_turns(1)
        kinds = [e["type"] for e in rig.emulator.client_events if "append" not in e["type"]]
        heard = rig.heard()
    outputs = function_outputs(rig)
    assert sorted(str(o["location"]).split(",")[0] for o in outputs) == ["London", "Paris"]
    assert kinds.count("response.create") == 1  # one reply for both outputs, after them
    assert kinds.index("response.create") > max(
        i for i, k in enumerate(kinds) if k == "conversation.item.create"
    )
    assert rig.emulator.premature_responses == 0
    [turn] = rig.pipeline.turns.finished
    assert [t.name for t in turn.tools] == ["get_weather", "get_weather"]
    assert longest_prefix(heard, as_samples(reply.pcm))[1] == len(reply.pcm) // 2
