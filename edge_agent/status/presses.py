"""Button presses: debounce raw edges and tell a tap from a hold. Pure; time is an argument.

Debouncing here rather than in the pin driver gives every gpiozero pin factory the same
behaviour (the mock and native factories ignore ``bounce_time``; lgpio's debounce means "stable
for"), and makes it testable. A level counts once it has been stable for `bounce_s`, which
filters both contact bounce and short glitches, at the cost of `bounce_s` of latency.

Gestures, at most one of each per press::

    down   the button is pressed (stable)            -> mute toggles here
    tap    it was released before `hold_s`            -> talk
    hold   it has been held for `hold_s` (still down)  -> cancel; no tap follows
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["Gesture", "PressTracker"]

Gesture = Literal["down", "tap", "hold"]

_EPSILON_S: Final = 1e-4
"""Timers may fire a hair early; a deadline this close counts as reached."""


class PressTracker:
    """One button's debounce and press classification."""

    def __init__(self, *, bounce_s: float, hold_s: float) -> None:
        self.bounce_s = bounce_s
        self.hold_s = hold_s
        self._raw = False
        self._raw_since_s = 0.0
        self._is_pressed = False
        self._down_s = 0.0
        self._is_held = False

    @property
    def is_pressed(self) -> bool:
        """The debounced level."""
        return self._is_pressed

    def edge(self, is_pressed: bool, now_s: float) -> list[Gesture]:
        """The pin changed to `is_pressed` at `now_s`; poll again at `next_poll_s()`."""
        if is_pressed != self._raw:
            self._raw = is_pressed
            self._raw_since_s = now_s
        return self.poll(now_s)

    def poll(self, now_s: float) -> list[Gesture]:
        """Gestures completed by `now_s`."""
        out: list[Gesture] = []
        if (
            self._raw != self._is_pressed
            and now_s + _EPSILON_S >= self._raw_since_s + self.bounce_s
        ):
            self._is_pressed = self._raw
            if self._is_pressed:
                self._down_s = self._raw_since_s
                self._is_held = False
                out.append("down")
            elif not self._is_held:
                out.append("tap")
        if (
            self._is_pressed
            and not self._is_held
            and now_s + _EPSILON_S >= self._down_s + self.hold_s
        ):
            self._is_held = True
            out.append("hold")
        return out

    def next_poll_s(self) -> float | None:
        """When the next gesture may complete, or None if only an edge can change anything."""
        if self._raw != self._is_pressed:
            return self._raw_since_s + self.bounce_s
        if self._is_pressed and not self._is_held:
            return self._down_s + self.hold_s
        return None
