"""The emulated conversation history and how the service bills it, sans-I/O.

The Realtime service re-reads the whole conversation as input for every response
(realtime-protocol.md §7). The emulator bills the same way, with these estimates:

- instructions + tools (the JSON of the tool list): text, ≈ 1 token per 4 characters (rounded up);
- user audio items: 1 token per 100 ms; assistant audio items: 1 token per 50 ms of the audio the
  item holds (after a truncate: the truncated length); each rounded up;
- text items (input_text/output_text), function calls (name + arguments) and function outputs:
  text, 1 token per 4 characters;
- output: audio ms / 50 (audio tokens) + transcript characters / 4 (text tokens), and a call's
  arguments / 4 as text.

Prompt caching follows OpenAI's documented rule (openai-cookbook "Prompt Caching 201": cache hits
"work automatically for prompts containing 1024 tokens or more, with cache hits occurring in
increments of 128 tokens", on an exact repeated prefix): ``cached_tokens`` is the prefix this
response's input shares with the previous response's input, counted item by item (an item whose
content changed, e.g. truncated, ends the shared prefix), then 0 below 1024 and rounded down to
a multiple of 128. Only the previous *input* counts as cached, not the previous output.

``truncation`` drops the oldest items when the history outgrows the limit: ``"auto"`` drops just
enough to fit the context window (so every later turn busts the cache again), a
``retention_ratio`` r with ``token_limits.post_instructions`` N cuts the history after the
instructions down to r × N at once when it exceeds N (the cache then survives the next turns),
``"disabled"`` never drops (the service would fail the response; unverified, not emulated).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Final

from edge_agent.realtime.events import Usage

__all__ = [
    "CACHE_INCREMENT",
    "CACHE_MIN_TOKENS",
    "History",
    "HistoryItem",
    "UsageRecord",
    "assistant_audio_tokens",
    "context_tokens",
    "prefix_text",
    "text_tokens",
    "usage_json",
    "user_audio_tokens",
]

CHARS_PER_TOKEN: Final = 4
CACHE_MIN_TOKENS: Final = 1024
CACHE_INCREMENT: Final = 128


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def user_audio_tokens(ms: int) -> int:
    return math.ceil(ms / 100)


def assistant_audio_tokens(ms: int) -> int:
    return math.ceil(ms / 50)


def prefix_text(instructions: str, tools: list[Any]) -> str:
    """What the service reads before the conversation: instructions and the tool schemas."""
    return instructions + json.dumps(tools, sort_keys=True, separators=(",", ":"))


def context_tokens(model: str) -> int:
    """The model's context window: 32k for gpt-realtime(-mini)/1.5 and snapshots, else 128k."""
    old = model in {"gpt-realtime", "gpt-realtime-mini"} or "1.5" in model or "-20" in model
    return 32_000 if old else 128_000


@dataclass(slots=True)
class HistoryItem:
    """One conversation item as billed; `version` changes when its content does (truncate)."""

    item_id: str
    kind: str  # user_audio | assistant_audio | text | function_call | function_call_output
    text_tokens: int = 0
    audio_tokens: int = 0
    audio_ms: int = 0
    version: int = 0

    @property
    def tokens(self) -> int:
        return self.text_tokens + self.audio_tokens


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One response's billed usage, as `RealtimeEmulator.usage_log` keeps it."""

    response_id: str
    session: int  # index of the connection (0 = first)
    status: str  # completed | cancelled | incomplete | failed
    usage: Usage


_Segment = tuple[object, int, int]  # (cache key, text tokens, audio tokens)


@dataclass(slots=True)
class History:
    """The items of one session in conversation order, and the previous response's input."""

    items: list[HistoryItem] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # ids removed by `truncation`
    _previous: list[_Segment] = field(default_factory=list)

    def add(self, item: HistoryItem) -> None:
        self.items.append(item)

    def get(self, item_id: str) -> HistoryItem | None:
        return next((i for i in self.items if i.item_id == item_id), None)

    def remove(self, item_id: str) -> bool:
        item = self.get(item_id)
        if item is not None:
            self.items.remove(item)
        return item is not None

    def set_assistant_audio(self, item_id: str, ms: int) -> None:
        """The audio an assistant item holds (while streaming, and after a truncate)."""
        item = self.get(item_id)
        if item is not None and item.audio_ms != ms:
            item.audio_ms, item.audio_tokens = ms, assistant_audio_tokens(ms)
            item.version += 1

    def apply_truncation(self, truncation: object, prefix_tokens: int, context: int) -> list[str]:
        """Drop the oldest items as the session's `truncation` says; returns the dropped ids."""
        history = sum(i.tokens for i in self.items)
        if truncation == "disabled":
            return []
        if isinstance(truncation, dict) and truncation.get("type") == "retention_ratio":
            limits = truncation.get("token_limits")
            limit = limits.get("post_instructions") if isinstance(limits, dict) else None
            if not isinstance(limit, int) or limit <= 0:
                limit = context - prefix_tokens
            if history <= limit:
                return []
            target = float(truncation.get("retention_ratio", 0.8)) * limit
        else:  # "auto"
            target = limit = context - prefix_tokens
            if history <= limit:
                return []
        dropped = []
        while self.items and history > target:
            item = self.items.pop(0)
            history -= item.tokens
            dropped.append(item.item_id)
        self.dropped += dropped
        return dropped

    def bill_input(self, instructions: str, tools: list[Any]) -> Usage:
        """The input part of a response's usage, and remember it for the next cache check."""
        prefix = prefix_text(instructions, tools)
        segments: list[_Segment] = [(("prefix", prefix), text_tokens(prefix), 0)]
        segments += [((i.item_id, i.version), i.text_tokens, i.audio_tokens) for i in self.items]
        shared = 0
        for now, before in zip(segments, self._previous, strict=False):
            if now != before:
                break
            shared += now[1] + now[2]
        cached = shared // CACHE_INCREMENT * CACHE_INCREMENT if shared >= CACHE_MIN_TOKENS else 0
        cached_text = cached_audio = 0
        left = cached
        for _, text, audio in segments:
            take_text = min(text, left)
            left -= take_text
            take_audio = min(audio, left)
            left -= take_audio
            cached_text, cached_audio = cached_text + take_text, cached_audio + take_audio
        self._previous = segments
        input_text = sum(s[1] for s in segments)
        input_audio = sum(s[2] for s in segments)
        return Usage(
            input_tokens=input_text + input_audio,
            input_text_tokens=input_text,
            input_audio_tokens=input_audio,
            cached_tokens=cached,
            cached_text_tokens=cached_text,
            cached_audio_tokens=cached_audio,
        )


def usage_json(usage: Usage) -> dict[str, Any]:
    """`usage` in the GA `response.done` shape."""
    return {
        "total_tokens": usage.total_tokens,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "input_token_details": {
            "text_tokens": usage.input_text_tokens,
            "audio_tokens": usage.input_audio_tokens,
            "image_tokens": 0,
            "cached_tokens": usage.cached_tokens,
            "cached_tokens_details": {
                "text_tokens": usage.cached_text_tokens,
                "audio_tokens": usage.cached_audio_tokens,
                "image_tokens": 0,
            },
        },
        "output_token_details": {
            "text_tokens": usage.output_text_tokens,
            "audio_tokens": usage.output_audio_tokens,
        },
    }
