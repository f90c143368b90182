"""MCP's stdio transport: a child process, one JSON-RPC message per line each way. A thin shell.

The child is started with the configured command and arguments (no shell), in its own process
group, with a minimal environment (`child_env`: no API key or credentials directory), with stdin/stdout as the channel; its stderr is read and logged at debug level (capped).
A line over `max_bytes`, a closed stdout or an exit ends the channel: the child is killed and
`on_closed(why)` tells the client, which fails the pending calls and restarts it with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from edge_agent.integrations.mcp.framing import (
    MAX_MESSAGE_BYTES,
    FrameTooLarge,
    LineFramer,
    decode_json,
)
from edge_agent.integrations.mcp.protocol import McpError

__all__ = ["StdioTransport", "child_env"]

log = logging.getLogger(__name__)

READ_CHUNK: Final = 65536
PASSED_ENV: Final = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
"""All the child inherits: never $OPENAI_API_KEY or $CREDENTIALS_DIRECTORY."""
STOP_GRACE_S: Final = 1.0


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment a stdio server gets: locale and paths, none of the daemon's secrets."""
    return {k: env[k] for k in PASSED_ENV if k in env}


class StdioTransport:
    """Runs one MCP server as a child process and speaks to it over its stdin/stdout."""

    answers_inline: Final = False  # answers arrive on stdout, read by our reader task

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
        name: str = "mcp",
    ) -> None:
        self.command = command
        self.args = tuple(args)
        self.env = dict(env) if env is not None else child_env(os.environ)
        self.max_bytes = max_bytes
        self.name = name
        self.on_value: Callable[[Any], None] = lambda value: None
        self.on_closed: Callable[[str], None] = lambda why: None
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def open(self) -> None:
        """Start the child (stopping a previous one first)."""
        await self.aclose()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.command,
                *self.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            raise McpError(
                "unavailable", f"cannot start {self.command!r}: {exc.strerror or exc}"
            ) from None
        proc = self._proc
        self._tasks = [
            asyncio.create_task(self._read_stdout(proc), name=f"mcp-{self.name}-stdout"),
            asyncio.create_task(self._read_stderr(proc), name=f"mcp-{self.name}-stderr"),
        ]

    async def post(self, message: Mapping[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            raise McpError("unavailable", "the MCP server is not running; it is being restarted")
        line = json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
        try:
            proc.stdin.write(line)
            await proc.stdin.drain()
        except (ConnectionError, RuntimeError):
            raise McpError("unavailable", "the MCP server closed its input") from None

    async def _read_stdout(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        framer = LineFramer(self.max_bytes)
        why = "the MCP server exited"
        try:
            while chunk := await proc.stdout.read(READ_CHUNK):
                for line in framer.feed(chunk):
                    try:
                        value = decode_json(line)
                    except ValueError:
                        log.debug("non-JSON line from the server", extra={"DEVICE": self.name})
                        continue
                    self.on_value(value)
        except FrameTooLarge:
            why = f"the MCP server sent a message over {self.max_bytes} bytes"
        except (ConnectionError, OSError):
            why = "the MCP server's output broke"
        if self._proc is proc:
            self._kill(proc)
            self.on_closed(why)

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        framer = LineFramer(4096)
        with contextlib.suppress(FrameTooLarge, ConnectionError, OSError):
            while chunk := await proc.stderr.read(READ_CHUNK):
                for line in framer.feed(chunk)[:20]:
                    text = line.decode("utf-8", "replace")[:200]
                    log.debug("server stderr: %s", text, extra={"DEVICE": self.name})

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    async def aclose(self) -> None:
        """Stop the child: close its stdin, then SIGTERM, then SIGKILL after a grace period."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    async with asyncio.timeout(STOP_GRACE_S):
                        await proc.wait()
                except TimeoutError:
                    self._kill(proc)
                    await proc.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
