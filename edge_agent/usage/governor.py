"""`Budget`: the ledger's totals through the pure policy, and one journal line per change.

The turn core asks at wake (``await budget.verdict(now)``) and acts on the answer:
``refuse`` → earcon + short local notice, no session; ``use_model`` → the next session's model
is `Verdict.model`; ``warn``/``ok`` → go on. The verdict is logged (fields BUDGET,
BUDGET_REASON, MODEL) only when it changes, so a refused household does not flood the journal.
"""

from __future__ import annotations

import datetime as dt
import logging

from edge_agent.config import BudgetConfig, Config
from edge_agent.usage.budget import Verdict, verdict
from edge_agent.usage.ledger import LEDGER_NAME, UsageLedger
from edge_agent.usage.prices import PriceTable

__all__ = ["Budget", "open_usage"]

log = logging.getLogger(__name__)


class Budget:
    """The budget of one daemon: its config, its ledger and the configured model."""

    def __init__(self, config: BudgetConfig, ledger: UsageLedger, model: str) -> None:
        self.config = config
        self.ledger = ledger
        self.model = model
        self.last: Verdict | None = None

    async def verdict(self, now: dt.datetime) -> Verdict:
        """The verdict for a session opened at `now` (aware); logs a change of verdict."""
        totals = await self.ledger.totals(now)
        result = verdict(totals, self.config, self.model, now, self.ledger.tz)
        previous, self.last = self.last, result
        if previous is None or (previous.action, previous.reached, previous.model) != (
            result.action,
            result.reached,
            result.model,
        ):
            level = logging.INFO if result.action == "ok" else logging.WARNING
            if previous is None and result.action == "ok":
                level = logging.DEBUG
            log.log(
                level,
                "budget: %s",
                result.reason,
                extra={
                    "BUDGET": result.action,
                    "BUDGET_REASON": result.reason,
                    "MODEL": result.model,
                },
            )
        return result


async def open_usage(cfg: Config, *, tz: dt.tzinfo | None = None) -> tuple[UsageLedger, Budget]:
    """The daemon's ledger (``<state_dir>/usage.sqlite3``) and budget, from the config.

    Raises:
        OSError: the ledger cannot be opened (the daemon should log it and run without one).
    """
    ledger = await UsageLedger.open(
        cfg.state_dir / LEDGER_NAME,
        PriceTable.from_config(cfg.usage),
        tz=tz,
        keep_days=cfg.usage.keep_days,
    )
    return ledger, Budget(cfg.budget, ledger, cfg.realtime.model)
