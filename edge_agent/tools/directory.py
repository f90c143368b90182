"""Finding configured devices by what the user called them: name, alias or area.

Pure: no I/O. Matching is case-insensitive, ignores "the"/punctuation/extra spaces, then tries
(1) an exact name or alias, (2) every spoken word contained in one name, (3) a close spelling
(difflib, for speech-to-text slips like "kitchen lite"). One match wins; several are
``ambiguous`` with the candidates, so the model can ask "which one?"; none is ``not_found``.
Only configured devices can ever be returned: the model's text is a lookup key, never an address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from edge_agent.config import DeviceConfig
from edge_agent.tools.registry import ToolFailure

__all__ = ["DeviceDirectory", "normalise"]

FUZZY_CUTOFF: Final = 0.75
_FILLER: Final = frozenset({"the", "a", "an", "my", "our", "in", "on", "of"})


def normalise(text: str) -> str:
    """Lower case, letters/digits/spaces only, no filler words."""
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    return " ".join(w for w in words if w not in _FILLER)


class DeviceDirectory:
    """The configured devices, indexed by normalised name, alias and area."""

    def __init__(self, devices: Iterable[DeviceConfig]) -> None:
        self.devices: tuple[DeviceConfig, ...] = tuple(devices)
        self._by_key: dict[str, DeviceConfig] = {}
        for dev in self.devices:
            for key in (dev.name, *dev.aliases):
                self._by_key.setdefault(normalise(key), dev)
        self._areas = {normalise(d.area): d.area for d in self.devices if d.area}

    def find(self, name: str, *, area: str | None = None) -> DeviceConfig:
        """The one device called `name` (within `area` when given)."""
        pool = self.in_area(area) if area else self.devices
        matches = _match(normalise(name), pool, self._by_key)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            where = f" in {area!r}" if area else ""
            raise ToolFailure(
                "not_found", f"no device called {name[:60]!r}{where}; call list_devices"
            )
        raise ToolFailure(
            "ambiguous",
            f"{name[:60]!r} could be {len(matches)} devices; ask the user which one",
            candidates=[d.name for d in matches[:6]],
        )

    def area_name(self, area: str) -> str:
        """The configured spelling of `area` (exact or close), else ``not_found``."""
        key = normalise(area)
        if key in self._areas:
            return self._areas[key]
        import difflib  # only on a miss (not resident in a daemon that was never asked)

        close = difflib.get_close_matches(key, list(self._areas), n=1, cutoff=FUZZY_CUTOFF)
        if close:
            return self._areas[close[0]]
        known = ", ".join(sorted(self._areas.values())) or "none configured"
        raise ToolFailure("not_found", f"no area called {area[:40]!r}; areas: {known}")

    def in_area(self, area: str) -> list[DeviceConfig]:
        name = self.area_name(area)
        return [d for d in self.devices if d.area == name]

    def select(self, device: str | None, area: str | None) -> list[DeviceConfig]:
        """Targets of an action: one named device, or every device in an area."""
        if device:
            return [self.find(device, area=area)]
        if area:
            return self.in_area(area)
        raise ToolFailure("bad_arguments", "name a device or an area")


def _match(
    key: str, pool: Sequence[DeviceConfig], by_key: dict[str, DeviceConfig]
) -> list[DeviceConfig]:
    if not key:
        return []
    allowed = {id(d) for d in pool}
    exact = by_key.get(key)
    if exact is not None and id(exact) in allowed:
        return [exact]
    keys = {k: d for k, d in by_key.items() if id(d) in allowed}
    words = key.split()
    contained = _unique(d for k, d in keys.items() if all(w in k.split() for w in words))
    if contained:
        return contained
    with_area = _unique(
        d for k, d in keys.items() if set(words) <= set(k.split()) | set(normalise(d.area).split())
    )
    if with_area:
        return with_area
    import difflib  # only on a miss, as above

    close = difflib.get_close_matches(key, list(keys), n=4, cutoff=FUZZY_CUTOFF)
    if not close:
        return []
    best = difflib.SequenceMatcher(None, key, close[0]).ratio()
    near = [k for k in close if difflib.SequenceMatcher(None, key, k).ratio() >= best - 0.05]
    return _unique(keys[k] for k in near)


def _unique(devices: Iterable[DeviceConfig]) -> list[DeviceConfig]:
    out: list[DeviceConfig] = []
    for dev in devices:
        if all(dev is not seen for seen in out):
            out.append(dev)
    return out
