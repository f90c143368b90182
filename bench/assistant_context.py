"""What keeping the model's clock right costs in input tokens: a `get_time` tool vs a context item.

Two ways to let the model know the current local time 50 minutes into a session:

A. tool: `get_time` in the session's tools (its spec is input on every response) plus the date
   line in the instructions; when the user asks, one function call, its output, and one more
   response that re-reads the conversation so far.
B. item: `turn_item` ("Local time: Wednesday 2 December 2026, 19:20.") added as a system item
   before every user turn; it stays in the conversation, so turn k's item is input again on
   every later response. No tool spec, no round trip.

Token counts are estimated as characters / 4 (OpenAI's rule of thumb for English; no tokenizer
is installed on the device), from the real strings the code produces. The conversation size
that A's extra response re-reads is a parameter (`--turn-tokens`, the text+audio a turn adds;
Realtime audio is ~10 input tokens a second of speech, so 300 is a ~15 s exchange).
Both columns are computed side by side in one run, with the same assumptions.

Run: PYTHONPATH=. python bench/assistant_context.py [--turns 10 20 40] [--asks 2]
"""

from __future__ import annotations

import argparse
import json
from zoneinfo import ZoneInfo

from edge_agent.assistant.clock import describe_now, session_facts, turn_item
from edge_agent.assistant.tools import clock_tools

NOW_S = 1_796_239_200.0  # Wednesday 2 December 2026, 18:20 UTC
ZONE = ZoneInfo("Europe/Berlin")


def tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


def costs(turns: int, asks: int, turn_tokens: int, base_tokens: int) -> tuple[int, int, dict]:
    (tool,) = clock_tools(ZONE, "en", lambda: NOW_S)
    spec = tokens(json.dumps(tool.spec(), separators=(",", ":")))
    facts_tool = tokens(session_facts(NOW_S, ZONE, "en", "Berlin", clock_tool=True))
    facts_plain = tokens(session_facts(NOW_S, ZONE, "en", "Berlin", turn_items=True))
    call = tokens('{"type":"function_call","name":"get_time","arguments":"{}"}')
    output = tokens(json.dumps(describe_now(NOW_S, ZONE)) + '{"type":"function_call_output"}')
    item = tokens(turn_item(NOW_S, ZONE))

    # A: every response reads the spec and the instructions line; each ask adds a call, its
    # output (read again by every later response) and one extra response over the context.
    responses = turns + asks
    a = responses * (spec + facts_tool)
    for k in range(asks):
        turn = turns * (k + 1) // (asks + 1)  # asks spread over the session
        later = turns - turn
        a += (call + output) * (later + 1)
        a += base_tokens + turn * turn_tokens  # the extra response re-reads the conversation
    # B: every response reads the plain instructions line and every item added so far.
    b = turns * facts_plain + item * sum(range(1, turns + 1))
    per = {"spec": spec, "facts": facts_tool, "call": call, "output": output, "item": item}
    return a, b, per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--asks", type=int, default=1, help="turns that ask for the time")
    parser.add_argument("--turn-tokens", type=int, default=300)
    parser.add_argument("--base-tokens", type=int, default=1500, help="instructions + tools")
    args = parser.parse_args()
    _, _, per = costs(1, 1, args.turn_tokens, args.base_tokens)
    print("estimated tokens (chars/4): " + ", ".join(f"{k} {v}" for k, v in per.items()))
    print(f"asks per session: {args.asks}; a turn adds {args.turn_tokens} tokens; "
          f"instructions + tools {args.base_tokens}")  # fmt: skip
    print(f"{'turns':>5}  {'A tool':>8}  {'B item':>8}  {'B/A':>5}  {'A, no ask':>9}")
    for n in args.turns:
        a, b, _ = costs(n, args.asks, args.turn_tokens, args.base_tokens)
        idle, _, _ = costs(n, 0, args.turn_tokens, args.base_tokens)
        print(f"{n:>5}  {a:>8}  {b:>8}  {b / a:>5.2f}  {idle:>9}")


if __name__ == "__main__":
    main()
