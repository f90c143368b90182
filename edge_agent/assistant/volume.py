"""The speaker volume the user sets by voice: percent, steps, a ceiling, saved across restarts.

`next_volume` is the pure rule (a percentage or a step up/down, clamped to 0..``volume.max_pct``).
`VolumeControl` keeps the current percentage in the assistant store and tells its listeners the
new playback gain: ``audio.volume × percent / 100`` (linear amplitude, so "30 %" is a gain of
0.3 × audio.volume, the figure the e2e rig measures). The pipeline subscribes
``Playback.set_volume`` so replies and earcons (both go through `Playback.write`) follow it.

Must not: touch audio itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final, Literal

from edge_agent.assistant.store import AssistantStore
from edge_agent.config import VolumeConfig
from edge_agent.errors import ToolError

__all__ = ["SETTING", "VolumeControl", "next_volume"]

log = logging.getLogger(__name__)

SETTING: Final = "volume_pct"
Change = Literal["up", "down"]


def next_volume(
    current: int, cfg: VolumeConfig, *, percent: float | None = None, change: str = ""
) -> int:
    """The volume after a request: `percent` (0-100) or `change` "up"/"down" one step.

    Raises:
        ToolError: bad_arguments (neither or both given, or a percentage outside 0-100).
    """
    if (percent is None) == (not change):
        raise ToolError("bad_arguments", "give either percent (0-100) or change ('up'/'down')")
    if percent is not None:
        if not 0 <= percent <= 100:
            raise ToolError("bad_arguments", f"{percent:g} % is not a volume; use 0 to 100")
        wanted = round(percent)
    else:
        wanted = current + (cfg.step_pct if change == "up" else -cfg.step_pct)
    return max(0, min(cfg.max_pct, wanted))


class VolumeControl:
    """The current volume, persisted; ``await load()`` once, then `set`/`describe`."""

    def __init__(self, cfg: VolumeConfig, store: Callable[[], Any], base_gain: float = 1.0):
        """`store` is an async callable returning the (opened) `AssistantStore`."""
        self.cfg = cfg
        self.base_gain = base_gain
        self._store = store
        self.percent = min(cfg.default_pct, cfg.max_pct)
        self._listeners: list[Callable[[float], None]] = []
        self._loaded = False

    @property
    def gain(self) -> float:
        """The playback gain for the current volume."""
        return self.base_gain * self.percent / 100

    def on_change(self, listener: Callable[[float], None]) -> None:
        """Call `listener(gain)` now and whenever the volume changes (e.g. Playback.set_volume)."""
        self._listeners.append(listener)
        listener(self.gain)

    async def load(self) -> None:
        """Read the saved volume (clamped to today's ``max_pct``); keeps the default on errors."""
        if self._loaded:
            return
        self._loaded = True
        store: AssistantStore = await self._store()
        saved = await store.get_setting(SETTING)
        if saved is not None and saved.isdigit():
            self._apply(min(int(saved), 100, self.cfg.max_pct))

    async def set(self, *, percent: float | None = None, change: str = "") -> dict[str, Any]:
        """Apply a request, save it, and say the result (the tool's answer)."""
        await self.load()
        before = self.percent
        after = next_volume(before, self.cfg, percent=percent, change=change)
        store: AssistantStore = await self._store()
        await store.set_setting(SETTING, str(after))
        self._apply(after)
        out: dict[str, Any] = {"volume_pct": after, "was_pct": before}
        asked = percent if percent is not None else before + (1 if change == "up" else -1)
        if after == self.cfg.max_pct and asked > after:
            out["note"] = f"{self.cfg.max_pct} % is the highest volume allowed here"
        return out

    async def describe(self) -> dict[str, Any]:
        await self.load()
        return {"volume_pct": self.percent, "max_pct": self.cfg.max_pct}

    def _apply(self, percent: int) -> None:
        self.percent = percent
        for listener in self._listeners:
            try:
                listener(self.gain)
            except Exception:  # a broken listener must not stop the others
                log.exception("volume listener failed")
