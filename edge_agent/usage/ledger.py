"""The cost ledger: one row per ``response.done``, sums per local day and month, on disk.

Stored in SQLite under the state directory (``<state_dir>/usage.sqlite3``, mode 0600; WAL,
``synchronous=NORMAL``: a power cut may lose the last row, never the file). Each row carries
its local day and month, computed when it is written from the injected `now` and time zone, so
the day rolls over at local midnight and a later time-zone change does not move old turns.
Blocking SQLite calls run on the ledger's own single worker thread (one connection, calls in
order) with a short busy timeout: `edge-agent usage` reading while the daemon writes waits at
most that long, and nothing ever blocks the event loop.

    ledger = await UsageLedger.open(path, PriceTable(overrides))
    cost = await ledger.record("turn-3", "gpt-realtime-2.1", usage, now)   # per response.done
    totals = await ledger.totals(now)                                      # budget, `usage`
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from edge_agent.realtime.events import Usage
from edge_agent.usage.budget import Totals, local_day, local_month
from edge_agent.usage.cost import cost_of
from edge_agent.usage.prices import PriceTable

__all__ = ["BUSY_TIMEOUT_MS", "LEDGER_NAME", "LedgerStore", "TurnRow", "UsageLedger"]

LEDGER_NAME: Final = "usage.sqlite3"
BUSY_TIMEOUT_MS: Final = 250
_MAX_TOKENS: Final = 10**9
"""Token counts are capped here: a garbled frame must not overflow SQLite's integers."""
T = TypeVar("T")

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS responses (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        day TEXT NOT NULL,
        month TEXT NOT NULL,
        turn_id TEXT NOT NULL,
        model TEXT NOT NULL,
        usd REAL NOT NULL,
        priced INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        input_audio_tokens INTEGER NOT NULL,
        output_audio_tokens INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS responses_day ON responses(day)",
    "CREATE INDEX IF NOT EXISTS responses_month ON responses(month)",
    "CREATE INDEX IF NOT EXISTS responses_turn ON responses(turn_id, at)",
)


@dataclass(frozen=True, slots=True)
class TurnRow:
    """One turn (all its responses) as `edge-agent usage` shows it."""

    turn_id: str
    at: float
    """Unix time of its last response."""
    day: str
    model: str
    usd: float
    responses: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    priced: bool
    """False when the model had no price (the cost counts as 0)."""


class LedgerStore:
    """The SQLite side; blocking, one thread at a time (`UsageLedger` gives it its own)."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        """Open (or with `create`, create) the ledger.

        Raises:
            FileNotFoundError: not `create` and no ledger yet (nothing was ever recorded).
            OSError: it cannot be opened (permissions, a corrupt file).
        """
        self.path = Path(path)
        if not create and not self.path.exists():
            raise FileNotFoundError(f"no usage ledger at {str(self.path)!r} yet")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if create and not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,  # opened on the caller's thread, used on the worker's
            )
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the usage ledger {str(self.path)!r}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def add(
        self,
        at: float,
        day: str,
        month: str,
        turn_id: str,
        model: str,
        usd: float,
        priced: bool,
        usage: Usage,
    ) -> None:
        self._db.execute(
            "INSERT INTO responses(at, day, month, turn_id, model, usd, priced, input_tokens, "
            "cached_tokens, output_tokens, input_audio_tokens, output_audio_tokens) "
            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                at,
                day,
                month,
                turn_id[:64],
                model[:64],
                usd,
                int(priced),
                usage.input_tokens,
                usage.cached_tokens,
                usage.output_tokens,
                usage.input_audio_tokens,
                usage.output_audio_tokens,
            ),
        )

    def sum_day(self, day: str) -> float:
        (usd,) = self._db.execute(
            "SELECT COALESCE(SUM(usd), 0) FROM responses WHERE day=?", (day,)
        ).fetchone()
        return float(usd)

    def sum_month(self, month: str) -> float:
        (usd,) = self._db.execute(
            "SELECT COALESCE(SUM(usd), 0) FROM responses WHERE month=?", (month,)
        ).fetchone()
        return float(usd)

    def turn_usd(self, turn_id: str) -> float:
        (usd,) = self._db.execute(
            "SELECT COALESCE(SUM(usd), 0) FROM responses WHERE turn_id=?", (turn_id,)
        ).fetchone()
        return float(usd)

    def last_turns(self, limit: int) -> list[TurnRow]:
        rows = self._db.execute(
            "SELECT turn_id, MAX(at), MAX(day), MAX(model), SUM(usd), COUNT(*), "
            "SUM(input_tokens), SUM(cached_tokens), SUM(output_tokens), MIN(priced) "
            "FROM responses GROUP BY turn_id ORDER BY MAX(at) DESC, MAX(id) DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            TurnRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9])) for r in rows
        ]

    def prune(self, before: float) -> int:
        return self._db.execute("DELETE FROM responses WHERE at < ?", (before,)).rowcount


class UsageLedger:
    """The async face of the ledger; every call runs on its single worker thread."""

    def __init__(
        self,
        store: LedgerStore,
        prices: PriceTable,
        *,
        tz: dt.tzinfo | None = None,
        keep_days: int = 400,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self._store = store
        self.prices = prices
        self.tz = tz
        self.keep_days = keep_days
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="usage-ledger")
        self._pruned_day = ""

    @classmethod
    async def open(
        cls,
        path: Path | str,
        prices: PriceTable,
        *,
        tz: dt.tzinfo | None = None,
        keep_days: int = 400,
    ) -> UsageLedger:
        """Open (or create) the ledger at `path` off the loop. Raises OSError."""
        executor = ThreadPoolExecutor(1, thread_name_prefix="usage-ledger")
        loop = asyncio.get_running_loop()
        try:
            store = await loop.run_in_executor(executor, LedgerStore, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(store, prices, tz=tz, keep_days=keep_days, executor=executor)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def record(self, turn_id: str, model: str, usage: Usage, now: dt.datetime) -> float:
        """Store one response's usage; returns its cost in USD (0 for an unpriced model).

        Call it for every ``response.done`` (completed, cancelled or failed: all are billed).
        """
        usage = Usage(*(min(_MAX_TOKENS, max(0, getattr(usage, f))) for f in Usage.__slots__))
        prices = self.prices.get(model)
        usd = cost_of(usage, prices).total if prices is not None else 0.0
        day, month = local_day(now, self.tz), local_month(now, self.tz)
        at = now.timestamp()
        await self._run(
            self._store.add, at, day, month, turn_id, model, usd, prices is not None, usage
        )
        if day != self._pruned_day:  # once a day: drop rows older than keep_days
            self._pruned_day = day
            await self._run(self._store.prune, at - self.keep_days * 86400)
        return usd

    async def totals(self, now: dt.datetime) -> Totals:
        """The sums of `now`'s local day and month."""
        day, month = local_day(now, self.tz), local_month(now, self.tz)
        day_usd = await self._run(self._store.sum_day, day)
        month_usd = await self._run(self._store.sum_month, month)
        return Totals(day, day_usd, month, month_usd)

    async def turn_usd(self, turn_id: str) -> float:
        """What one turn cost so far (all its responses): the summary's COST_USD."""
        return await self._run(self._store.turn_usd, turn_id)

    async def last_turns(self, limit: int = 10) -> list[TurnRow]:
        return await self._run(self._store.last_turns, max(1, limit))

    async def aclose(self) -> None:
        with contextlib.suppress(RuntimeError):  # already shut down
            await self._run(self._store.close)
        self._executor.shutdown(wait=False)
