"""Home Assistant's ``GetLiveContext`` answer, parsed into entities. Pure.

The tool's text content is JSON, ``{"success": true, "result": "Live Context: An overview of
the areas and the devices in this smart home:\\n- names: Front Door\\n  domain: lock\\n  state:
locked\\n  areas: Hallway\\n  attributes:\\n    device_class: ..."}``: a YAML list of exposed
entities with their names (the name and aliases, comma-separated), domain, state, areas and a
few attributes. We read only that flat shape (no YAML library: PyYAML would be a new runtime
dependency for eight lines of syntax), and take from it what the safety rules need: each
entity's names, domain, areas and device class. Anything unreadable is skipped; values are
cleaned (`clean_text`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from edge_agent.tools.sanitize import clean_text

__all__ = ["Entity", "parse_live_context", "parse_live_context_result"]

MAX_ENTITIES: Final = 2000


@dataclass(frozen=True, slots=True)
class Entity:
    """One exposed entity as Home Assistant describes it to an LLM."""

    names: tuple[str, ...]
    domain: str
    state: str = ""
    areas: tuple[str, ...] = ()
    device_class: str = ""


def parse_live_context_result(text: str) -> list[Entity]:
    """Entities from the tool's text content (JSON around the YAML, or the YAML alone)."""
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict):
        value = value.get("result", "")
    return parse_live_context(value if isinstance(value, str) else "")


def parse_live_context(text: str) -> list[Entity]:
    """Entities from the YAML list (the "Live Context: ..." line before it is skipped)."""
    entities: list[Entity] = []
    current: dict[str, str] | None = None
    in_attributes = False
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw.startswith("- "):
            if current is not None:
                entities.append(_entity(current))
            current, in_attributes = {}, False
            raw = "  " + raw[2:]
        if current is None:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        key, sep, value = raw.strip().partition(":")
        if not sep:
            continue
        if indent <= 2:
            in_attributes = key == "attributes" and not value.strip()
            if not in_attributes:
                current[key] = _scalar(value)
        elif in_attributes and key == "device_class":
            current["device_class"] = _scalar(value)
        if len(entities) >= MAX_ENTITIES:
            break
    if current is not None and len(entities) < MAX_ENTITIES:
        entities.append(_entity(current))
    return [e for e in entities if e.domain]


def _scalar(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        value = inner.replace("''", "'") if value[0] == "'" else inner.replace('\\"', '"')
    return value


def _split(value: str) -> tuple[str, ...]:
    return tuple(c for part in value.split(",") if (c := clean_text(part, 60)))


def _entity(fields: dict[str, str]) -> Entity:
    return Entity(
        names=_split(fields.get("names", "")),
        domain=clean_text(fields.get("domain", ""), 40).lower(),
        state=clean_text(fields.get("state", ""), 40),
        areas=_split(fields.get("areas", "")),
        device_class=clean_text(fields.get("device_class", ""), 40).lower(),
    )
