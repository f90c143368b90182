"""Byte framing for MCP transports, sans-I/O: SSE events and newline-delimited JSON.

Both framers are fed raw chunks as they arrive and hand back complete messages, so a transport
never buffers more than one message: a peer that sends a 50 MB event or a line without end hits
`max_bytes` and the framer raises `FrameTooLarge` at once instead of filling memory.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["MAX_MESSAGE_BYTES", "FrameTooLarge", "LineFramer", "SseFramer", "decode_json"]

MAX_MESSAGE_BYTES: Final = 1_000_000
"""The default cap on one MCP message (a tool list of hundreds of tools fits in well under)."""


class FrameTooLarge(ValueError):
    """One message (or the bytes before its end) is over the cap."""


def decode_json(data: bytes | str) -> Any:
    """The JSON value in `data`; ValueError when it is not JSON (NaN and Infinity refused)."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(data, parse_constant=no_constants)


class LineFramer:
    """Newline-delimited messages (MCP stdio): ``for line in framer.feed(chunk): ...``."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        lines: list[bytes] = []
        while (end := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[:end]).strip()
            del self._buf[: end + 1]
            if len(line) > self.max_bytes:
                raise FrameTooLarge(f"a message over {self.max_bytes} bytes")
            if line:
                lines.append(line)
        if len(self._buf) > self.max_bytes:
            self._buf.clear()
            raise FrameTooLarge(f"a message over {self.max_bytes} bytes")
        return lines


class SseFramer:
    """Server-sent events (text/event-stream): ``feed(chunk)`` → the data of complete events.

    Only ``data`` lines matter to MCP (the event type is "message"; ``id`` and ``retry`` serve
    resumption, which we do not use). Comment lines (``:``) and other fields are skipped.
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._data: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        events: list[bytes] = []
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:  # a blank line ends the event
                if self._data:
                    events.append(b"\n".join(self._data))
                self._data, self._size = [], 0
                continue
            field, _, value = line.partition(b":")
            if field == b"data":
                value = value[1:] if value.startswith(b" ") else value
                self._data.append(value)
                self._size += len(value) + 1
                if self._size > self.max_bytes:
                    raise FrameTooLarge(f"an event over {self.max_bytes} bytes")
        if len(self._buf) + self._size > self.max_bytes:
            raise FrameTooLarge(f"an event over {self.max_bytes} bytes")
        return events
