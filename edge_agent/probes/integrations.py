"""Doctor probes for Home Assistant's MCP server and each ``[[mcp.servers]]`` entry.

Each connects once (initialize + tools/list, no supervision), closes, and hands what it saw to
the pure verdicts in `edge_agent.doctor`.
"""

from __future__ import annotations

import asyncio
import dataclasses

from edge_agent.config import Config
from edge_agent.doctor import CheckResult, homeassistant_result, mcp_server_result, skip

__all__ = ["homeassistant", "mcp_servers"]


async def homeassistant(cfg: Config, timeout_s: float) -> CheckResult:
    if not cfg.homeassistant.url:
        return skip("homeassistant", "not configured ([homeassistant] url)")
    from edge_agent.integrations.homeassistant.source import ha_client
    from edge_agent.tools.http import make_http_client

    ha = dataclasses.replace(
        cfg.homeassistant, timeout_s=min(cfg.homeassistant.timeout_s, timeout_s)
    )
    async with make_http_client(cfg.tools) as http:
        client = ha_client(ha, http)
        code, detail, names = await _connect(client, timeout_s)
    return homeassistant_result(cfg.homeassistant.url, code, detail, names)


async def mcp_servers(cfg: Config, timeout_s: float) -> list[CheckResult]:
    if not cfg.mcp.servers:
        return [skip("mcp", "none configured ([[mcp.servers]])")]
    from edge_agent.integrations.sources import mcp_client
    from edge_agent.tools.http import make_http_client

    async with make_http_client(cfg.tools) as http:

        async def one(i: int) -> CheckResult:
            srv = cfg.mcp.servers[i]
            code, detail, names = await _connect(mcp_client(srv, http), 3 * timeout_s)
            return mcp_server_result(i, srv.name, code, detail, names, srv.allow)

        return list(await asyncio.gather(*(one(i) for i in range(len(cfg.mcp.servers)))))


async def _connect(client: object, timeout_s: float) -> tuple[str, str, list[str]]:
    from edge_agent.integrations.mcp.client import McpClient
    from edge_agent.integrations.mcp.protocol import McpError

    assert isinstance(client, McpClient)
    try:
        async with asyncio.timeout(timeout_s):
            tools = await client.connect_once()
        return "", "", [t.name for t in tools]
    except McpError as exc:
        return exc.code, exc.detail, []
    except TimeoutError:
        return "timeout", f"no answer in {timeout_s:g} s", []
    finally:
        await client.aclose()
