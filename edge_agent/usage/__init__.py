"""What the Realtime turns cost: prices, per-response cost, the on-disk ledger, the budget.

prices.py    Prices per model (shipped table; ``[[usage.prices]]`` overrides)     pure
cost.py      Usage + Prices → Cost (USD, cached tokens at the cached rate)        pure
budget.py    Totals + [budget] + now → Verdict (ok / warn / use_model / refuse)   pure
ledger.py    UsageLedger: SQLite rows per response, local day/month sums          I/O
governor.py  Budget: the ledger through the policy, journal line on each change   I/O
"""

from edge_agent.usage.budget import Totals, Verdict, verdict
from edge_agent.usage.cost import Cost, cost_of
from edge_agent.usage.governor import Budget, open_usage
from edge_agent.usage.ledger import LEDGER_NAME, TurnRow, UsageLedger
from edge_agent.usage.prices import SHIPPED_PRICES, Prices, PriceTable

__all__ = [
    "LEDGER_NAME",
    "SHIPPED_PRICES",
    "Budget",
    "Cost",
    "PriceTable",
    "Prices",
    "Totals",
    "TurnRow",
    "UsageLedger",
    "Verdict",
    "cost_of",
    "open_usage",
    "verdict",
]
