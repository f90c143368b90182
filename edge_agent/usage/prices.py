"""What the Realtime models cost per 1M tokens, shipped and overridden from config. Pure.

The shipped figures are the model pages' list prices (../shared/realtime-protocol.md §7, late
2026). They go stale: a user who sees other figures on their bill sets ``[[usage.prices]]``
(config.py `PriceConfig`), which replaces the shipped row of that model entirely.
Must not: read config files, the clock or the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from edge_agent.config import UsageConfig

__all__ = ["SHIPPED_PRICES", "PriceTable", "Prices"]


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per 1M tokens, by kind; cached input is billed at its own, far lower rate."""

    text_in: float
    text_cached: float
    text_out: float
    audio_in: float
    audio_cached: float
    audio_out: float


_V1_5: Final = Prices(4.0, 0.40, 16.0, 32.0, 0.40, 64.0)
_V2: Final = Prices(4.0, 0.40, 24.0, 32.0, 0.40, 64.0)
_MINI: Final = Prices(0.60, 0.06, 2.40, 10.0, 0.30, 20.0)

SHIPPED_PRICES: Final[Mapping[str, Prices]] = {
    "gpt-realtime-2.1": _V2,
    "gpt-realtime-2": _V2,
    "gpt-realtime-2.1-mini": _MINI,
    "gpt-realtime-1.5": _V1_5,
    # deprecated, shutdown 2027-01-20 (priced as the pages they now point to)
    "gpt-realtime": _V1_5,
    "gpt-realtime-2025-08-28": _V1_5,
    "gpt-realtime-mini": _MINI,
    "gpt-realtime-mini-2025-10-06": _MINI,
    "gpt-realtime-mini-2025-12-15": _MINI,
}


class PriceTable:
    """The shipped prices with the config's rows laid over them (a row replaces a model's)."""

    def __init__(
        self,
        overrides: Iterable[tuple[str, Prices]] = (),
        shipped: Mapping[str, Prices] = SHIPPED_PRICES,
    ) -> None:
        self._rows: dict[str, Prices] = {**shipped, **dict(overrides)}

    @classmethod
    def from_config(cls, usage: UsageConfig) -> PriceTable:
        """The shipped table with the ``[[usage.prices]]`` rows laid over it."""
        return cls(
            (r.model, Prices(r.text_in, r.text_cached, r.text_out, r.audio_in, r.audio_cached,
                             r.audio_out))
            for r in usage.prices
        )  # fmt: skip

    def get(self, model: str) -> Prices | None:
        """The prices of `model`; None when neither the shipped table nor the config has it."""
        return self._rows.get(model)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self._rows)
