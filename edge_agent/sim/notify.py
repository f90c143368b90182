"""A stand-in for systemd's notify socket: records sd_notify datagrams with arrival times.

Bind it at a temp path, give the daemon ``NOTIFY_SOCKET=<path>`` (and ``WATCHDOG_USEC``), and
read ``READY=1``, ``STATUS=…``, ``WATCHDOG=1`` and ``STOPPING=1`` as they arrive. Usable from
plain code (`wait_for`) and from a running event loop (`await_for`) without blocking it.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import time
from dataclasses import dataclass

__all__ = ["NotifyMessage", "NotifySink"]


@dataclass(frozen=True, slots=True)
class NotifyMessage:
    """One datagram: its `lines` (``KEY=value``) and its arrival on the monotonic clock."""

    lines: tuple[str, ...]
    at_s: float

    def has(self, line: str) -> bool:
        return line in self.lines


class NotifySink:
    """An AF_UNIX/SOCK_DGRAM socket at `path` collecting sd_notify messages in `messages`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages: list[NotifyMessage] = []

    def _add(self, data: bytes) -> NotifyMessage:
        msg = NotifyMessage(tuple(data.decode().splitlines()), time.monotonic())
        self.messages.append(msg)
        return msg

    def wait_for(self, line: str, timeout_s: float) -> NotifyMessage:
        """Block until a message holding `line` arrives (collecting all others on the way).

        Raises:
            TimeoutError: none arrived within `timeout_s`.
        """
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.sock], [], [], left)[0]:
                msg = self._add(self.sock.recv(65536))
                if msg.has(line):
                    return msg
        raise TimeoutError(f"no {line!r} within {timeout_s} s; got {self.lines()}")

    async def await_for(self, line: str, timeout_s: float) -> NotifyMessage:
        """`wait_for` for code running on the event loop."""
        loop = asyncio.get_running_loop()

        async def recv_until() -> NotifyMessage:
            while True:
                msg = self._add(await loop.sock_recv(self.sock, 65536))
                if msg.has(line):
                    return msg

        try:
            return await asyncio.wait_for(recv_until(), timeout_s)
        except TimeoutError:
            raise TimeoutError(f"no {line!r} within {timeout_s} s; got {self.lines()}") from None

    def collect(self, duration_s: float) -> None:
        """Receive for `duration_s`, stamping each message as it arrives."""
        deadline = time.monotonic() + duration_s
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.sock], [], [], left)[0]:
                self._add(self.sock.recv(65536))

    def drain(self) -> None:
        """Collect whatever is queued now."""
        while select.select([self.sock], [], [], 0)[0]:
            self._add(self.sock.recv(65536))

    def lines(self) -> list[str]:
        return [line for msg in self.messages for line in msg.lines]

    def times_of(self, line: str) -> list[float]:
        return [m.at_s for m in self.messages if m.has(line)]

    def close(self) -> None:
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def __enter__(self) -> NotifySink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
