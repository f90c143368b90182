"""`edge-agent usage`: what the turns cost today, this month, and the last few, from the ledger."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from edge_agent.commands.common import add_common

ORDER = 12

DESCRIPTION = """\
Show what the Realtime turns cost: today (local day, from local midnight), this month, the
budget's verdict, and the last turns (each: when, model, USD, input tokens with the cached
part, output tokens). Figures come from the daemon's ledger (<daemon.state_dir>/usage.sqlite3),
one row per response, priced with the shipped price table or [[usage.prices]]. They are
estimates from the service's usage reports, not the invoice. Run it as the service user
(sudo -u edge-agent edge-agent usage): the state directory is private. See docs/cost.md.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "usage",
        help="what the turns cost today, this month and lately (USD)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON object instead")
    parser.add_argument(
        "--turns", type=int, default=10, metavar="N", help="how many recent turns (default: 10)"
    )
    parser.set_defaults(func=_usage)


def _usage(args: argparse.Namespace) -> int:
    from edge_agent.commands.common import load
    from edge_agent.usage.budget import verdict
    from edge_agent.usage.ledger import LEDGER_NAME, LedgerStore

    cfg = load(args)
    if args.turns < 0:
        print("error: --turns must be 0 or more", file=sys.stderr)
        return 2
    now = dt.datetime.now(dt.UTC)
    path = cfg.state_dir / LEDGER_NAME
    from edge_agent.probes.usage import read_totals

    try:
        totals = read_totals(path, now)
        try:
            store = LedgerStore(path, create=False)
        except FileNotFoundError:
            turns = []
        else:
            try:
                turns = store.last_turns(args.turns) if args.turns else []
            finally:
                store.close()
    except OSError as exc:
        print(
            f"error: cannot read the usage ledger: {exc}; run as the service user "
            "(sudo -u edge-agent edge-agent usage)",
            file=sys.stderr,
        )
        return 1
    v = verdict(totals, cfg.budget, cfg.realtime.model, now, None)
    report: dict[str, Any] = {
        "ledger": str(path),
        "today": {"day": totals.day, "usd": round(totals.day_usd, 6),
                  "limit_usd": cfg.budget.daily_usd or None},
        "month": {"month": totals.month, "usd": round(totals.month_usd, 6),
                  "limit_usd": cfg.budget.monthly_usd or None},
        "budget": {"action": v.action, "model": v.model, "reached": v.reached,
                   "reason": v.reason},
        "turns": [
            {
                "turn_id": t.turn_id,
                "at": dt.datetime.fromtimestamp(t.at, dt.UTC).isoformat(),
                "model": t.model,
                "usd": round(t.usd, 6),
                "responses": t.responses,
                "input_tokens": t.input_tokens,
                "cached_tokens": t.cached_tokens,
                "output_tokens": t.output_tokens,
                "priced": t.priced,
            }
            for t in turns
        ],
    }  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(_render(report))
    return 0


def _limit(usd: float, limit: float | None, per: str) -> str:
    if not limit:
        return ""
    return f"   of ${limit:.2f} a {per} ({usd / limit:.0%})"


def _render(report: dict[str, Any]) -> str:
    from edge_agent.tools.sanitize import clean_text

    today, month, budget = report["today"], report["month"], report["budget"]
    lines = [
        f"{'today (' + today['day'] + '):':<22} ${today['usd']:.4f}"
        + _limit(today["usd"], today["limit_usd"], "day"),
        f"{'this month (' + month['month'] + '):':<22} ${month['usd']:.4f}"
        + _limit(month["usd"], month["limit_usd"], "month"),
        f"budget: {budget['action']}: {budget['reason']}",
    ]
    turns = report["turns"]
    if not turns:
        lines.append("no turns recorded yet")
        return "\n".join(lines)
    lines += ["", f"last {len(turns)} turn(s), newest first (local time):"]
    lines.append(f"  {'when':<16} {'model':<22} {'usd':>9} {'input (cached)':>16} {'output':>7}")
    for t in turns:
        when = dt.datetime.fromisoformat(t["at"]).astimezone().strftime("%Y-%m-%d %H:%M")
        usd = f"${t['usd']:.4f}" if t["priced"] else "unpriced"
        tokens_in = f"{t['input_tokens']} ({t['cached_tokens']})"
        lines.append(
            f"  {when:<16} {clean_text(t['model'], 22):<22} {usd:>9} {tokens_in:>16} "
            f"{t['output_tokens']:>7}"
        )
    if any(not t["priced"] for t in turns):
        lines.append("unpriced: the model has no price; add a [[usage.prices]] table for it")
    return "\n".join(lines)
