"""The cost keeper: every billed response into the ledger, the budget's verdict to the core.

Owns the usage ledger and the budget (`edge_agent.usage`), opened at start (a ledger that
cannot be opened is logged and the daemon runs without one). Carries out `RecordUsage` (store
the response's usage, then ask the budget again, and report it to the home relay when
`realtime.token_url` is set) and posts the verdict as `BudgetChanged` at start, after each
response and once a minute (the day rolls over at local midnight). Decides nothing: the policy
is `edge_agent.usage.budget`, what a verdict does to a turn is the turn core's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Final

import httpx

from edge_agent.app import Handlers
from edge_agent.config import Config
from edge_agent.realtime.event_types import Usage
from edge_agent.states import Event
from edge_agent.turn.actions import RecordUsage
from edge_agent.turn.events import BudgetChanged
from edge_agent.usage.cost import cost_of
from edge_agent.usage.governor import Budget, open_usage
from edge_agent.usage.ledger import UsageLedger
from edge_agent.usage.prices import PriceTable

__all__ = ["UsageKeeper", "response_cost"]

log = logging.getLogger(__name__)

_RECHECK_S: Final = 60.0


def response_cost(cfg: Config) -> Callable[[str, object], float | None]:
    """The turn core's `cost_usd(model, usage)`: the price table of the config, pure."""
    table = PriceTable.from_config(cfg.usage)

    def cost(model: str, usage: object) -> float | None:
        prices = table.get(model or cfg.realtime.model)
        if prices is None or not isinstance(usage, Usage):
            return None
        return cost_of(usage, prices).total

    return cost


class UsageKeeper:
    """The ledger and the budget as an App component."""

    name = "usage"

    def __init__(self, cfg: Config, http: httpx.AsyncClient | None = None) -> None:
        self.cfg = cfg
        self.http = http
        self.ledger: UsageLedger | None = None
        self.budget: Budget | None = None
        self._post: Callable[[Event], None] = lambda e: None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None

    async def start(self, post: Callable[[Event], None]) -> None:
        self._post = post
        try:
            self.ledger, self.budget = await open_usage(self.cfg)
        except OSError as exc:
            log.error(
                "usage ledger unavailable (%s); running without cost records or budget",
                exc,
                extra={"ERROR_CODE": "usage_ledger"},
            )
            return
        await self._check()
        self._watch = asyncio.create_task(self._recheck(), name="budget-watch")

    def handlers(self) -> Handlers:
        return {RecordUsage: self._record}

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        for task in [*self._tasks, *([self._watch] if self._watch else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ledger is not None:
            await self.ledger.aclose()

    def _record(self, action: RecordUsage) -> None:
        if self.ledger is None or not isinstance(action.usage, Usage):
            return
        task = asyncio.create_task(self._store(action), name="usage-record")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store(self, action: RecordUsage) -> None:
        assert self.ledger is not None and isinstance(action.usage, Usage)
        model = action.model or self.cfg.realtime.model
        usd = await self.ledger.record(action.turn_id, model, action.usage, _now())
        await self._check()
        rt = self.cfg.realtime
        if rt.token_url and self.http is not None:
            from edge_agent.relay.report import report_usage

            await report_usage(
                self.http,
                rt.token_url,
                self.cfg.api_key,
                turn_id=f"{action.turn_id}:{action.response_id}"[:64],
                cost_usd=usd,
                input_tokens=action.usage.input_tokens,
                output_tokens=action.usage.output_tokens,
                model=model,
            )

    async def _check(self) -> None:
        if self.budget is None:
            return
        v = await self.budget.verdict(_now())
        self._post(BudgetChanged(v.action, v.model, v.reason, v.reached))

    async def _recheck(self) -> None:
        while True:
            await asyncio.sleep(_RECHECK_S)
            try:
                await self._check()
            except Exception:  # a locked ledger must not end the watch
                log.warning("budget check failed", exc_info=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
