"""What a long conversation costs on the billing-honest emulator, per truncation policy, side by
side in one run (the emulator bills like the service: docs/realtime.md, "Billing").

A 20-turn conversation, each turn 10 s of user audio (manual commit) and a 10 s spoken reply,
with ~1.2k tokens of instructions, under `truncation: "auto"` (nothing dropped below the context
window), two retention ratios (r = 0.8 of 2000 tokens, r = 0.5 of 4000) and `"disabled"`. Prints
input tokens re-billed per turn, cached tokens and the dollar cost at gpt-realtime-2.1 prices
(realtime-protocol.md §7). Token counts are the emulator's estimates, not the real tokenizer.

Run: PYTHONPATH=. python bench/emulator_billing.py [--turns 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from typing import Any

from websockets.asyncio.client import connect

from edge_agent.realtime.events import Usage
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.scenario import Reply, Scenario, tone

#: $ per 1M tokens, gpt-realtime-2.1: text in / cached / out, audio in / cached / out
PRICE = {"text": 4.0, "audio": 32.0, "cached": 0.40, "out_text": 24.0, "out_audio": 64.0}
POLICIES: dict[str, Any] = {
    "auto": "auto",
    "retention 0.8 x 2000": {
        "type": "retention_ratio",
        "retention_ratio": 0.8,
        "token_limits": {"post_instructions": 2000},
    },
    "retention 0.5 x 4000": {
        "type": "retention_ratio",
        "retention_ratio": 0.5,
        "token_limits": {"post_instructions": 4000},
    },
    "disabled": "disabled",
}


def cost(u: Usage) -> float:
    fresh_text = u.input_text_tokens - u.cached_text_tokens
    fresh_audio = u.input_audio_tokens - u.cached_audio_tokens
    return (
        fresh_text * PRICE["text"]
        + fresh_audio * PRICE["audio"]
        + u.cached_tokens * PRICE["cached"]
        + u.output_text_tokens * PRICE["out_text"]
        + u.output_audio_tokens * PRICE["out_audio"]
    ) / 1e6


async def conversation(truncation: Any, turns: int) -> list[Usage]:
    reply = Reply("word " * 30, tone(300, 10_000))
    async with RealtimeEmulator(Scenario(fallback=reply), api_keys=["sk-b"]) as emu:
        url = f"{emu.url}?model=gpt-realtime-2.1"
        hdr = {"Authorization": "Bearer sk-b"}
        async with connect(url, additional_headers=hdr, max_size=None) as ws:

            async def until(kind: str) -> None:
                while json.loads(await ws.recv())["type"] != kind:
                    pass

            async def send(kind: str, **f: Any) -> None:
                await ws.send(json.dumps({"type": kind, **f}))

            await until("session.created")
            session = {
                "type": "realtime",
                "instructions": "Be a concise kitchen assistant. " * 150,
                "truncation": truncation,
                "audio": {"input": {"turn_detection": None}},
            }
            await send("session.update", session=session)
            await until("session.updated")
            user = base64.b64encode(tone(200, 10_000)).decode()
            for _ in range(turns):
                await send("input_audio_buffer.append", audio=user)
                await send("input_audio_buffer.commit")
                await send("response.create")
                await until("response.done")
        return [r.usage for r in emu.usage_log]


async def main(turns: int) -> None:
    results = {name: await conversation(t, turns) for name, t in POLICIES.items()}
    names = list(results)
    print(f"{turns} turns of 10 s + 10 s, instructions ~1.2k tokens, gpt-realtime-2.1 prices")
    print("turn | " + " | ".join(f"{n}: input / cached" for n in names))
    for i in range(turns):
        cells = [f"{results[n][i].input_tokens} / {results[n][i].cached_tokens}" for n in names]
        print(f"{i + 1:4d} | " + " | ".join(cells))
    for n in names:
        us = results[n]
        total = sum(cost(u) for u in us)
        print(
            f"{n}: input {sum(u.input_tokens for u in us)} tokens, "
            f"cached {sum(u.cached_tokens for u in us)}, ${total:.4f} "
            f"({total / sum(cost(u) for u in results['disabled']):.2f} x disabled)"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=20)
    asyncio.run(main(ap.parse_args().turns))
