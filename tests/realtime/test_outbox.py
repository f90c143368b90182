"""The client's outgoing side, without sockets: audio cap, 40 ms cuts, numbering, culprits."""

from __future__ import annotations

from edge_agent.realtime import protocol as p
from edge_agent.realtime.outbox import Outbox


def test_audio_is_cut_in_40_ms_appends_and_flush_sends_the_rest() -> None:
    box = Outbox(max_buffered_bytes=10_000)
    pcm = bytes(range(256)) * 10  # 2560 bytes: one 1920-byte append, 640 left
    assert box.add_audio(pcm) == 0
    assert box.cut_audio(flush=False) == [p.input_audio_append(pcm[:1920])]
    assert box.cut_audio(flush=False) == []
    assert box.cut_audio(flush=True) == [p.input_audio_append(pcm[1920:])]
    assert box.audio == bytearray()


def test_a_full_buffer_drops_the_oldest_whole_samples() -> None:
    box = Outbox(max_buffered_bytes=100)
    assert box.add_audio(bytes(range(90))) == 0
    assert box.add_audio(bytes(range(100, 111))) == 2  # 101 bytes: one over, rounded to a sample
    assert box.audio == bytearray(bytes(range(2, 90)) + bytes(range(100, 111)))


def test_events_are_numbered_and_name_the_culprit_of_an_error() -> None:
    box = Outbox(max_buffered_bytes=100)
    box.push([p.input_audio_append(b"\0\0"), p.input_audio_commit(), p.response_create()])
    assert [e["event_id"] for e in box.events] == ["evt_1", "evt_2", "evt_3"]
    assert (box.type_of("evt_2"), box.type_of("evt_3")) == (
        "input_audio_buffer.commit",
        "response.create",
    )
    assert box.type_of("evt_1") == ""  # appends are not remembered: there are too many


def test_dropping_queued_audio_keeps_other_events() -> None:
    box = Outbox(max_buffered_bytes=10_000)
    box.add_audio(bytes(100))
    box.push([p.input_audio_append(bytes(4)), p.input_audio_commit(), p.input_audio_append(b"")])
    box.drop_queued_audio()
    assert box.audio == bytearray()
    assert [e["type"] for e in box.events] == ["input_audio_buffer.commit"]


def test_only_recent_event_types_are_kept() -> None:
    box = Outbox(max_buffered_bytes=100)
    box.push([p.input_audio_commit() for _ in range(70)])
    assert (box.type_of("evt_6"), box.type_of("evt_7")) == ("", "input_audio_buffer.commit")
