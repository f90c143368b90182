"""The emulator's VAD follows the session's turn_detection, and each committed user item holds
exactly the samples the service would commit (checked over a real WebSocket)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.sim.audio_match import locate
from edge_agent.sim.realtime_input import CommittedItem
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.realtime_vad import VadSettings, rms_threshold, vad_settings
from edge_agent.sim.scenario import tone
from tests.realtime.conftest import (
    append,
    raw_ws,
    recv_until,
    send_event,
    silence,
    speech,
    sync,
    update,
)

S = 24  # samples per ms


def _kinds(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def _vad(**td: object) -> dict:
    return {"input": {"turn_detection": td}}


async def test_server_vad_commits_prefix_padding_to_speech_end_plus_silence(emulator):
    td = {"type": "server_vad", "prefix_padding_ms": 200, "silence_duration_ms": 300}
    pcm = silence(500) + speech(400) + silence(500)
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        await update(ws, audio=_vad(**td, create_response=False))
        await append(ws, pcm)
        seen = await sync(ws)
        started = next(e for e in seen if e["type"] == "input_audio_buffer.speech_started")
        stopped = next(e for e in seen if e["type"] == "input_audio_buffer.speech_stopped")
        assert (started["audio_start_ms"], stopped["audio_end_ms"]) == (300, 1200)
        assert "response.created" not in _kinds(seen)
        # the 200 ms after the commit stay in the buffer; a manual commit takes them
        await send_event(ws, "input_audio_buffer.commit")
        await recv_until(ws, "conversation.item.done")
    item_id = started["item_id"]
    assert emulator.committed[0] == CommittedItem(
        item_id, 300 * S, 1200 * S, pcm[300 * 48 : 1200 * 48], 0, "vad"
    )
    rest = emulator.committed[1]
    assert (rest.start_sample, rest.end_sample, rest.trigger) == (1200 * S, 1400 * S, "manual")
    assert rest.pcm == pcm[1200 * 48 :]


async def test_two_turns_in_one_stream_never_share_samples(emulator):
    td = {"type": "server_vad", "prefix_padding_ms": 200, "silence_duration_ms": 300}
    pcm = silence(100) + speech(300) + silence(300) + speech(300) + silence(500)
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        await update(ws, audio=_vad(**td, create_response=False))
        await append(ws, pcm)
        await sync(ws)
    ranges = [(c.start_sample // S, c.end_sample // S) for c in emulator.committed]
    assert ranges == [(0, 700), (700, 1300)]  # the 2nd prefix is cut at the 1st item's end


async def test_clear_discards_audio_the_prefix_would_reach(emulator):
    td = {"type": "server_vad", "prefix_padding_ms": 300, "silence_duration_ms": 200}
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        await update(ws, audio=_vad(**td, create_response=False))
        await append(ws, silence(400))
        await send_event(ws, "input_audio_buffer.clear")
        await append(ws, silence(100) + speech(200) + silence(200))
        seen = await sync(ws)
    started = next(e for e in seen if e["type"] == "input_audio_buffer.speech_started")
    assert started["audio_start_ms"] == 400  # not 200: the cleared audio is gone
    [item] = emulator.committed
    assert (item.start_sample, item.end_sample) == (400 * S, 900 * S)


@pytest.mark.parametrize(("threshold", "heard"), [(0.5, True), (0.9, False)])
async def test_threshold_is_a_loudness_level(emulator, threshold, heard):
    quiet = tone(200, 400, amplitude=0.04)  # RMS 0.028 FS: above 0.5's 0.02, below 0.9's 0.036
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        td = {"type": "server_vad", "threshold": threshold, "create_response": False}
        await update(ws, audio=_vad(**td))
        await append(ws, silence(100) + quiet + silence(600))
        seen = await sync(ws)
    assert ("input_audio_buffer.speech_started" in _kinds(seen)) is heard
    assert len(emulator.committed) == int(heard)


def test_threshold_mapping_literals():
    assert rms_threshold(0.5) == pytest.approx(0.02 * 32767)
    assert rms_threshold(0.9) == pytest.approx(0.036 * 32767)
    assert rms_threshold(0.0) == pytest.approx(0.0004 * 32767)  # floor 0.01


def test_settings_from_turn_detection():
    assert vad_settings(None) is None
    assert vad_settings({"type": "server_vad"}) == VadSettings("server_vad")
    low = vad_settings({"type": "semantic_vad", "eagerness": "low", "create_response": False})
    assert low == VadSettings("semantic_vad", silence_duration_ms=8000, create_response=False)
    waits = [
        vad_settings({"type": "semantic_vad", "eagerness": e}).silence_duration_ms  # type: ignore[union-attr]
        for e in ("low", "medium", "high", "auto")
    ]
    assert waits == [8000, 4000, 2000, 4000]
    assert vad_settings({"type": "server_vad", "idle_timeout_ms": 5000}).idle_timeout_ms == 5000  # type: ignore[union-attr]


async def test_semantic_vad_waits_the_eagerness_maximum(emulator):
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        td = {"type": "semantic_vad", "eagerness": "high", "create_response": False}
        updated = await update(ws, audio=_vad(**td))
        assert updated["session"]["audio"]["input"]["turn_detection"] == td  # replaced, not merged
        await append(ws, silence(100) + speech(300) + silence(1980))
        assert "input_audio_buffer.speech_stopped" not in _kinds(await sync(ws))
        await append(ws, silence(20))
        seen = await sync(ws)
    [stopped] = [e for e in seen if e["type"] == "input_audio_buffer.speech_stopped"]
    assert stopped["audio_end_ms"] == 400 + 2000
    [item] = emulator.committed
    assert (item.start_sample, item.end_sample) == (0, 2400 * S)  # 300 ms prefix from 100 ms


async def test_turn_detection_null_means_manual_commit_only(emulator):
    pcm = silence(100) + speech(300) + silence(800)
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        updated = await update(ws, audio={"input": {"turn_detection": None}})
        assert updated["session"]["audio"]["input"]["turn_detection"] is None
        await append(ws, pcm)
        seen = await sync(ws)
        assert [k for k in _kinds(seen) if k.startswith("input_audio_buffer")] == []
        await send_event(ws, "input_audio_buffer.commit", event_id="c1")
        committed = await recv_until(ws, "input_audio_buffer.committed")
        await append(ws, silence(60))
        await send_event(ws, "input_audio_buffer.commit", event_id="c2")
        err = await recv_until(ws, "error")
    assert err["error"]["code"] == "input_audio_buffer_commit_empty"
    assert err["error"]["event_id"] == "c2"
    [item] = emulator.committed
    assert item.item_id == committed["item_id"]
    assert (item.start_sample, item.end_sample, item.pcm) == (0, 1200 * S, pcm)


async def test_flags_create_and_interrupt_response(emulator: RealtimeEmulator):
    emulator.pace = 1.0  # the reply lasts 1.2 s: long enough to speak over it
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        td = {"type": "server_vad", "silence_duration_ms": 200, "interrupt_response": False}
        await update(ws, audio=_vad(**td))
        await send_event(ws, "response.create")
        await recv_until(ws, "response.output_audio.delta")
        await append(ws, speech(200) + silence(200))
        seen: list[dict] = []
        done = await recv_until(ws, "response.done", seen)
        assert done["response"]["status"] == "completed"  # not interrupted
        assert "input_audio_buffer.speech_stopped" in _kinds(seen)
        # create_response on (the default), but a reply is running: no second one, no error
        assert "error" not in _kinds(seen)
        assert [e["type"] for e in emulator.server_events].count("response.created") == 1
        # the turn was still committed
        assert len(emulator.committed) == 1


async def test_committed_items_are_kept_per_session(emulator):
    for _ in range(2):
        async with await raw_ws(emulator) as ws:
            await recv_until(ws, "session.created")
            td = {"type": "server_vad", "silence_duration_ms": 200, "create_response": False}
            await update(ws, audio=_vad(**td))
            await append(ws, silence(300) + speech(200) + silence(300))
            await sync(ws)
    assert [(c.session, c.start_ms, c.end_ms) for c in emulator.committed] == [
        (0, 0, 700),
        (1, 0, 700),
    ]
    assert [len(a) for a in emulator.session_audio] == [800 * 48, 800 * 48]


async def test_a_committed_item_is_located_in_the_fed_audio(emulator):
    rng = np.random.default_rng(7)
    voice = (rng.standard_normal(24 * 700) * 4000).astype("<i2").tobytes()  # 700 ms of "speech"
    fed = silence(900) + voice + silence(700)
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        td = {"type": "server_vad", "silence_duration_ms": 500, "create_response": False}
        await update(ws, audio=_vad(**td))
        await append(ws, fed, chunk_ms=40)
        await sync(ws)
    [item] = emulator.committed
    match = locate(item.pcm, fed)
    assert (match.offset, match.end) == (item.start_sample, item.end_sample) == (600 * S, 2100 * S)
    assert match.quality == pytest.approx(1.0)
    question = locate(voice, item.pcm)  # the whole question is inside the item
    assert question.offset == 300 * S and question.quality == pytest.approx(1.0)


async def test_a_new_response_stops_the_idle_countdown(emulator: RealtimeEmulator):
    emulator.set_turns([])  # 600 ms replies
    async with await raw_ws(emulator) as ws:
        await recv_until(ws, "session.created")
        await update(ws, audio=_vad(type="server_vad", idle_timeout_ms=100))
        await send_event(ws, "response.create")
        await recv_until(ws, "response.done")  # arms a countdown: 100 ms + 600 ms of audio
        await send_event(ws, "response.create")  # ...which this one stops
        await recv_until(ws, "response.done")
        seen: list[dict] = []
        await recv_until(ws, "input_audio_buffer.timeout_triggered", seen)
        await recv_until(ws, "response.done", seen)  # the reply the timeout asked for
        await sync(ws, seen)
    kinds = [e["type"] for e in emulator.server_events]
    assert kinds.count("input_audio_buffer.timeout_triggered") == 1
    assert "error" not in kinds[: kinds.index("input_audio_buffer.timeout_triggered") + 1]
