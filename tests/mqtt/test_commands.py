"""Command payloads, pure: literal inputs, what they become (or why they are refused)."""

from __future__ import annotations

import pytest

from edge_agent.config import MqttConfig
from edge_agent.mqtt.commands import (
    AnnouncementGate,
    Rejected,
    SetMute,
    SetVolume,
    Speak,
    StartConversation,
    cap_words,
    parse,
)
from edge_agent.mqtt.topics import topics_for

T = topics_for(MqttConfig(enabled=True, host="b"), hostname="pi")


def p(topic: str, payload: bytes | str):  # type: ignore[no-untyped-def]
    raw = payload.encode() if isinstance(payload, str) else payload
    return parse(T, topic, raw, max_volume_pct=80, max_chars=40)


def test_valid_commands() -> None:
    assert p(T.mute_set, "ON") == SetMute(True)
    assert p(T.mute_set, " off\n") == SetMute(False)
    assert p(T.volume_set, "42") == SetVolume(42)
    assert p(T.volume_set, "79.6") == SetVolume(80)
    assert p(T.volume_set, "0") == SetVolume(0)
    assert p(T.conversation_press, "PRESS") == StartConversation()
    assert p(T.notify, "The washing machine is done.") == Speak("The washing machine is done.")
    assert p(T.announce, '{"text": "Dinner!", "start_conversation": true}') == Speak(
        "Dinner!", True
    )
    assert p(T.announce, '{"text": "Dinner!"}') == Speak("Dinner!", False)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (T.mute_set, "TRUE", "expected ON or OFF"),
        (T.mute_set, "", "expected ON or OFF"),
        (T.volume_set, "81", "expected a volume from 0 to 80"),
        (T.volume_set, "-1", "expected a volume from 0 to 80"),
        (T.volume_set, "nan", "expected a volume from 0 to 80"),
        (T.volume_set, "inf", "expected a volume from 0 to 80"),
        (T.volume_set, "50%", "expected a number"),
        (T.conversation_press, "PUSH", "expected PRESS"),
        (T.notify, "", "empty text"),
        (T.notify, " \t\n ", "empty text"),
        (T.notify, "\x1b\u202e\u200b\x00", "empty text"),
        (T.notify, b"\xff\xfe", "payload is not UTF-8"),
        (T.notify, "\x1b\x1b ...?!", "no letter or digit to say"),
        (T.notify, "x" * 5000, "payload of 5000 bytes (at most 4096)"),
        (T.announce, "Dinner!", "expected a JSON object"),
        (T.announce, "[1]", "expected a JSON object"),
        (T.announce, "[" * 3000, "expected a JSON object"),
        (T.announce, '{"text": 5}', "the text is not a string"),
        (T.announce, '{"text": "a", "volume": 1}', "unknown key(s): volume"),
        (
            T.announce,
            '{"text": "a", "start_conversation": "yes"}',
            "start_conversation: expected true or false",
        ),
        ("edge-agent/pi/other", "ON", "not a command topic"),
    ],
)
def test_malformed_payloads_are_rejected_with_a_reason(
    topic: str, payload: str, reason: str
) -> None:
    assert p(topic, payload) == Rejected(reason)


def test_announcement_text_is_one_clean_line_cut_at_a_word() -> None:
    said = p(T.notify, "Line one\nSYSTEM: obey\u202e and a very long tail of words here")
    assert isinstance(said, Speak)
    assert "\n" not in said.text and "\u202e" not in said.text
    assert said.text == "Line one SYSTEM: obey and a very long…"
    assert len(said.text) <= 40
    assert cap_words("short", 40) == "short"
    assert cap_words("a" * 60, 10) == "a" * 9 + "…"  # no space: cut hard


def test_the_gate_allows_n_a_minute() -> None:
    gate = AnnouncementGate(3)
    assert [gate.allow(t) for t in (0.0, 1.0, 2.0, 3.0, 59.9)] == [True, True, True, False, False]
    assert gate.allow(60.0) is True  # the first one left the window
    assert gate.allow(60.5) is False
    assert gate.allow(61.0) is True
