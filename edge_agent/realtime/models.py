"""The Realtime models edge-agent knows: lifecycle, reasoning support and prices. Pure.

The table ships with the code because a device must warn about a shutdown even offline; the
service's own word (``GET /v1/models/{model}`` → optional ``shutdown_date``, see
`edge_agent.probes.models`) wins when it can be asked. Announced shutdowns (openai SDK 3.57's
types, realtime-protocol.md §1): ``gpt-realtime``, ``gpt-realtime-mini`` and their dated
snapshots on 2027-01-20.

Owns: `ModelInfo`, the table, the deprecation notice and the ``model_not_found`` message.
Must not: open sockets or read the clock (today's date is passed in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from edge_agent.usage.prices import SHIPPED_PRICES, Prices

__all__ = [
    "CHEAP_MODEL",
    "DEFAULT_MODEL",
    "MODELS",
    "Deprecation",
    "ModelInfo",
    "deprecation",
    "model_info",
    "model_not_found_message",
    "parse_shutdown_date",
    "takes_reasoning",
]

DEFAULT_MODEL: Final = "gpt-realtime-2.1"
CHEAP_MODEL: Final = "gpt-realtime-2.1-mini"
"""The cheap choice: ~1/3 of the default's price per turn (docs/cost.md), same 128k context."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One Realtime model as shipped in the table."""

    name: str
    shutdown: dt.date | None
    """Announced shutdown date; None when none is announced."""
    replacement: str
    """What to use instead once it is deprecated ("" for a current model)."""
    reasoning: bool
    """Takes ``reasoning.effort`` (the gpt-realtime-2.x family)."""
    prices: Prices | None


_SHUTDOWN_2027: Final = dt.date(2027, 1, 20)


def _row(name: str, shutdown: dt.date | None, replacement: str, reasoning: bool) -> ModelInfo:
    return ModelInfo(name, shutdown, replacement, reasoning, SHIPPED_PRICES.get(name))


MODELS: Final[Mapping[str, ModelInfo]] = {
    m.name: m
    for m in (
        _row("gpt-realtime-2.1", None, "", True),
        _row("gpt-realtime-2", None, "", True),
        _row("gpt-realtime-2.1-mini", None, "", True),
        _row("gpt-realtime-1.5", None, "", False),
        _row("gpt-realtime", _SHUTDOWN_2027, DEFAULT_MODEL, False),
        _row("gpt-realtime-2025-08-28", _SHUTDOWN_2027, DEFAULT_MODEL, False),
        _row("gpt-realtime-mini", _SHUTDOWN_2027, CHEAP_MODEL, False),
        _row("gpt-realtime-mini-2025-10-06", _SHUTDOWN_2027, CHEAP_MODEL, False),
        _row("gpt-realtime-mini-2025-12-15", _SHUTDOWN_2027, CHEAP_MODEL, False),
    )
}


def model_info(model: str) -> ModelInfo | None:
    """The table's row for `model` (exact name; Azure deployment names are not in it)."""
    return MODELS.get(model)


def takes_reasoning(model: str) -> bool:
    """Whether to send ``reasoning.effort``: the table says so, or a gpt-realtime-2.x name."""
    info = MODELS.get(model)
    if info is not None:
        return info.reasoning
    return model.startswith("gpt-realtime-2")  # a 2.x snapshot the table does not list yet


def parse_shutdown_date(value: object) -> dt.date | None:
    """The service's ``shutdown_date`` ("2027-01-20", maybe with a time) → a date, else None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Deprecation:
    """A configured model that is (or will be) shut down."""

    model: str
    shutdown: dt.date
    replacement: str
    source: str
    """Where the date comes from: 'service' (GET /v1/models) or 'table' (shipped)."""

    def message(self, today: dt.date) -> str:
        """One line for the journal and `doctor`: fact, date, days left, fix."""
        days = (self.shutdown - today).days
        when = (
            f"shut down since {self.shutdown.isoformat()}"
            if days < 0
            else f"shuts down on {self.shutdown.isoformat()} (in {days} day(s))"
        )
        fix = (
            f"set realtime.model = {self.replacement!r}"
            if self.replacement
            else "pick a current model"
        )
        return f"realtime.model {self.model!r} is deprecated and {when}; {fix}"


def deprecation(model: str, service_shutdown: dt.date | None, *, asked: bool) -> Deprecation | None:
    """Whether `model` is deprecated: the service's answer when `asked`, else the table's.

    Args:
        service_shutdown: ``shutdown_date`` from ``GET /v1/models/{model}`` (None: not set).
        asked: True when the service answered; its silence then means "not deprecated".
    """
    info = MODELS.get(model)
    replacement = info.replacement if info and info.replacement else _guess_replacement(model)
    if asked:
        if service_shutdown is None:
            return None
        return Deprecation(model, service_shutdown, replacement, "service")
    if info is None or info.shutdown is None:
        return None
    return Deprecation(model, info.shutdown, replacement, "table")


def _guess_replacement(model: str) -> str:
    return CHEAP_MODEL if "mini" in model else DEFAULT_MODEL


def model_not_found_message(model: str, detail: str = "") -> str:
    """The fatal error's text for ``model_not_found``: the model, why, and what to set.

    Args:
        model: the configured ``realtime.model`` (never a secret).
        detail: the service's message, already cleaned and capped by the parser.
    """
    info = MODELS.get(model)
    if info is not None and info.shutdown is not None:
        why = f"it was deprecated (shutdown {info.shutdown.isoformat()})"
        fix = f"set realtime.model = {info.replacement!r}"
    elif info is not None:
        why = "the key's project has no access to it"
        fix = (
            "give the project Realtime access, or set realtime.model = "
            f"{CHEAP_MODEL if model != CHEAP_MODEL else DEFAULT_MODEL!r}"
        )
    else:
        why = "the service does not know it (a typo, or on Azure: not a deployment name)"
        fix = f"set realtime.model = {_guess_replacement(model)!r} (Azure: your deployment's name)"
    said = f" (service: {detail.rstrip('.')})" if detail else ""
    return f"realtime model {model!r} not found{said}: {why}; {fix}"
