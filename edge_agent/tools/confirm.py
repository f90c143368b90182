"""Spoken confirmation of sensitive actions (locks, garage doors, alarms, `sensitive` devices).

Pure: time is an argument. The first call of a sensitive action stores it as a `PendingAction`
and returns a short one-time id; ``confirm_action(id)`` runs *that stored action* (the model
cannot change device, action or values) only if all hold:

- the daemon has seen a new user speech turn since the id was issued (`new_user_turn`, called
  by the app, never by the model: a model cannot confirm its own request in the same breath);
- it is within ``tools.confirm_timeout_s`` of issue;
- it was not used before (redeeming consumes it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_agent.tools.registry import ToolFailure

__all__ = ["Confirmations", "PendingAction"]


@dataclass(frozen=True, slots=True)
class PendingAction:
    """An action waiting for the user's yes."""

    device: str  # device name, or "area:<name>" for area actions
    action: str  # tool name: set_power, set_light
    arguments: tuple[tuple[str, Any], ...]
    issued_at: float
    turn: int


class Confirmations:
    """Issues and redeems confirmation ids."""

    def __init__(
        self, ttl_s: float, *, token: Callable[[], str] = lambda: "c-" + secrets.token_hex(4)
    ) -> None:
        self.ttl_s = ttl_s
        self._token = token
        self._turn = 0
        self._pending: dict[str, PendingAction] = {}

    def new_user_turn(self) -> None:
        """The user started speaking again: ids issued before now become redeemable."""
        self._turn += 1

    def request(self, device: str, action: str, arguments: dict[str, Any], now: float) -> str:
        """Store the action; return its confirmation id."""
        self._expire(now)
        ident = self._token()
        self._pending[ident] = PendingAction(
            device, action, tuple(sorted(arguments.items())), now, self._turn
        )
        return ident

    def redeem(self, ident: str, now: float) -> PendingAction:
        """The stored action for `ident`, consumed. Raises ToolFailure when not (yet) valid."""
        self._expire(now)
        pending = self._pending.get(ident)
        if pending is None:
            raise ToolFailure(
                "invalid_confirmation",
                "unknown, used or expired confirmation id; ask the user again and repeat the "
                "original request",
            )
        if pending.turn >= self._turn:
            raise ToolFailure(
                "confirmation_needs_user",
                "ask the user and wait for a spoken yes before confirming",
                device=pending.device,
            )
        del self._pending[ident]
        return pending

    def _expire(self, now: float) -> None:
        for ident, pending in list(self._pending.items()):
            if now - pending.issued_at > self.ttl_s:
                del self._pending[ident]
