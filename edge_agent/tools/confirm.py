"""Spoken confirmation of sensitive actions (locks, garage doors, alarms, `sensitive` devices).

Pure: time is an argument, text comes in as arguments. The first call of a sensitive action
stores it as a `PendingAction` and returns a short one-time id; ``confirm_action(id)`` runs
*that stored action* (the model cannot change device, action or values) only if all hold:

- the user answered in the first user turn after the request (`new_user_turn`, then
  `user_transcript` with that turn's transcript, both from the daemon, never from the model);
- that transcript is affirmative: after case, punctuation and a "please"/"thanks" around it are
  ignored, it is exactly one of the configured yes-phrases (``tools.confirm_words``). "No",
  "yes but not the garage", the TV talking, anything else cancels the id;
- it is within ``tools.confirm_timeout_s`` of issue, and the id was not used before.

A second user turn without a yes cancels the id too (consent is for the next answer, not for
whatever is said within 30 s). Silence, a turn whose transcript never arrives, is a no: the
home tools wait briefly for it, then `cancel` the id.

Entry points used by other tool sources (keep them small and stable): `request`, `redeem`,
`status`, `cancel`, `new_user_turn`, `user_transcript`, `wants_user_transcript`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from edge_agent.tools.registry import ToolFailure

__all__ = [
    "DEFAULT_YES",
    "ConfirmationStatus",
    "Confirmations",
    "PendingAction",
    "is_affirmative",
]

DEFAULT_YES: Final = ("yes", "yeah", "yep", "sure", "ok", "okay", "do it", "go ahead", "confirm")
MAX_ANSWER_CHARS: Final = 60
"""A longer transcript is not a yes, whatever it contains ("yes, and also unlock the…")."""
_POLITE: Final = frozenset(
    {
        "please", "thanks", "thank you", "bitte", "danke", "merci", "s il vous plaît",
        "por favor", "per favore", "graag", "alstublieft", "dank je",
    }
)  # fmt: skip
_NOT_WORD: Final = re.compile(r"[^\w\s]|_")

ConfirmationStatus = Literal["unknown", "declined", "needs_user", "awaiting_answer", "approved"]


def _normal(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.lower()).split())


def is_affirmative(text: str, yes_phrases: Iterable[str]) -> bool:
    """Whether the transcript `text` is a plain yes: only yes phrases ("yes, do it", "yes,
    go ahead") and politeness ("yes please"), with at least one yes; anything else is not."""
    if len(text) > MAX_ANSWER_CHARS:
        return False
    yes = {_normal(p) for p in yes_phrases}
    words = _normal(text).split()
    said_yes = False
    while words:
        for n in (3, 2, 1):
            head = " ".join(words[:n])
            if len(words) >= n and (head in yes or head in _POLITE):
                said_yes = said_yes or head in yes
                words = words[n:]
                break
        else:
            return False  # a word that is neither a yes nor politeness
    return said_yes


@dataclass(frozen=True, slots=True)
class PendingAction:
    """An action waiting for the user's yes."""

    device: str  # device name, or "area:<name>" for area actions
    action: str  # tool name: set_power, set_light
    arguments: tuple[tuple[str, Any], ...]
    issued_at: float
    turn: int
    approved: bool = False  # the first user turn after `turn` said yes


class Confirmations:
    """Issues and redeems confirmation ids."""

    def __init__(
        self,
        ttl_s: float,
        *,
        yes_phrases: Iterable[str] = DEFAULT_YES,
        token: Callable[[], str] = lambda: "c-" + secrets.token_hex(4),
    ) -> None:
        self.ttl_s = ttl_s
        self.yes_phrases = tuple(yes_phrases)
        self._token = token
        self._turn = 0
        self._pending: dict[str, PendingAction] = {}
        self._declined: dict[str, float] = {}  # id -> issued_at, to say "declined" not "unknown"

    # -- what the daemon reports ---------------------------------------------------------------
    def new_user_turn(self) -> None:
        """The user started speaking again: the answer to ids issued before now is this turn.

        Ids whose answer turn has passed without a yes are cancelled.
        """
        self._turn += 1
        for ident, pending in list(self._pending.items()):
            if pending.turn < self._turn - 1 and not pending.approved:
                self._decline(ident)

    def user_transcript(self, text: str) -> None:
        """The transcript of the current user turn: a yes approves the ids it answers, else
        they are cancelled. Only the first transcript of a turn counts."""
        yes = is_affirmative(text, self.yes_phrases)
        for ident, pending in list(self._pending.items()):
            if pending.turn != self._turn - 1 or pending.approved:
                continue
            if yes:
                self._pending[ident] = replace(pending, approved=True)
            else:
                self._decline(ident)

    def wants_user_transcript(self, now: float) -> bool:
        """True while an id waits for the user's answer (transcription must be on for it)."""
        self._expire(now)
        return any(not p.approved and p.turn >= self._turn - 1 for p in self._pending.values())

    # -- what tools call -----------------------------------------------------------------------
    def request(self, device: str, action: str, arguments: dict[str, Any], now: float) -> str:
        """Store the action; return its confirmation id."""
        self._expire(now)
        ident = self._token()
        self._pending[ident] = PendingAction(
            device, action, tuple(sorted(arguments.items())), now, self._turn
        )
        return ident

    def status(self, ident: str, now: float) -> ConfirmationStatus:
        """Where `ident` stands: not (any more) known, declined, waiting for the user to speak,
        spoken but its transcript not yet reported, or approved."""
        self._expire(now)
        pending = self._pending.get(ident)
        if pending is None:
            return "declined" if ident in self._declined else "unknown"
        if pending.approved:
            return "approved"
        return "needs_user" if pending.turn >= self._turn else "awaiting_answer"

    def cancel(self, ident: str) -> None:
        """Forget `ident` as declined (e.g. its turn's transcript never came: silence)."""
        if ident in self._pending:
            self._decline(ident)

    def redeem(self, ident: str, now: float) -> PendingAction:
        """The stored action for `ident`, consumed. Raises ToolFailure when not (yet) valid."""
        status = self.status(ident, now)
        if status == "unknown":
            raise ToolFailure(
                "invalid_confirmation",
                "unknown, used or expired confirmation id; ask the user again and repeat the "
                "original request",
            )
        if status == "declined":
            raise ToolFailure(
                "confirmation_declined",
                "the user did not answer yes; nothing was done. Repeat the original request "
                "only if the user asks again",
            )
        pending = self._pending[ident]
        if status != "approved":
            raise ToolFailure(
                "confirmation_needs_user",
                "ask the user and wait for a spoken yes before confirming",
                device=pending.device,
            )
        del self._pending[ident]
        return pending

    # -- internals -----------------------------------------------------------------------------
    def _decline(self, ident: str) -> None:
        self._declined[ident] = self._pending.pop(ident).issued_at

    def _expire(self, now: float) -> None:
        for ident, pending in list(self._pending.items()):
            if now - pending.issued_at > self.ttl_s:
                del self._pending[ident]
        for ident, issued_at in list(self._declined.items()):
            if now - issued_at > self.ttl_s:
                del self._declined[ident]
