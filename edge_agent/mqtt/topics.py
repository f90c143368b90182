"""Where the device's messages live: one pure function of [mqtt] and the host name.

Discovery configs go to ``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` (Home
Assistant's documented discovery topic format); state, availability and commands live under the
base topic (``edge-agent/<node_id>`` unless configured). Every topic the daemon publishes
retained is listed by `retained_topics`, so clearing the device clears all of it.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from edge_agent.config import MqttConfig

__all__ = ["Topics", "node_id_for", "topics_for"]

_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


def node_id_for(client_id: str, hostname: str) -> str:
    """The device id: the client id, else ``edge-agent-<hostname>``, reduced to [A-Za-z0-9_-]."""
    raw = client_id or f"edge-agent-{hostname}"
    return (_NOT_ID.sub("-", raw).strip("-") or "edge-agent")[:64]


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one device."""

    prefix: str
    node_id: str
    base: str

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def info(self) -> str:
        """Retained JSON of what rarely changes: version, wake word, model (diagnostics)."""
        return f"{self.base}/info"

    @property
    def mute_set(self) -> str:
        return f"{self.base}/mute/set"

    @property
    def volume_set(self) -> str:
        return f"{self.base}/volume/set"

    @property
    def conversation_press(self) -> str:
        return f"{self.base}/conversation/press"

    @property
    def notify(self) -> str:
        return f"{self.base}/notify"

    @property
    def announce(self) -> str:
        """JSON {"text": ..., "start_conversation": true}: an announcement that then listens."""
        return f"{self.base}/announce"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth/last-will topic: "online" means re-send the discovery."""
        return f"{self.prefix}/status"

    @property
    def commands(self) -> tuple[str, ...]:
        return (
            self.mute_set,
            self.volume_set,
            self.conversation_press,
            self.notify,
            self.announce,
        )

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{self.node_id}/{object_id}/config"


def topics_for(cfg: MqttConfig, hostname: str | None = None) -> Topics:
    """The topics of this device (`hostname` defaults to this machine's)."""
    node = node_id_for(cfg.client_id, hostname if hostname is not None else socket.gethostname())
    return Topics(cfg.discovery_prefix, node, cfg.base_topic or f"edge-agent/{node}")
