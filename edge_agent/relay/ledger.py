"""What each satellite spent and minted, per local day and per month (pure, JSON round trip).

The relay cannot see the conversation itself (a satellite talks to OpenAI directly with its
secret), so costs come from the satellites' usage reports; mints are counted by the relay.
Days are the relay's local dates (``2026-12-02``), months ``2026-12``. Old days are pruned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

__all__ = ["Ledger", "Totals"]

KEEP_DAYS: Final = 62
KEEP_MONTHS: Final = 13


@dataclass(frozen=True, slots=True)
class Totals:
    usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    mints: int = 0
    reports: int = 0

    def plus(self, other: Totals) -> Totals:
        return Totals(
            self.usd + other.usd,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.mints + other.mints,
            self.reports + other.reports,
        )


class Ledger:
    """Totals keyed by (period, satellite); a period is a day or a month string."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, str], Totals] = {}
        self._months: dict[tuple[str, str], Totals] = {}

    def add(self, satellite: str, day: str, delta: Totals) -> None:
        month = day[:7]
        for table, key in ((self._days, (day, satellite)), (self._months, (month, satellite))):
            table[key] = table.get(key, Totals()).plus(delta)
        self._prune(day)

    def day(self, day: str, satellite: str | None = None) -> Totals:
        """One satellite's totals that day, or the household's when `satellite` is None."""
        return self._sum(self._days, day, satellite)

    def month(self, month: str, satellite: str | None = None) -> Totals:
        return self._sum(self._months, month, satellite)

    def satellites(self) -> set[str]:
        return {sat for _, sat in self._months}

    @staticmethod
    def _sum(table: dict[tuple[str, str], Totals], period: str, satellite: str | None) -> Totals:
        if satellite is not None:
            return table.get((period, satellite), Totals())
        total = Totals()
        for (p, _), t in table.items():
            if p == period:
                total = total.plus(t)
        return total

    def _prune(self, today: str) -> None:
        days = sorted({d for d, _ in self._days}, reverse=True)[KEEP_DAYS:]
        months = sorted({m for m, _ in self._months}, reverse=True)[KEEP_MONTHS:]
        for key in [k for k in self._days if k[0] in days]:
            del self._days[key]
        for key in [k for k in self._months if k[0] in months]:
            del self._months[key]

    # -- JSON ---------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        def rows(table: dict[tuple[str, str], Totals]) -> list[dict[str, Any]]:
            return [
                {
                    "period": p,
                    "satellite": s,
                    "usd": round(t.usd, 6),
                    "input_tokens": t.input_tokens,
                    "output_tokens": t.output_tokens,
                    "mints": t.mints,
                    "reports": t.reports,
                }
                for (p, s), t in sorted(table.items())
            ]

        return {"version": 1, "days": rows(self._days), "months": rows(self._months)}

    @classmethod
    def from_json(cls, data: object) -> Ledger:
        """Raises ValueError on anything but what `to_json` writes."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError('expected {"version": 1, "days": [...], "months": [...]}')
        ledger = cls()
        for name, table in (("days", ledger._days), ("months", ledger._months)):
            rows = data.get(name)
            if not isinstance(rows, list):
                raise ValueError(f'expected a "{name}" list')
            for row in rows:
                try:
                    key = (str(row["period"]), str(row["satellite"]))
                    t = Totals(
                        float(row["usd"]),
                        int(row["input_tokens"]),
                        int(row["output_tokens"]),
                        int(row["mints"]),
                        int(row["reports"]),
                    )
                except (KeyError, TypeError, ValueError):
                    raise ValueError(f"a bad row in {name!r}") from None
                table[key] = replace(t)
        return ledger
