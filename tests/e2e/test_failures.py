"""Interruptions and failures through the whole daemon: barge-in, drops, fatal auth, SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import numpy as np
from gpiozero.pins.mock import MockFactory

from edge_agent.sim.pipeline_rig import PipelineRig, spoken_request, trim_silence
from edge_agent.sim.pipeline_rig import played_prefix as longest_prefix
from edge_agent.sim.scenario import Reply, Scenario, Turn, tone
from edge_agent.sim.speech import speak
from edge_agent.states import State

from .conftest import e2e_config, led_states

LONG_REPLY = Reply("Once upon a time...", tone(300, 6000))
SHORT_REPLY = Reply("It is a quarter past four.", tone(700, 700))


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype=np.int16)


async def test_wake_word_barges_in_during_a_long_reply(pins: MockFactory) -> None:
    scenario = Scenario((Turn(reply=LONG_REPLY), Turn(reply=SHORT_REPLY)))
    question, _ = spoken_request("tell me a long story", tail_s=0.3)
    # the barge-in's own question: streamed from the wake word's end, never its tail
    wake_again, _ = spoken_request("what time is it", lead_s=0.0, tail_s=0.8)
    async with PipelineRig(
        e2e_config(follow_up_s=0.0), scenario=scenario, pin_factory=pins, emulator_pace=0.5
    ) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        playback = rig.pipeline.speaker.playback
        await rig.say(question)
        await rig.wait_for(lambda: rig.pipeline.app.state is State.SPEAKING, 20, "the reply")
        await rig.wait_for(lambda: playback.played_samples > 24000 * 1.5, 20, "1.5 s played")
        await rig.say(wake_again)
        await rig.wait_for(lambda: bool(rig.emulator.truncations), 20, "a truncate")
        stopped_at = playback.played_samples
        await rig.wait_turns(2)
        await asyncio.sleep(0.3)
        heard = rig.heard()
        truncates = rig.emulator.events_of("conversation.item.truncate")
        cancels = rig.emulator.events_of("response.cancel")
        kinds = [e["type"] for e in rig.emulator.client_events]
        turns = rig.pipeline.turns.finished
    [(_, end_ms, item_ms)] = rig.emulator.truncations
    assert len(truncates) == 1 and truncates[0]["audio_end_ms"] == end_ms
    assert len(cancels) == 1  # paced delivery: the response was still active
    truncate_at = kinds.index("conversation.item.truncate")
    # truncate at what was heard, cancel the rest, and (a local barge-in) clear the input
    assert kinds[truncate_at + 1 : truncate_at + 3] == [
        "response.cancel",
        "input_audio_buffer.clear",
    ]
    # what was played of the long reply is exactly what the truncate says was heard
    start, played = longest_prefix(heard, samples(LONG_REPLY.pcm))
    assert start >= 0 and 1500 <= played // 24 < LONG_REPLY.duration_ms
    # never more than reached the speaker, and within a few periods of it
    assert end_ms <= played // 24 and played // 24 - end_ms <= 60
    assert end_ms <= item_ms
    assert playback.played_samples - stopped_at < 24000  # no more of the long reply after it
    assert [t.outcome for t in turns[:2]] == ["barge_in", "completed"]
    assert turns[1].trigger == "wake"
    assert longest_prefix(heard, samples(SHORT_REPLY.pcm))[1] == len(SHORT_REPLY.pcm) // 2
    assert "speaking" in led_states(pins)


async def test_dropped_connection_mid_reply_then_the_next_wake_works(pins: MockFactory) -> None:
    scenario = Scenario((Turn(reply=LONG_REPLY), Turn(reply=SHORT_REPLY)))
    first, _ = spoken_request("tell me a long story")
    second, _ = spoken_request("what time is it")
    async with PipelineRig(
        e2e_config(follow_up_s=0.0), scenario=scenario, pin_factory=pins, emulator_pace=0.5
    ) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        rig.emulator.faults.drop_after_deltas = 8
        await rig.say(first)
        await rig.wait_for(lambda: rig.pipeline.app.state is State.ERROR, 20, "the error state")
        assert "error" in led_states(pins)
        await rig.say(second)
        await rig.wait_turns(2)
        await asyncio.sleep(0.3)
        heard = rig.heard()
        turns = rig.pipeline.turns.finished
        handshakes = list(rig.emulator.handshakes)
    assert [t.outcome for t in turns[:2]] == ["error", "completed"]
    assert handshakes == [101, 101]  # no reconnect loop while idle: one per wake
    assert longest_prefix(heard, samples(SHORT_REPLY.pcm))[1] == len(SHORT_REPLY.pcm) // 2
    assert led_states(pins)[-1] == "idle"


async def test_speech_without_the_wake_word_sends_nothing(pins: MockFactory) -> None:
    talk = np.concatenate(
        [
            trim_silence(speak("what's the weather in Toronto?")),
            np.zeros(4800, np.int16),
            trim_silence(speak("hey travis, turn off the light")),
            np.zeros(12000, np.int16),
        ]
    )
    async with PipelineRig(e2e_config(), pin_factory=pins) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        await rig.say(talk)
        await asyncio.sleep(0.3)
        assert rig.pipeline.listener.detections == 0
        assert rig.emulator.handshakes == [] and rig.emulator.input_audio == b""
        assert rig.states == ["idle"]


async def test_rejected_key_exits_78(pins: MockFactory) -> None:
    audio, _ = spoken_request("what time is it")
    async with PipelineRig(e2e_config(), pin_factory=pins) as rig:
        assert rig.emulator is not None
        rig.emulator.faults.handshake_status = 401
        await rig.say(audio)
        code = await asyncio.wait_for(asyncio.shield(rig.app_task), 20)
    assert code == 78
    assert any("refused" in e.text for e in rig.timeline.entries)


async def test_sigterm_during_a_reply_stops_within_two_seconds(pins: MockFactory) -> None:
    audio, _ = spoken_request("tell me a long story")
    scenario = Scenario((Turn(reply=LONG_REPLY),))
    async with PipelineRig(
        e2e_config(), scenario=scenario, pin_factory=pins, emulator_pace=0.5
    ) as rig:
        assert rig.pipeline is not None
        await rig.say(audio)
        await rig.wait_for(lambda: rig.pipeline.app.state is State.SPEAKING, 20, "the reply")
        await asyncio.sleep(0.5)
        asked = time.monotonic()
        code = await rig.stop_app(timeout_s=5)
        took_s = time.monotonic() - asked
    assert code == 0 and took_s < 2.0


async def test_full_duplex_barges_in_on_server_speech(pins: MockFactory) -> None:
    cfg = dataclasses.replace(
        e2e_config(follow_up_s=0.0),
        audio=dataclasses.replace(e2e_config().audio, duplex="full"),
    )
    scenario = Scenario((Turn(reply=LONG_REPLY), Turn(reply=SHORT_REPLY)))
    question, _ = spoken_request("tell me a long story", tail_s=0.3)
    interruption = np.concatenate(
        [trim_silence(speak("stop, what time is it")), np.zeros(12000, np.int16)]
    )
    async with PipelineRig(cfg, scenario=scenario, pin_factory=pins, emulator_pace=0.5) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        playback = rig.pipeline.speaker.playback
        await rig.say(question)
        await rig.wait_for(lambda: playback.played_samples > 24000 * 1.5, 20, "1.5 s played")
        sent_before = len(rig.emulator.client_events)
        await rig.say(interruption)  # no wake word: the server's VAD hears it (full duplex)
        await rig.wait_turns(2)
        later = [e["type"] for e in rig.emulator.client_events[sent_before:]]
        turns = rig.pipeline.turns.finished
        heard = rig.heard()
    [(_, end_ms, _)] = rig.emulator.truncations
    assert 1200 <= end_ms < LONG_REPLY.duration_ms  # 1.5 s played, the wake earcon included
    # the interrupting question is kept: the core cancels the reply itself (the session has
    # interrupt_response off, so the echo guard can decide) and, unlike a local barge-in (see
    # the half-duplex test), never clears the input: the appends go on
    truncate_at = later.index("conversation.item.truncate")
    assert later[truncate_at + 1 : truncate_at + 3] == [
        "response.cancel",
        "input_audio_buffer.append",
    ]
    assert set(later[truncate_at + 2 : truncate_at + 12]) == {"input_audio_buffer.append"}
    update = rig.emulator.events_of("session.update")[0]["session"]
    assert update["audio"]["input"]["turn_detection"]["interrupt_response"] is False
    assert [t.outcome for t in turns[:2]] == ["barge_in", "completed"]
    assert turns[1].trigger == "barge_in"
    assert longest_prefix(heard, samples(SHORT_REPLY.pcm))[1] == len(SHORT_REPLY.pcm) // 2


async def test_network_down_at_wake_is_an_error_and_the_next_wake_retries(
    pins: MockFactory,
) -> None:
    audio, _ = spoken_request("what time is it")
    async with PipelineRig(
        e2e_config(follow_up_s=0.0),
        scenario=Scenario((Turn(reply=SHORT_REPLY),)),
        pin_factory=pins,
        client_options={"backoff_initial_s": 0.1},
    ) as rig:
        assert rig.pipeline is not None and rig.emulator is not None
        rig.emulator.faults.handshake_status = 503  # the service (or the network) is down
        await rig.say(audio)
        await rig.wait_for(lambda: rig.pipeline.app.state is State.ERROR, 20, "the error state")
        await asyncio.sleep(1.0)
        attempts = len(rig.emulator.handshakes)
        await asyncio.sleep(1.0)
        assert len(rig.emulator.handshakes) == attempts  # no retry loop until the next wake
        rig.emulator.faults.handshake_status = None  # back up
        await rig.say(audio)
        await rig.wait_turns(2)
        await asyncio.sleep(0.3)
        heard = rig.heard()
        turns = rig.pipeline.turns.finished
    assert [t.outcome for t in turns[:2]] == ["error", "completed"]
    assert longest_prefix(heard, samples(SHORT_REPLY.pcm))[1] == len(SHORT_REPLY.pcm) // 2
    assert "error" in led_states(pins)
