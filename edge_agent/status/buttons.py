"""The mute and talk buttons: gpiozero edges in, state-machine events out on the event loop.

    mute pressed                         -> MuteToggle
    talk tapped (released before hold_s) -> TalkPressed
    talk held for hold_s                 -> Cancel (at once, while still held; no TalkPressed)

gpiozero calls back on its own thread. `_on_edge` only stamps the time and hands the edge to the
loop with ``loop.call_soon_threadsafe``; debouncing and tap/hold timing (`presses.PressTracker`,
pure) and the `on_event` call happen on the loop. `on_event` is never called from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from edge_agent.config import ButtonsConfig
from edge_agent.errors import GpioError
from edge_agent.states import Cancel, Event, MuteToggle, TalkPressed
from edge_agent.status.presses import Gesture, PressTracker

if TYPE_CHECKING:
    from gpiozero import Factory  # type: ignore[import-untyped]

__all__ = ["Buttons"]

log = logging.getLogger(__name__)

Role = Literal["mute", "talk"]

_EVENTS: dict[tuple[Role, Gesture], Callable[[], Event]] = {
    ("mute", "down"): MuteToggle,
    ("talk", "tap"): TalkPressed,
    ("talk", "hold"): Cancel,
}


class Buttons:
    """The configured buttons; each press becomes one event passed to `on_event` on `loop`."""

    def __init__(
        self,
        cfg: ButtonsConfig,
        on_event: Callable[[Event], None],
        *,
        loop: asyncio.AbstractEventLoop,
        pin_factory: Factory | None = None,
        strict: bool = False,
    ) -> None:
        """Open the buttons' pins (none configured: nothing to do).

        Args:
            on_event: called on `loop` with MuteToggle, TalkPressed or Cancel.
            pin_factory: gpiozero pin factory (tests pass a MockFactory); None = gpiozero's choice.
            strict: raise `GpioError` instead of logging it and running without buttons.

        Raises:
            GpioError: only with `strict`: a pin is busy or invalid, or there is no GPIO.
        """
        self._on_event = on_event
        self._loop = loop
        self._devices: dict[Role, Any] = {}
        self._trackers: dict[Role, PressTracker] = {}
        self._timers: dict[Role, asyncio.TimerHandle] = {}
        self.error: GpioError | None = None
        pins: dict[Role, str] = {"mute": cfg.mute_pin.strip(), "talk": cfg.talk_pin.strip()}
        if not any(pins.values()):
            log.info("buttons: none configured (status.buttons.mute_pin/talk_pin)")
            return
        try:
            for role, pin in pins.items():
                if pin:
                    self._devices[role] = self._open(role, pin, cfg, pin_factory)
                    self._trackers[role] = PressTracker(
                        bounce_s=cfg.bounce_ms / 1000, hold_s=cfg.hold_s
                    )
        except GpioError as exc:
            self.close()
            if strict:
                raise
            self.error = exc
            level = logging.ERROR if exc.pin else logging.WARNING  # busy pin vs no gpio here
            log.log(level, "buttons off: %s", exc, extra={"ERROR_CODE": "gpio", "DEVICE": exc.pin})
            return
        log.info("buttons: %s", ", ".join(f"{r} on {p}" for r, p in pins.items() if p))

    @property
    def is_enabled(self) -> bool:
        """At least one button is there."""
        return bool(self._devices)

    def close(self) -> None:
        """Release the pins; pending timers are cancelled."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for device in self._devices.values():
            device.close()
        self._devices.clear()
        self._trackers.clear()

    def _open(self, role: Role, pin: str, cfg: ButtonsConfig, pin_factory: Factory | None) -> Any:
        from gpiozero import Button

        from edge_agent.status.gpio import open_device

        pull_up = {"up": True, "down": False, "none": None}[cfg.pull]
        active_state = None if cfg.pull != "none" else cfg.active == "high"
        button = open_device(
            lambda: Button(
                pin, pull_up=pull_up, active_state=active_state, pin_factory=pin_factory
            ),
            pin=pin,
            key=f"status.buttons.{role}_pin",
        )
        button.when_activated = lambda: self._on_edge(role, True)
        button.when_deactivated = lambda: self._on_edge(role, False)
        return button

    def _on_edge(self, role: Role, is_pressed: bool) -> None:
        """Runs on gpiozero's thread: stamp the time, hand the edge to the loop, return."""
        now_s = time.monotonic()  # the clock asyncio's loop.time() uses
        with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down
            self._loop.call_soon_threadsafe(self._edge, role, is_pressed, now_s)

    def _edge(self, role: Role, is_pressed: bool, now_s: float) -> None:
        tracker = self._trackers.get(role)
        if tracker is not None:
            self._dispatch(role, tracker.edge(is_pressed, now_s))

    def _poll(self, role: Role) -> None:
        self._timers.pop(role, None)
        tracker = self._trackers.get(role)
        if tracker is not None:
            self._dispatch(role, tracker.poll(self._loop.time()))

    def _dispatch(self, role: Role, gestures: list[Gesture]) -> None:
        tracker = self._trackers[role]
        for gesture in gestures:
            make = _EVENTS.get((role, gesture))
            if make is not None:
                log.debug("button %s: %s", role, gesture)
                self._on_event(make())
        timer = self._timers.pop(role, None)
        if timer is not None:
            timer.cancel()
        due_s = tracker.next_poll_s()
        if due_s is not None:
            self._timers[role] = self._loop.call_at(due_s, self._poll, role)
