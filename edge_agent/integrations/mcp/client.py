"""One MCP server's connection: initialize, list tools, call tools, reconnect. An asyncio shell.

`McpClient` drives a `Session` (the sans-I/O core) over a transport (`HttpTransport` or
`StdioTransport`). `start()` connects in a background task and returns once the first tool
list is in (or after `wait_s`); a server that is down at boot, dies (stdio) or forgets our
session (HTTP 404) is reconnected with backoff, and every (re)connect and every
``notifications/tools/list_changed`` lists the tools again and hands them to `on_tools` when
they changed. A server that cannot tell us of a change (Home Assistant's endpoint is stateless:
no session, no stream to push a notification on) is asked again every `RELIST_S`.

Every request has a deadline (a hung server costs one timeout, never a stalled turn); a call we
give up on is cancelled with ``notifications/cancelled``. Failures are `McpError`s with tool
result codes: ``unavailable``, ``unreachable``, ``timeout``, ``unauthorized``, ``mcp_error``...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final, Protocol

from edge_agent.integrations.mcp.catalog import McpTool, parse_tools
from edge_agent.integrations.mcp.http_transport import SessionExpired
from edge_agent.integrations.mcp.protocol import (
    Garbage,
    McpError,
    Response,
    ServerRequest,
    Session,
    ToolsChanged,
)

__all__ = ["BACKOFF_S", "McpClient", "Transport"]

log = logging.getLogger(__name__)

BACKOFF_S: Final = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MAX_PAGES: Final = 20
INIT_TIMEOUT_S: Final = 20.0
"""A stdio server may take seconds to start (Python imports on a Pi); initialize waits longer."""
STABLE_S: Final = 60.0
"""A server that ran this long before dying is restarted at once; one that keeps dying waits."""
RELIST_S: Final = 300.0
"""How often a server that cannot push ``tools/list_changed`` is asked for its list: a script
newly exposed to Assist reaches the model within minutes, for one small POST each time."""


class Transport(Protocol):
    answers_inline: bool
    on_value: Callable[[Any], None]
    on_closed: Callable[[str], None]

    async def open(self) -> None: ...
    async def post(self, message: dict[str, Any]) -> None: ...
    async def aclose(self) -> None: ...


class McpClient:
    """A supervised connection to one MCP server."""

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        timeout_s: float = 10.0,
        on_tools: Callable[[list[McpTool]], None] = lambda tools: None,
        backoff_s: Sequence[float] = BACKOFF_S,
        relist_s: float = RELIST_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.transport = transport
        self.name = name
        self.timeout_s = timeout_s
        self.on_tools = on_tools
        self.backoff_s = tuple(backoff_s)
        self.relist_s = relist_s
        self._sleep = sleep
        self.session = Session()
        self.tools: list[McpTool] = []
        self.last_error: McpError | None = None
        self.connected = asyncio.Event()
        self._waiters: dict[int, asyncio.Future[Response]] = {}
        self._lost = asyncio.Event()
        self._first_attempt = asyncio.Event()  # set once the first connect succeeded or failed
        self._runner: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._reconnect_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        transport.on_value = self._on_value
        transport.on_closed = self._on_closed

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, wait_s: float = 0.0) -> None:
        """Connect in the background; wait up to `wait_s` for the first attempt's outcome."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"mcp-{self.name}")
        if wait_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._first_attempt.wait()

    async def connect_once(self) -> list[McpTool]:
        """One connect + tool listing, no supervision (doctor, the CLI); raises McpError."""
        await self._connect()
        return self.tools

    async def aclose(self) -> None:
        for task in (self._runner, self._refresher, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._runner = self._refresher = self._listener = None
        for task in list(self._tasks):
            task.cancel()
        self._fail_waiters(McpError("unavailable", "closing"))
        await self.transport.aclose()

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._connect()
            except McpError as exc:
                self._first_attempt.set()
                self.last_error = exc
                delay = self.backoff_s[min(failures, len(self.backoff_s) - 1)]
                failures += 1
                log.warning(
                    "mcp server %s: %s; retrying in %g s",
                    self.name,
                    exc,
                    delay,
                    extra={"DEVICE": self.name, "ERROR_CODE": exc.code},
                )
                await self._sleep(delay)
                continue
            self._first_attempt.set()
            up_since = loop.time()
            await self._until_lost()
            self.connected.clear()
            if loop.time() - up_since > STABLE_S:
                failures = 0  # it ran a good while: restart at once, as after a first crash
            delay = self.backoff_s[min(failures, len(self.backoff_s) - 1)] if failures else 0.0
            failures += 1
            log.warning("mcp server %s lost; reconnecting in %g s", self.name, delay,
                        extra={"DEVICE": self.name})  # fmt: skip
            await self._sleep(delay)

    async def _until_lost(self) -> None:
        """Wait for the connection to end; meanwhile relist every `relist_s` if need be."""
        while not self._lost.is_set():
            if self.pushes_changes or self.relist_s <= 0:
                await self._lost.wait()
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.relist_s):
                    await self._lost.wait()
            if not self._lost.is_set():
                self.schedule_refresh()

    @property
    def pushes_changes(self) -> bool:
        """Whether the server can tell us its list changed: it says it sends list_changed and
        has a channel for it (stdio, or an HTTP session with its GET stream)."""
        channel = not self.transport.answers_inline or bool(
            getattr(self.transport, "session_id", "")
        )
        return self.session.tools_list_changed and channel

    async def _connect(self) -> None:
        self._lost.clear()
        await self.transport.open()
        init = self.session.initialize()
        response = await self._exchange(init, max(self.timeout_s, INIT_TIMEOUT_S))
        self.session.accept_initialize(response)
        if hasattr(self.transport, "protocol_version"):
            self.transport.protocol_version = self.session.protocol_version
        await self.transport.post(self.session.notification("notifications/initialized"))
        await self.refresh()
        self.last_error = None
        self.connected.set()
        self._start_listener()
        log.info(
            "mcp server %s: %d tools",
            self.name,
            len(self.tools),
            extra={"DEVICE": self.name},
        )

    def _start_listener(self) -> None:
        """Stateful HTTP servers send list_changed on a GET stream: keep one open."""
        if self._listener is not None:
            self._listener.cancel()
        listen = getattr(self.transport, "listen", None)
        if listen is not None:
            self._listener = asyncio.create_task(self._listen(listen), name=f"mcp-{self.name}-get")

    async def _listen(self, listen: Callable[[], Awaitable[bool]]) -> None:
        while self.connected.is_set() and await listen():
            await self._sleep(self.backoff_s[0])

    # -- requests ------------------------------------------------------------------------------
    async def refresh(self) -> list[McpTool]:
        """List the tools again (all pages); hand them to `on_tools` if they changed."""
        tools: list[McpTool] = []
        cursor, seen = "", set()
        for _ in range(MAX_PAGES):
            result = await self.request("tools/list", {"cursor": cursor} if cursor else {})
            page, cursor = parse_tools(result)
            tools += page
            if not cursor or cursor in seen:
                break
            seen.add(cursor)
        changed, self.tools = tools != self.tools, tools
        if changed:
            self.on_tools(tools)
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The raw ``tools/call`` result (a dict); raises McpError."""
        return dict(await self.request("tools/call", {"name": name, "arguments": arguments}))

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One request with the client's deadline; an expired HTTP session is renewed once."""
        for attempt in (1, 2):
            if not self.connected.is_set() and method != "tools/list":
                raise McpError(
                    "unavailable",
                    f"the MCP server {self.name} is not connected"
                    + (f" ({self.last_error.detail})" if self.last_error else ""),
                )
            try:
                response = await self._exchange(
                    self.session.request(method, params), self.timeout_s
                )
            except SessionExpired:
                if attempt == 2:
                    raise
                await self._renew()
                continue
            if response.result is None:
                raise McpError(
                    "mcp_error", f"server error {response.error_code}: {response.error_message}"
                )
            return dict(response.result)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _renew(self) -> None:
        async with self._reconnect_lock:
            self.connected.clear()
            await self._connect()

    async def _exchange(self, message: dict[str, Any], timeout_s: float) -> Response:
        ident = message["id"]
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiters[ident] = future
        try:
            async with asyncio.timeout(timeout_s):
                await self.transport.post(message)
                if self.transport.answers_inline and not future.done():
                    raise McpError("bad_response", "the server ended its answer without one")
                return await future
        except TimeoutError:
            self._cancel(ident)
            raise McpError("timeout", f"no answer in {timeout_s:g} s; outcome unknown") from None
        finally:
            self._waiters.pop(ident, None)
            self.session.forget(ident)

    def _cancel(self, ident: int) -> None:
        note = self.session.cancelled(ident, "timeout")
        if not self.transport.answers_inline:  # HTTP: a new POST would wait too; skip it
            self._background(self._post_quietly(note))

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post_quietly(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(McpError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self.transport.post(message)

    # -- what the transport hands us ----------------------------------------------------------
    def _on_value(self, value: Any) -> None:
        event = self.session.receive(value)
        if isinstance(event, Response):
            future = self._waiters.get(event.id)
            if future is not None and not future.done():
                future.set_result(event)
        elif isinstance(event, ToolsChanged):
            self.schedule_refresh()
        elif isinstance(event, ServerRequest):
            self._background(self._post_quietly(dict(event.reply)))
        elif isinstance(event, Garbage):
            log.debug("mcp %s: dropped (%s)", self.name, event.why, extra={"DEVICE": self.name})

    def schedule_refresh(self) -> None:
        """List the tools again soon (in the background), unless a listing is under way."""
        if self.connected.is_set() and (self._refresher is None or self._refresher.done()):
            self._refresher = asyncio.create_task(self._refresh_quietly())

    async def _refresh_quietly(self) -> None:
        before = self.tools
        try:
            await self.refresh()
            if self.tools != before:
                log.info("mcp server %s: tool list changed (%d tools)", self.name,
                         len(self.tools), extra={"DEVICE": self.name})  # fmt: skip
        except McpError as exc:
            log.warning("mcp server %s: relisting tools failed: %s", self.name, exc,
                        extra={"DEVICE": self.name, "ERROR_CODE": exc.code})  # fmt: skip

    def _on_closed(self, why: str) -> None:
        self.connected.clear()
        self.last_error = McpError("unavailable", why)
        self._fail_waiters(McpError("server_died", why))
        self._lost.set()

    def _fail_waiters(self, exc: McpError) -> None:
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(exc)
