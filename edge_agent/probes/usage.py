"""The doctor's budget line: today's and this month's spend from the ledger, through the policy.

Reads ``<daemon.state_dir>/usage.sqlite3`` without creating it (the doctor may run as another
user than the daemon) in a worker thread; a missing ledger means nothing was spent yet.
Must not: write the ledger or decide the verdict (`edge_agent.usage.budget` does).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from edge_agent.config import Config
from edge_agent.doctor import CheckResult, budget_result, fail
from edge_agent.probes.worker import in_thread
from edge_agent.usage.budget import Totals, local_day, local_month, verdict
from edge_agent.usage.ledger import LEDGER_NAME, LedgerStore

__all__ = ["budget", "read_totals"]


def read_totals(path: Path, now: dt.datetime, tz: dt.tzinfo | None = None) -> Totals:
    """The ledger's sums for `now`'s local day and month (zeros when there is no ledger)."""
    day, month = local_day(now, tz), local_month(now, tz)
    try:
        store = LedgerStore(path, create=False)
    except FileNotFoundError:
        return Totals(day, 0.0, month, 0.0)
    try:
        return Totals(day, store.sum_day(day), month, store.sum_month(month))
    finally:
        store.close()


async def budget(
    cfg: Config, now: dt.datetime | None = None, tz: dt.tzinfo | None = None
) -> CheckResult:
    """The verdict a session opened now would get."""
    now = now or dt.datetime.now(dt.UTC)
    path = cfg.state_dir / LEDGER_NAME
    try:
        totals = await in_thread(read_totals, path, now, tz)
    except OSError as exc:
        return fail(
            "budget",
            f"cannot read the usage ledger {str(path)!r}: {exc}",
            "run the doctor as the service user (sudo -u edge-agent edge-agent doctor)",
        )
    v = verdict(totals, cfg.budget, cfg.realtime.model, now, tz)
    return budget_result(v.action, v.reason, v.reached)
