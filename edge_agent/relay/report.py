"""The satellite's side of the relay's budget: report what a turn cost, after the turn.

The daemon calls `report_usage()` once per finished turn when `realtime.token_url` is set
(the relay cannot see the conversation; its budgets count these reports). It never raises:
a report that fails is logged and dropped, the turn is not affected. The turn id makes a
retried report count once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from edge_agent.config import Secret

__all__ = ["RelayTotals", "report_usage", "usage_url"]

log = logging.getLogger(__name__)

MINT_SUFFIX = "/v1/realtime/client_secrets"


@dataclass(frozen=True, slots=True)
class RelayTotals:
    """What the relay has counted for this satellite after the report."""

    today_usd: float
    month_usd: float


def usage_url(token_url: str) -> str:
    """``https://relay:8443/v1/realtime/client_secrets`` → ``https://relay:8443/v1/usage``."""
    parts = urlsplit(token_url)
    path = parts.path
    base = path[: -len(MINT_SUFFIX)] if path.endswith(MINT_SUFFIX) else ""
    return urlunsplit(parts._replace(path=f"{base}/v1/usage", query="", fragment=""))


async def report_usage(
    http: httpx.AsyncClient,
    token_url: str,
    token: Secret,
    *,
    turn_id: str,
    cost_usd: float,
    input_tokens: int,
    output_tokens: int,
    model: str,
    timeout_s: float = 5.0,
) -> RelayTotals | None:
    """POST one turn's cost to the relay; None when it was not accepted (logged)."""
    body = {
        "id": turn_id[:64],
        "cost_usd": round(max(0.0, float(cost_usd)), 6),
        "input_tokens": max(0, int(input_tokens)),
        "output_tokens": max(0, int(output_tokens)),
        "model": model[:64],
    }
    headers = {"Authorization": f"Bearer {token.reveal()}"} if token else {}
    try:
        resp = await http.post(usage_url(token_url), json=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        log.warning("usage report to the relay failed: %s", type(exc).__name__)
        return None
    if resp.status_code != 200:
        log.warning("the relay did not take the usage report: http %d", resp.status_code)
        return None
    try:
        data = resp.json()
        return RelayTotals(float(data["today_usd"]), float(data["month_usd"]))
    except (ValueError, KeyError, TypeError):
        log.warning("the relay's answer to a usage report is not what it should be")
        return None
