"""Home Assistant's tools, through its "Model Context Protocol Server" integration.

Home Assistant serves its Assist API at ``<url>/api/mcp`` (Streamable HTTP, stateless, JSON
answers, a long-lived access token as bearer): intent tools (``HassTurnOn``, ``HassTurnOff``,
``HassLightSet``, ``HassSetPosition``, climate, media...), ``GetLiveContext`` and the scripts the
user exposed. We offer all of them as ``ha_<tool>``: Home Assistant's exposure settings decide
what the model may reach, and Home Assistant enforces them.

On top, `HaGuard` applies the project's rules before a call that could unlock a lock, disarm an
alarm or open a garage door, gate or door cover (`safety`): it reads ``GetLiveContext`` (cached
`CONTEXT_TTL_S`), finds the possible targets there, refuses unless ``allow_unlock`` /
``allow_open`` is set, and otherwise asks for a spoken confirmation (`ConfirmDesk`). When the
live context cannot be read, such calls are refused: we do not guess.

The satellite's area goes into the session instructions: Home Assistant's MCP context does not
know which speaker asks, so "turn off the lights" must carry the area.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

import httpx

from edge_agent.config import HomeAssistantConfig
from edge_agent.integrations.homeassistant.live_context import Entity, parse_live_context_result
from edge_agent.integrations.homeassistant.safety import needs_context, risks
from edge_agent.integrations.mcp.client import McpClient
from edge_agent.integrations.mcp.http_transport import HttpTransport
from edge_agent.integrations.mcp.protocol import McpError
from edge_agent.integrations.mcp.tools import McpToolSource
from edge_agent.tools.confirm_desk import ConfirmDesk
from edge_agent.tools.registry import ToolFailure, ToolRegistry
from edge_agent.tools.sanitize import clean_text

__all__ = [
    "CONTEXT_TTL_S",
    "LIVE_CONTEXT_TOOL",
    "MCP_PATH",
    "PREFIX",
    "HaGuard",
    "add_homeassistant",
    "area_instructions",
    "ha_client",
]

log = logging.getLogger(__name__)

MCP_PATH: Final = "/api/mcp"
PREFIX: Final = "ha_"
LIVE_CONTEXT_TOOL: Final = "GetLiveContext"
CONTEXT_TTL_S: Final = 30.0
START_WAIT_S: Final = 5.0


def ha_client(cfg: HomeAssistantConfig, http: httpx.AsyncClient) -> McpClient:
    """An MCP client for Home Assistant's endpoint, with the token as bearer."""
    transport = HttpTransport(
        http,
        cfg.url.rstrip("/") + MCP_PATH,
        headers={"Authorization": f"Bearer {cfg.token.reveal()}"},
        name="homeassistant",
    )
    return McpClient(transport, name="homeassistant", timeout_s=cfg.timeout_s)


class HaGuard:
    """The unlock/disarm/open rules, applied with Home Assistant's live context."""

    def __init__(
        self,
        cfg: HomeAssistantConfig,
        client: McpClient,
        desk: ConfirmDesk,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.client = client
        self.desk = desk
        self._clock = clock
        self._entities: list[Entity] = []
        self._read_at = -1e9

    async def entities(self) -> list[Entity]:
        """The exposed entities, read again when older than `CONTEXT_TTL_S`."""
        if self._clock() - self._read_at > CONTEXT_TTL_S:
            if not any(t.name == LIVE_CONTEXT_TOOL for t in self.client.tools):
                raise ToolFailure(
                    "not_allowed",
                    "Home Assistant offers no GetLiveContext, so the target cannot be checked",
                )
            try:
                raw = await self.client.call_tool(LIVE_CONTEXT_TOOL, {})
            except McpError as exc:
                raise ToolFailure(
                    exc.code, "cannot read Home Assistant's live context to check the target"
                ) from None
            content = raw.get("content")
            texts = [
                c["text"]
                for c in (content if isinstance(content, list) else [])
                if isinstance(c, dict) and isinstance(c.get("text"), str)
            ]
            self._entities = parse_live_context_result(texts[0] if texts else "")
            self._read_at = self._clock()
        return self._entities

    async def __call__(self, tool: str, args: dict[str, Any], confirmed: bool) -> None:
        if not needs_context(tool):
            return
        found = risks(tool, args, await self.entities())
        if not found:
            return
        names = ", ".join(sorted({r.name for r in found}))[:120]
        verbs = {r.verb for r in found}
        if verbs & {"unlock", "disarm"} and not self.cfg.allow_unlock:
            raise ToolFailure(
                "not_allowed",
                f"unlocking or disarming ({names}) by voice is off; the owner can set "
                "homeassistant.allow_unlock = true in the config",
                device=names,
            )
        if "open" in verbs and not self.cfg.allow_open:
            raise ToolFailure(
                "not_allowed",
                f"opening ({names}) by voice is off; the owner can set "
                "homeassistant.allow_open = true in the config",
                device=names,
            )
        if not confirmed:
            verb = "Unlock" if "unlock" in verbs else "Disarm" if "disarm" in verbs else "Open"
            self.desk.ask(names, PREFIX + tool, args, f"{verb} {names}?")


def area_instructions(cfg: HomeAssistantConfig) -> str:
    """What a new session is told about this speaker's place in Home Assistant."""
    text = (
        "Home Assistant's tools start with ha_. Call ha_GetLiveContext to see the devices and "
        "their states before answering questions about them."
    )
    if cfg.area:
        area = clean_text(cfg.area, 60)
        text += (
            f" This speaker is in the {area} area: when the user names no area or device "
            f'("turn off the lights"), pass area "{area}".'
        )
    return text


def add_homeassistant(
    cfg: HomeAssistantConfig,
    registry: ToolRegistry,
    desk: ConfirmDesk,
    http: httpx.AsyncClient,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> McpToolSource:
    """Register Home Assistant as a tool source (tools arrive at ``registry.start()``)."""
    client = ha_client(cfg, http)
    guard = HaGuard(cfg, client, desk, clock=clock)
    source = McpToolSource(client, registry, desk, prefix=PREFIX, gate=guard, label="homeassistant")
    registry.add_instructions(lambda: area_instructions(cfg))
    registry.add_secrets([cfg.token.reveal()])
    registry.on_start(lambda: client.start(START_WAIT_S))
    registry.on_close(client.aclose)
    return source
