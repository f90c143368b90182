"""Outgoing client events and mic audio not yet sent, sans-I/O.

Owns the mic audio buffer (capped: the oldest audio goes first), its cutting into 40 ms
``input_audio_buffer.append`` events, the ``event_id`` numbering, the queue the writer drains,
and the types of recent events, so a server ``error`` can name the event that caused it. It
decides nothing about when to send: `RealtimeClient` asks `Conversation` and calls in here.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Final

from edge_agent.realtime import protocol as p

__all__ = ["Outbox"]

_SENT_TYPES_KEPT: Final = 64
_APPEND: Final = "input_audio_buffer.append"


class Outbox:
    """The client's outgoing side: buffered mic audio and numbered events for the writer."""

    def __init__(self, max_buffered_bytes: int) -> None:
        self.max_buffered_bytes = max_buffered_bytes
        self.audio = bytearray()  # mic audio not yet cut into appends (connecting, or < 40 ms)
        self.events: collections.deque[p.Json] = collections.deque()  # for the writer
        self._seq = 0
        self._sent_types: dict[str, str] = {}  # event_id -> type, most recent last

    def add_audio(self, pcm: bytes) -> int:
        """Buffer mic audio; returns the bytes dropped (oldest first) to stay under the cap."""
        self.audio += pcm
        overflow = len(self.audio) - self.max_buffered_bytes
        if overflow <= 0:
            return 0
        overflow += overflow % 2  # whole int16 samples
        del self.audio[:overflow]
        return overflow

    def cut_audio(self, *, flush: bool) -> list[p.Json]:
        """Appends of 40 ms from the buffer; `flush` also sends the shorter rest."""
        chunks = []
        while len(self.audio) >= p.CHUNK_BYTES or (flush and self.audio):
            chunks.append(p.input_audio_append(bytes(self.audio[: p.CHUNK_BYTES])))
            del self.audio[: p.CHUNK_BYTES]
        return chunks

    def drop_queued_audio(self) -> None:
        """Forget buffered audio and the appends the writer has not sent yet."""
        self.audio.clear()
        self.events = collections.deque(e for e in self.events if e["type"] != _APPEND)

    def push(self, events: Sequence[p.Json]) -> None:
        """Number `events` (unless they carry an event_id) and queue them for the writer."""
        for ev in events:
            self._seq += 1
            ev.setdefault("event_id", f"evt_{self._seq}")
            if ev["type"] != _APPEND:
                self._sent_types[str(ev["event_id"])] = str(ev["type"])
                while len(self._sent_types) > _SENT_TYPES_KEPT:
                    del self._sent_types[next(iter(self._sent_types))]
            self.events.append(ev)

    def type_of(self, event_id: str) -> str:
        """The type of a recent event we sent ("" when unknown, or an audio append)."""
        return self._sent_types.get(event_id, "")
