"""Hostile HTTP peers on 127.0.0.1 and the meters the attack tests read (test-rig.md).

`HostilePeer` is a tiny asyncio HTTP/1.1 server on its own thread and loop (so the bytes it
pushes cost the client's loop nothing) that answers every request with one `Answer`: a 50 MB
body, a gzip bomb sent although identity was asked, a slow drip, a redirect, a hang, or any
bytes. It records what it RECEIVED (request line and headers), so tests assert on the wire.
`Meter` samples the process's RSS on a thread and the event loop's longest stall on the loop.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]

MB = 1024 * 1024


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]


class HostilePeer:
    """``with HostilePeer(answer) as peer:`` serves on ``peer.port`` until the block ends."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.received: list[Received] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="hostile-peer", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HostilePeer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await self._handle(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
                pass
            finally:
                writer.close()
                tasks.discard(task)

        server = await asyncio.start_server(on_client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.sleep(0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: one answer per request until the answer closes
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if int(headers.get("content-length", "0") or 0):
                await reader.readexactly(int(headers["content-length"]))
            self.received.append(Received(method, path, headers))
            await self.answer(writer)
            await writer.drain()


# -- answers ---------------------------------------------------------------------------------
def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def huge(total: int = 50 * MB, *, declared: bool = False) -> Answer:
    """A JSON-looking body of `total` bytes, close-delimited or with its Content-Length."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        headers = {"Content-Type": "application/json", "Connection": "close"}
        if declared:
            headers["Content-Length"] = str(total)
        writer.write(_head("200 OK", headers) + b"[")
        chunk = b"1," * 32768
        sent = 1
        while sent < total:
            writer.write(chunk)
            sent += len(chunk)
            await writer.drain()
        writer.close()

    return answer


@functools.cache
def gzip_bomb() -> bytes:
    """~0.5 MB of gzip that inflates to 512 MiB of zeros (built once per session)."""
    path = Path("/tmp/edge-agent-test-gzip-bomb.gz")
    if path.exists() and path.stat().st_size > 100_000:
        return path.read_bytes()
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MB
    parts = [packer.compress(zeros) for _ in range(512)]
    data = b"".join(parts) + packer.flush()
    path.write_bytes(data)
    return data


def gzip_answer() -> Answer:
    """The bomb, labelled Content-Encoding: gzip whatever the client asked for."""
    bomb = gzip_bomb()

    async def answer(writer: asyncio.StreamWriter) -> None:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip",
                   "Content-Length": str(len(bomb))}  # fmt: skip
        writer.write(_head("200 OK", headers) + bomb)

    return answer


def drip(interval_s: float = 0.02) -> Answer:
    """Headers promising 100 kB, then one byte per `interval_s`, forever."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(_head("200 OK", {"Content-Type": "application/json",
                                      "Content-Length": "100000"}))  # fmt: skip
        writer.write(b"[")
        while True:
            await asyncio.sleep(interval_s)
            writer.write(b"1")
            await writer.drain()

    return answer


def hang() -> Answer:
    """Read the request, never answer."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    return answer


def reply(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    """One fixed answer (e.g. a redirect with a success-looking body)."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
                       **(headers or {})}  # fmt: skip
        writer.write(_head(status, all_headers) + body)

    return answer


# -- meters ----------------------------------------------------------------------------------
def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Meter:
    """``async with Meter() as m:`` … then ``m.rss_growth`` (bytes) and ``m.max_stall_s``."""

    rss_growth: int = 0
    max_stall_s: float = 0.0
    _peak: int = 0
    _done: threading.Event = field(default_factory=threading.Event)
    _tasks: list[Any] = field(default_factory=list)

    async def __aenter__(self) -> Meter:
        base = rss_bytes()
        self._peak = base

        def sample() -> None:
            while not self._done.is_set():
                self._peak = max(self._peak, rss_bytes())
                time.sleep(0.002)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()

        async def tick() -> None:
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.002)
                self.max_stall_s = max(self.max_stall_s, time.perf_counter() - before - 0.002)

        self._tasks = [thread, asyncio.create_task(tick()), base]
        await asyncio.sleep(0.01)
        self.max_stall_s = 0.0
        return self

    async def __aexit__(self, *exc: object) -> None:
        thread, ticker, base = self._tasks
        ticker.cancel()
        self._done.set()
        thread.join(1)
        self.rss_growth = self._peak - base
