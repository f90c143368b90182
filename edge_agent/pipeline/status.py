"""The status component: the LED shows every state, the buttons post MuteToggle/TalkPressed/Cancel.

No GPIO configured, or not a Pi: the LED is a no-op and the daemon still runs (see
`edge_agent.status`). gpiozero is imported when the component starts, not at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from edge_agent.app import Handlers
from edge_agent.config import StatusConfig
from edge_agent.states import Event, State
from edge_agent.turn.actions import Ring, ShowBudget, StateChanged

__all__ = ["StatusPanel"]


class StatusPanel:
    """LEDs and buttons as an App component; `pin_factory` is gpiozero's (MockFactory in tests)."""

    name = "status"

    def __init__(self, config: StatusConfig, *, pin_factory: Any = None) -> None:
        self.config = config
        self.pin_factory = pin_factory
        self.leds: Any = None
        self.buttons: Any = None

    async def start(self, post: Callable[[Event], None]) -> None:
        from edge_agent.status.buttons import Buttons
        from edge_agent.status.leds import StatusLeds

        self.leds = StatusLeds(self.config, pin_factory=self.pin_factory)
        self.leds.show(State.IDLE)
        self.buttons = Buttons(
            self.config.buttons,
            post,
            loop=asyncio.get_running_loop(),
            pin_factory=self.pin_factory,
        )

    def handlers(self) -> Handlers:
        return {StateChanged: self._show, ShowBudget: self._show_budget, Ring: self._ring}

    def _ring(self, action: Ring) -> None:
        if self.leds is not None:
            self.leds.set_ringing(action.on)

    def _show_budget(self, action: ShowBudget) -> None:
        if self.leds is not None:
            self.leds.set_budget_reached(action.reached)

    def _show(self, action: StateChanged) -> None:
        if self.leds is not None:
            self.leds.show(action.new)

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        if self.buttons is not None:
            self.buttons.close()
        if self.leds is not None:
            await asyncio.to_thread(self.leds.close)  # joins the LED thread
