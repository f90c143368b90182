"""An MCP server's tools offered through the `ToolRegistry`: one registry tool per MCP tool.

`McpToolSource` listens to its `McpClient`'s tool lists: on every (re)connect and every
``tools/list_changed`` it takes the allowed tools out of the list, names them
``<prefix><tool>`` (so two servers, or a server and a built-in, cannot collide), and swaps them
into the registry, which then calls its ``tools_changed`` listeners. Each call is checked
against the tool's (reduced) schema by the registry, passes an optional `gate` (Home
Assistant's safety rules), asks for spoken confirmation when the tool is in `confirm`, and
becomes one ``tools/call``. The answer is cleaned text or JSON (`catalog.tool_result`); a
server-side error becomes ``{"ok": false, "error": "tool_failed"}``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from edge_agent.integrations.mcp.catalog import McpTool, allowed, function_name, tool_result
from edge_agent.integrations.mcp.client import McpClient
from edge_agent.integrations.mcp.protocol import McpError
from edge_agent.tools.confirm_desk import ConfirmDesk
from edge_agent.tools.registry import Tool, ToolFailure, ToolRegistry
from edge_agent.tools.sanitize import clean_text

__all__ = ["Gate", "McpToolSource"]

log = logging.getLogger(__name__)

Gate = Callable[[str, dict[str, Any], bool], Awaitable[None]]
"""``gate(server_tool, arguments, confirmed)``: raises ToolFailure to refuse or ask first."""


class McpToolSource:
    """Keeps the registry's tools in step with one MCP server's tool list."""

    def __init__(
        self,
        client: McpClient,
        registry: ToolRegistry,
        desk: ConfirmDesk,
        *,
        prefix: str,
        allow: Collection[str] = ("*",),
        confirm: Collection[str] = (),
        gate: Gate | None = None,
        label: str = "",
    ) -> None:
        self.client = client
        self.registry = registry
        self.desk = desk
        self.prefix = prefix
        self.allow = tuple(allow)
        self.confirm = frozenset(confirm)
        self.gate = gate
        self.label = label or client.name
        self.offered: dict[str, str] = {}  # registry name → server tool name
        client.on_tools = self.install

    def install(self, tools: list[McpTool]) -> None:
        """Replace this source's registry tools with `tools` (those allowed)."""
        for name in self.offered:
            self.registry.remove(name)
            self.desk.unregister(name)
        self.offered = {}
        taken = set(self.registry.names)
        for tool in allowed(tools, self.allow):
            fname = function_name(self.prefix, tool.name)
            if fname in taken:
                log.warning("mcp server %s: tool %r skipped: name %s is taken", self.label,
                            clean_text(tool.name, 60), fname, extra={"DEVICE": self.label})  # fmt: skip
                continue
            description = tool.description or f"{tool.name} (from {self.label})"
            self.registry.add(
                Tool(
                    fname,
                    description,
                    tool.parameters,
                    functools.partial(self._call, tool.name, fname),
                    self.client.timeout_s + 0.5,
                )
            )
            self.desk.register(
                fname, functools.partial(self._call, tool.name, fname, confirmed=True)
            )
            self.offered[fname] = tool.name
            taken.add(fname)
        self.registry.tools_changed()

    async def _call(
        self, server_tool: str, fname: str, args: dict[str, Any], *, confirmed: bool = False
    ) -> dict[str, Any]:
        if self.gate is not None:
            await self.gate(server_tool, args, confirmed)
        if server_tool in self.confirm and not confirmed:
            self.desk.ask(self.label, fname, args, f"Shall I run {clean_text(server_tool)}?")
        try:
            raw = await self.client.call_tool(server_tool, args)
        except McpError as exc:
            if exc.code == "mcp_error":  # e.g. an unknown tool: the list may be stale
                self.client.schedule_refresh()
            raise ToolFailure(exc.code, exc.detail, device=self.label) from None
        out, is_error = tool_result(raw)
        if is_error:
            detail = out.get("text") or str(out.get("result", ""))
            raise ToolFailure("tool_failed", clean_text(detail, 300), device=self.label)
        return {"device": self.label, **out}
