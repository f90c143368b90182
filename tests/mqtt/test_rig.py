"""The whole daemon on the PulseAudio rig with [mqtt] against a real mosquitto: the mute switch
closes the real mic, a notify message is spoken (the Realtime emulator is asked to say exactly
that text and its audio reaches the speaker), the start button opens a turn, garbage is never
spoken, and a broker restart mid-run is survived."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import numpy as np
from gpiozero.pins.mock import MockFactory

from edge_agent.config import Config, MqttConfig, Secret
from edge_agent.sim.pipeline_rig import PipelineRig, played_prefix
from edge_agent.sim.scenario import Reply, Scenario, Turn, tone
from edge_agent.states import State
from tests.e2e.conftest import e2e_config

from .conftest import Broker
from .garbage import flood

NOTICE = "The washing machine is done."
SPOKEN = Reply(NOTICE, tone(700, 900))


def rig_config(broker: Broker, follow_up_s: float = 0.0) -> Config:
    m = MqttConfig(
        enabled=True,
        host=broker.host,
        port=broker.port,
        username=broker.user,
        password_file=str(broker.password_file),
        client_id="rig-speaker",
        password=Secret(broker.password),
    )
    return dataclasses.replace(e2e_config(follow_up_s=follow_up_s), mqtt=m)


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype=np.int16)


async def connected(rig: PipelineRig):  # type: ignore[no-untyped-def]
    assert rig.pipeline is not None and rig.pipeline.mqtt is not None
    bridge = rig.pipeline.mqtt
    await asyncio.wait_for(bridge.connected.wait(), 15)
    return bridge


async def test_mute_switch_closes_the_mic(broker: Broker, pins: MockFactory) -> None:
    async with PipelineRig(rig_config(broker), pin_factory=pins) as rig:
        bridge = await connected(rig)
        assert rig.pipeline is not None
        app, capture = rig.pipeline.app, rig.pipeline.listener.capture
        await rig.wait_for(lambda: capture.frames_received > 10, 5, "mic frames")
        await broker.publish(bridge.topics.mute_set, "ON")
        await rig.wait_for(lambda: capture.is_muted and capture._stream is None, 5, "mic closed")
        frames = capture.frames_received
        await asyncio.sleep(0.4)
        assert capture.frames_received <= frames + 1 and app.state is State.MUTED
        held = await broker.retained(bridge.topics.state)
        assert json.loads(held[bridge.topics.state])["muted"] == "ON"
        await broker.publish(bridge.topics.mute_set, "OFF")
        await rig.wait_for(lambda: capture.frames_received > frames + 5, 5, "mic frames again")
        assert app.state is State.IDLE
    assert rig.states == ["idle", "muted", "idle"]


async def test_a_notify_message_is_spoken_and_opens_no_mic(
    broker: Broker, pins: MockFactory
) -> None:
    cfg = rig_config(broker, follow_up_s=2.0)  # a follow-up window the announcement must not open
    scenario = Scenario((Turn(reply=SPOKEN),))
    async with PipelineRig(cfg, scenario=scenario, pin_factory=pins) as rig:
        bridge = await connected(rig)
        assert rig.pipeline is not None and rig.emulator is not None
        await broker.publish(bridge.topics.notify, NOTICE)
        await rig.wait_for(
            lambda: played_prefix(rig.heard(), samples(SPOKEN.pcm))[1] == len(SPOKEN.pcm) // 2,
            15,
            "the announcement on the speaker",
        )
        await rig.wait_turns(1)
        [turn] = rig.pipeline.turns.finished
        requests = rig.emulator.events_of("response.create")
        appended = rig.emulator.events_of("input_audio_buffer.append")
        assert rig.pipeline.app.state is State.IDLE
    assert (turn.trigger, turn.outcome) == ("announcement", "completed")
    [say] = requests
    assert say["response"]["tool_choice"] == "none"
    assert json.dumps(NOTICE) in say["response"]["instructions"]  # word for word, quoted
    assert "Say exactly" in say["response"]["instructions"]
    assert appended == []  # no mic audio left the device
    assert "listening" not in rig.states


async def test_start_conversation_is_the_talk_button(broker: Broker, pins: MockFactory) -> None:
    async with PipelineRig(rig_config(broker), pin_factory=pins) as rig:
        bridge = await connected(rig)
        assert rig.pipeline is not None
        await broker.publish(bridge.topics.conversation_press, "PRESS")
        await rig.wait_for(lambda: rig.pipeline.app.state is State.LISTENING, 5, "listening")
        await rig.wait_turns(1, timeout_s=15)  # nobody speaks: the no-speech timeout ends it
        [turn] = rig.pipeline.turns.finished
    assert (turn.trigger, turn.outcome) == ("talk", "no_speech")


async def test_garbage_is_never_spoken(broker: Broker, pins: MockFactory) -> None:
    async with PipelineRig(rig_config(broker), pin_factory=pins) as rig:
        bridge = await connected(rig)
        assert rig.pipeline is not None and rig.emulator is not None
        await flood(broker, bridge, 1000)
        assert bridge.rejected == 1000
        await asyncio.sleep(1.0)
        heard = rig.heard()
        assert rig.pipeline.app.state is State.IDLE and not rig.app_task.done()
        assert bridge.commands_done == 0
        assert rig.emulator.events_of("response.create") == []
        assert int(np.abs(heard.astype(np.int32)).max(initial=0)) == 0  # not even an earcon
        assert rig.states == ["idle"]
        assert rig.pipeline.app.is_healthy()


async def test_broker_restart_mid_run(broker: Broker, pins: MockFactory) -> None:
    scenario = Scenario((Turn(reply=SPOKEN),))
    async with PipelineRig(rig_config(broker), scenario=scenario, pin_factory=pins) as rig:
        bridge = await connected(rig)
        assert rig.pipeline is not None
        await broker.publish(bridge.topics.mute_set, "ON")
        await rig.wait_for(lambda: rig.pipeline.app.state is State.MUTED, 5, "muted")
        await asyncio.to_thread(broker.stop)
        await rig.wait_for(lambda: not bridge.connected.is_set(), 10, "the loss noticed")
        await asyncio.sleep(1.0)
        assert rig.pipeline.app.is_healthy()  # the daemon runs on without its broker
        await asyncio.to_thread(broker.start)
        await rig.wait_for(lambda: bridge.connects == 2, 20, "the reconnect")
        held = await broker.retained("#")
        assert held[bridge.topics.availability] == b"online"
        assert json.loads(held[bridge.topics.state])["state"] == "muted"
        assert set(bridge.configs) <= set(held)
        await broker.publish(bridge.topics.mute_set, "OFF")
        await rig.wait_for(lambda: rig.pipeline.app.state is State.IDLE, 5, "unmuted")
        await broker.publish(bridge.topics.notify, NOTICE)  # and it speaks again
        await rig.wait_for(
            lambda: played_prefix(rig.heard(), samples(SPOKEN.pcm))[1] == len(SPOKEN.pcm) // 2,
            15,
            "the announcement after the restart",
        )


async def test_an_announcement_waits_behind_a_turn(broker: Broker, pins: MockFactory) -> None:
    scenario = Scenario((Turn(reply=SPOKEN),))
    async with PipelineRig(rig_config(broker), scenario=scenario, pin_factory=pins) as rig:
        bridge = await connected(rig)
        assert rig.pipeline is not None and rig.emulator is not None
        await broker.publish(bridge.topics.conversation_press, "PRESS")
        await rig.wait_for(lambda: rig.pipeline.app.state is State.LISTENING, 5, "listening")
        await broker.publish(bridge.topics.notify, NOTICE)  # while the user's turn is open
        await rig.wait_for(lambda: bridge.commands_done == 2, 5, "the notify read")
        assert rig.emulator.events_of("response.create") == []  # not yet: the turn goes first
        await rig.wait_turns(2, timeout_s=20)
        turns = [(t.trigger, t.outcome) for t in rig.pipeline.turns.finished]
        heard = rig.heard()
    assert turns == [("talk", "no_speech"), ("announcement", "completed")]
    assert played_prefix(heard, samples(SPOKEN.pcm))[1] == len(SPOKEN.pcm) // 2


async def test_offline_an_announcement_is_an_earcon_alone(
    broker: Broker, pins: MockFactory
) -> None:
    from edge_agent.audio.earcons import earcon

    cfg = rig_config(broker)
    async with PipelineRig(cfg, pin_factory=pins) as rig:
        bridge = await connected(rig)
        assert rig.pipeline is not None and rig.emulator is not None
        await rig.emulator.stop()  # the Realtime service is unreachable from now on
        await broker.publish(bridge.topics.notify, NOTICE)
        error = earcon("error", cfg.earcons)
        assert error is not None
        await rig.wait_for(
            lambda: played_prefix(rig.heard(), error)[1] == len(error), 20, "the error earcon"
        )
        assert not rig.app_task.done()
        [turn] = rig.pipeline.turns.finished
    assert (turn.trigger, turn.outcome) == ("announcement", "error")


async def test_sensors_after_a_spoken_turn(broker: Broker, pins: MockFactory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real turn (wake word, a question, the timer tool): the latency, today's cost and the
    running timers reach the retained state document."""
    from edge_agent.config import DaemonConfig
    from edge_agent.sim.pipeline_rig import spoken_request
    from edge_agent.sim.scenario import Call

    scenario = Scenario(
        (
            Turn(
                calls=(Call("set_timer", {"duration": 600, "label": "pasta"}),),
                then=Reply("Timer set.", tone(440, 300)),
            ),
        )
    )
    cfg = dataclasses.replace(
        rig_config(broker),
        daemon=DaemonConfig(state_dir=str(tmp_path / "state"), cache_dir=str(tmp_path / "cache")),
    )
    ask, _ = spoken_request("set a timer for ten minutes for the pasta")
    async with PipelineRig(cfg, scenario=scenario, pin_factory=pins) as rig:
        bridge = await connected(rig)
        assert rig.pipeline is not None
        await rig.say(ask)
        await rig.wait_turns(1)
        [turn] = rig.pipeline.turns.finished
        await rig.wait_for(
            lambda: bool(bridge.values.timers) and (bridge.values.cost_today_usd or 0) > 0,
            10,
            "the cost and the timer published",
        )
        await asyncio.sleep(0.3)
        held = await broker.retained(bridge.topics.state)
    doc = json.loads(held[bridge.topics.state])
    assert turn.latency_ms is not None and doc["latency_ms"] == turn.latency_ms
    assert doc["cost_today_usd"] > 0
    assert doc["timers"] == 1 and doc["timer_list"][0]["label"] == "pasta"
    assert doc["timer_list"][0]["kind"] == "timer"
