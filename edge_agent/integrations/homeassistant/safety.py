"""Which Home Assistant tool calls would unlock, disarm or open something. Pure.

Home Assistant enforces its exposure rules; this adds the project's own (devices.md §8.4): a
call that would unlock a lock, disarm an alarm or open a garage door, gate or door cover needs
a spoken confirmation, and is refused unless the owner allowed it. The model's words are not
trusted for what the target is: its arguments (name, area, domain, device_class) are matched
against Home Assistant's live context, and the target's domain and device class come from
there. When a name matches nothing we know (an alias, a near miss), every entity the other filters
leave that shares a word with it is a possible target: uncertainty counts as risk.

Assist's intents that can do it: ``HassTurnOff`` unlocks a lock ("For locks, this performs an
'unlock' action") and would disarm an alarm, ``HassTurnOn`` opens a cover,
``HassSetPosition`` with a position above 0 opens one; any tool whose name says unlock, disarm
or open is treated the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from edge_agent.integrations.homeassistant.live_context import Entity

__all__ = [
    "OPEN_DEVICE_CLASSES",
    "Risk",
    "candidates",
    "needs_context",
    "risks",
]

OPEN_DEVICE_CLASSES: Final = frozenset({"garage", "gate", "door"})
Verb = Literal["unlock", "disarm", "open"]


@dataclass(frozen=True, slots=True)
class Risk:
    """One entity the call may unlock, disarm or open."""

    entity: Entity
    verb: Verb

    @property
    def name(self) -> str:
        return self.entity.names[0] if self.entity.names else self.entity.domain


def _words(tool: str) -> str:
    return tool.lower()


def needs_context(tool: str) -> bool:
    """Whether a call of `tool` could be risky at all (then the live context is read)."""
    lowered = _words(tool)
    return tool in ("HassTurnOff", "HassTurnOn", "HassSetPosition") or any(
        w in lowered for w in ("unlock", "disarm", "open")
    )


def verb(tool: str, args: Mapping[str, Any], entity: Entity) -> Verb | None:
    """What calling `tool` on `entity` would do that needs care, if anything."""
    lowered = _words(tool)
    if entity.domain == "lock" and (tool == "HassTurnOff" or "unlock" in lowered):
        return "unlock"
    if entity.domain == "alarm_control_panel" and (tool == "HassTurnOff" or "disarm" in lowered):
        return "disarm"
    if entity.domain == "cover" and entity.device_class in OPEN_DEVICE_CLASSES:
        position = args.get("position")
        opens_to = isinstance(position, int | float) and not isinstance(position, bool)
        if (
            tool == "HassTurnOn"
            or "open" in lowered
            or (tool == "HassSetPosition" and (not opens_to or position > 0))
        ):
            return "open"
    return None


def _texts(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value.strip().casefold()} if value.strip() else set()
    if isinstance(value, list):
        return {v.strip().casefold() for v in value if isinstance(v, str) and v.strip()}
    return set()


def candidates(args: Mapping[str, Any], entities: Iterable[Entity]) -> list[Entity]:
    """The entities the call may act on (a superset when the name is unknown to us)."""
    names, areas = _texts(args.get("name")), _texts(args.get("area"))
    domains, classes = _texts(args.get("domain")), _texts(args.get("device_class"))
    pool = [
        e
        for e in entities
        if (not domains or e.domain in domains)
        and (not classes or e.device_class in classes)
        and (not areas or not e.areas or any(a.casefold() in areas for a in e.areas))
    ]
    if not names:
        return pool
    wanted = {_normal(n) for n in names}
    named = [e for e in pool if any(_normal(n) in wanted for n in e.names)]
    if named:
        return named
    # A name we cannot place (an alias we do not see, a near miss Home Assistant may still
    # match): any entity sharing a word with it may be the target.
    words = {w for n in wanted for w in n.split() if len(w) >= 3}
    return [e for e in pool if any(words & set(_normal(n).split()) for n in e.names)]


def _normal(name: str) -> str:
    """Names compared as Home Assistant does: case and punctuation ignored."""
    kept = "".join(ch if ch.isalnum() else " " for ch in name.casefold())
    return " ".join(kept.split())


def risks(tool: str, args: Mapping[str, Any], entities: Iterable[Entity]) -> list[Risk]:
    """The entities this call would unlock, disarm or open."""
    if not needs_context(tool):
        return []
    out = []
    for entity in candidates(args, entities):
        v = verb(tool, args, entity)
        if v is not None:
            out.append(Risk(entity, v))
    return out
