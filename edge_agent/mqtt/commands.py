"""Command-topic payloads, checked like a tool's arguments. Pure.

Anything on a command topic is hostile: `parse` turns one message into a `Command` or a
`Rejected` with the reason (the bridge logs it and does nothing else). Rules:

- at most `MAX_PAYLOAD_BYTES`, UTF-8;
- mute: ``ON`` or ``OFF`` (what the switch sends); volume: a number 0..max_pct;
- start conversation: ``PRESS`` (what the button sends);
- notify: text, made one clean line (`edge_agent.tools.sanitize.clean_text`: no control or
  format characters) and cut at a word to `max_chars`; empty, or without a letter or digit,
  is rejected;
- announce: a JSON object ``{"text": ..., "start_conversation": true|false}`` and nothing else.

`AnnouncementGate` is the rate limit: at most N announcements in any 60 s (clock injected).
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass
from typing import Final

from edge_agent.mqtt.topics import Topics
from edge_agent.tools.sanitize import clean_text

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "AnnouncementGate",
    "Command",
    "Rejected",
    "SetMute",
    "SetVolume",
    "Speak",
    "StartConversation",
    "cap_words",
    "parse",
]

MAX_PAYLOAD_BYTES: Final = 4096
WINDOW_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class SetMute:
    on: bool


@dataclass(frozen=True, slots=True)
class SetVolume:
    percent: int


@dataclass(frozen=True, slots=True)
class StartConversation:
    pass


@dataclass(frozen=True, slots=True)
class Speak:
    """An announcement; `start_conversation`: listen afterwards (the announce topic only)."""

    text: str
    start_conversation: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    """The message is ignored; `reason` is for the journal (never the payload itself)."""

    reason: str


Command = SetMute | SetVolume | StartConversation | Speak


def cap_words(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters at a word boundary, ending with "…"."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _text(raw: object, max_chars: int) -> str | Rejected:
    if not isinstance(raw, str):
        return Rejected("the text is not a string")
    # clean first with room to spare, then cut at a word (clean_text cuts mid-word)
    text = clean_text(raw, max(max_chars * 2, max_chars + 1))
    if not text:
        return Rejected("empty text")
    if not any(ch.isalnum() for ch in text):
        return Rejected("no letter or digit to say")
    return cap_words(text, max_chars)


def parse(
    topics: Topics, topic: str, payload: bytes, *, max_volume_pct: int, max_chars: int
) -> Command | Rejected:
    """One command message → what to do, or why not."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejected(f"payload of {len(payload)} bytes (at most {MAX_PAYLOAD_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return Rejected("payload is not UTF-8")
    word = text.strip().upper()
    if topic == topics.mute_set:
        if word not in ("ON", "OFF"):
            return Rejected("expected ON or OFF")
        return SetMute(word == "ON")
    if topic == topics.volume_set:
        try:
            value = float(text.strip())
        except ValueError:
            return Rejected("expected a number")
        if not math.isfinite(value) or not 0 <= value <= max_volume_pct:
            return Rejected(f"expected a volume from 0 to {max_volume_pct}")
        return SetVolume(round(value))
    if topic == topics.conversation_press:
        if word != "PRESS":
            return Rejected("expected PRESS")
        return StartConversation()
    if topic == topics.notify:
        said = _text(text, max_chars)
        return said if isinstance(said, Rejected) else Speak(said)
    if topic == topics.announce:
        return _announce(text, max_chars)
    return Rejected("not a command topic")


def _announce(text: str, max_chars: int) -> Speak | Rejected:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return Rejected("expected a JSON object")
    if not isinstance(doc, dict):
        return Rejected("expected a JSON object")
    unknown = set(doc) - {"text", "start_conversation"}
    if unknown:
        return Rejected(f"unknown key(s): {', '.join(sorted(map(str, unknown)))[:80]}")
    listen = doc.get("start_conversation", False)
    if not isinstance(listen, bool):
        return Rejected("start_conversation: expected true or false")
    said = _text(doc.get("text"), max_chars)
    return said if isinstance(said, Rejected) else Speak(said, listen)


class AnnouncementGate:
    """At most `per_minute` announcements in any `WINDOW_S`; `allow(now_s)` counts one."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()

    def allow(self, now_s: float) -> bool:
        while self._times and now_s - self._times[0] >= WINDOW_S:
            self._times.popleft()
        if len(self._times) >= self.per_minute:
            return False
        self._times.append(now_s)
        return True
