"""The configured outside tool sources, registered into the one `ToolRegistry`.

`add_tool_sources` is what `build_registry` calls: Home Assistant (``[homeassistant]``), each
``[[mcp.servers]]`` entry and the ``[[tools.http]]`` tools. MCP sources connect in
``registry.start()`` (in the background, with backoff) and close in ``registry.aclose()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import httpx

from edge_agent.config import Config, McpServerConfig, secret_values
from edge_agent.errors import ConfigError
from edge_agent.tools.confirm_desk import ConfirmDesk
from edge_agent.tools.http_tools import http_tools
from edge_agent.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from edge_agent.integrations.mcp.client import McpClient

# The Home Assistant and MCP modules (and fastjsonschema) are imported only when configured:
# ~1.5 MB of RSS a daemon without them does not carry.

__all__ = ["add_tool_sources", "mcp_client", "mcp_prefix"]

log = logging.getLogger(__name__)

START_WAIT_S: Final = 5.0


def mcp_prefix(name: str) -> str:
    """The namespace of a server's tools: ``mcp_<name>_`` (names are [a-z0-9-], no '_')."""
    return f"mcp_{name}_"


def mcp_client(cfg: McpServerConfig, http: httpx.AsyncClient) -> McpClient:
    """The client of one ``[[mcp.servers]]`` entry (HTTP when it has a url, else stdio)."""
    from edge_agent.integrations.mcp.client import McpClient
    from edge_agent.integrations.mcp.http_transport import HttpTransport
    from edge_agent.integrations.mcp.stdio_transport import StdioTransport

    transport: HttpTransport | StdioTransport
    if cfg.url:
        headers = {k: v.reveal() for k, v in cfg.secret_headers}
        transport = HttpTransport(http, cfg.url, headers=headers, name=cfg.name)
    else:
        transport = StdioTransport(cfg.command, cfg.args, name=cfg.name)
    return McpClient(transport, name=cfg.name, timeout_s=cfg.timeout_s)


def add_tool_sources(
    cfg: Config,
    registry: ToolRegistry,
    desk: ConfirmDesk,
    http: httpx.AsyncClient,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Register Home Assistant, the MCP servers and the HTTP tools of `cfg`."""
    if cfg.homeassistant.url:
        from edge_agent.integrations.homeassistant.source import add_homeassistant

        add_homeassistant(cfg.homeassistant, registry, desk, http, clock=clock)
    if cfg.mcp.servers:
        from edge_agent.integrations.mcp.tools import McpToolSource
    for srv in cfg.mcp.servers:
        client = mcp_client(srv, http)
        McpToolSource(
            client, registry, desk, prefix=mcp_prefix(srv.name), allow=srv.allow,
            confirm=srv.confirm, label=srv.name,
        )  # fmt: skip
        registry.add_secrets(secret_values(srv.secret_headers))
        registry.on_start(lambda c=client: c.start(START_WAIT_S))
        registry.on_close(client.aclose)
        if not srv.allow:
            log.warning(
                "mcp server %s: no tools allowed; list them in mcp.servers[].allow "
                "(`edge-agent doctor` shows what it offers)",
                srv.name,
                extra={"DEVICE": srv.name},
            )
    for tool in http_tools(cfg.tools.http, http, desk):
        if tool.name in registry.names:
            raise ConfigError(
                f"{cfg.source}: tools.http: name {tool.name!r} is a built-in tool's; rename it"
            )
        registry.add(tool)
    registry.add_secrets(secret_values(h for t in cfg.tools.http for h in t.secret_headers))
