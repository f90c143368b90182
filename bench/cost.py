"""What a 20-turn conversation costs, and what the history levers change, on the emulator.

Drives the Realtime emulator (`edge_agent.sim`, which bills like the service: the whole history
re-read as input on every response, prompt caching of an exact repeated prefix of >= 1024
tokens in 128-token steps, `truncation` as configured) over a real WebSocket at the protocol
level: session.update from `protocol.build_session`, 10 s of user speech per turn, a 10 s
spoken reply per turn, each response.done's usage collected. The same conversation runs once
per variant, side by side in one run:

  auto           truncation "auto" (the 0.x default): cut just enough at the context limit
  default        retention_ratio 0.8 at the model's limit (history_max_tokens 0, the shipped
                 default): identical to auto until 128k tokens, then one cut to 80 %
  ratio-16k      retention_ratio 0.8, history_max_tokens 16000
  ratio-3k       retention_ratio 0.8, history_max_tokens 3000 (an aggressive cap)
  justfit-3k     retention_ratio 1.0, history_max_tokens 3000 (cut just enough, every turn)
  text-replies   default, and each reply, once heard to the end, swapped for its transcript
                 (`protocol.reply_as_text`: conversation.item.delete + .create in place)
  text-all       text-replies, and the user's audio swapped for its transcript too (needs input
                 transcription, billed extra: gpt-realtime-whisper $0.017/min, added to USD)

For each: the input tokens re-billed on turn 1/5/10/15/20, how many of them uncached, and the
USD of the whole conversation priced as gpt-realtime-2.1 and as gpt-realtime-2.1-mini
(`edge_agent.usage.cost`). Token counts are the emulator's estimates (docs/cost.md).

Run: PYTHONPATH=. python bench/cost.py [--turns 20] [--speech-s 10] [--reply-s 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect

from edge_agent.config import RealtimeConfig
from edge_agent.realtime import protocol as p
from edge_agent.realtime.events import Usage
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.scenario import Reply, Scenario, tone
from edge_agent.usage.cost import cost_of
from edge_agent.usage.prices import SHIPPED_PRICES

KEY = "sk-bench-cost"
MODEL = "gpt-realtime-2.1"
#: ~10 s of speech as text (about 2.5 words/s): what a transcript of one turn weighs
USER_TEXT = "Could you tell me what the weather will be like in Berlin tomorrow afternoon, " * 2
REPLY_TEXT = (
    "Tomorrow afternoon in Berlin it will be cloudy with light rain, around nine degrees, " * 2
)
TOOLS = [
    {
        "type": "function",
        "name": name,
        "description": f"{name.replace('_', ' ')} for the user (home assistant tool)",
        "parameters": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
            "required": ["name"],
        },
    }
    for name in ("get_weather", "set_memory", "get_memory", "forget_memory", "control_device")
]


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    truncation: str
    ratio: float = 0.8
    max_tokens: int = 0
    text_replies: bool = False
    text_user: bool = False


VARIANTS = (
    Variant("auto", "auto"),
    Variant("default", "retention_ratio", 0.8, 0),
    Variant("ratio-16k", "retention_ratio", 0.8, 16000),
    Variant("ratio-3k", "retention_ratio", 0.8, 3000),
    Variant("justfit-3k", "retention_ratio", 1.0, 3000),
    Variant("text-replies", "retention_ratio", 0.8, 0, text_replies=True),
    Variant("text-all", "retention_ratio", 0.8, 0, text_replies=True, text_user=True),
)


@dataclass(slots=True)
class Run:
    variant: Variant
    usages: list[Usage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def speech(ms: int) -> bytes:
    return tone(200, ms, amplitude=0.3)


async def _until(ws: Any, kind: str, run: Run) -> dict[str, Any]:
    while True:
        ev = json.loads(await ws.recv())
        if ev["type"] == "error":
            run.errors.append(ev["error"].get("code", "?"))
        if ev["type"] == kind:
            return ev


async def converse(emu: RealtimeEmulator, variant: Variant, turns: int, speech_s: float) -> Run:
    run = Run(variant)
    cfg = RealtimeConfig(
        model=MODEL,
        truncation=variant.truncation,  # type: ignore[arg-type]
        retention_ratio=variant.ratio,
        history_max_tokens=variant.max_tokens,
        silence_duration_ms=500,
    )
    session = p.session_for(cfg, instructions=cfg.instructions, tools=TOOLS)
    url = f"{emu.url}?model={MODEL}"
    async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"},
                       max_size=None, compression=None) as ws:  # fmt: skip
        await _until(ws, "session.created", run)
        await ws.send(json.dumps(p.session_update(session)))
        await _until(ws, "session.updated", run)
        pcm = speech(int(speech_s * 1000)) + bytes(800 * 48)  # speech, then 800 ms of silence
        for _ in range(turns):
            for i in range(0, len(pcm), p.CHUNK_BYTES):
                await ws.send(json.dumps(p.input_audio_append(pcm[i : i + p.CHUNK_BYTES])))
            user_item = (await _until(ws, "input_audio_buffer.committed", run))["item_id"]
            done = await _until(ws, "response.done", run)
            parsed = p.parse_server_event(json.dumps(done))
            assert isinstance(parsed, p.ResponseDone), done
            run.usages.append(parsed.usage)
            if variant.text_user:
                await _swap(ws, run, [p.item_delete(user_item), p.user_message(USER_TEXT)])
                user_item = ""  # the emulator appends the text where the audio was: last
            if variant.text_replies:
                for o in done["response"].get("output", []):
                    if o.get("type") == "message":
                        await _swap(ws, run, p.reply_as_text(o["id"], REPLY_TEXT, user_item))
    return run


async def _swap(ws: Any, run: Run, events: list[dict[str, Any]]) -> None:
    for ev in events:
        await ws.send(json.dumps(ev))
        reply = "deleted" if ev["type"] == "conversation.item.delete" else "done"
        await _until(ws, f"conversation.item.{reply}", run)


WHISPER_USD_PER_MIN = 0.017


def usd(run: Run, model: str, speech_s: float) -> float:
    extra = WHISPER_USD_PER_MIN * speech_s / 60 * len(run.usages) if run.variant.text_user else 0
    return sum(cost_of(u, SHIPPED_PRICES[model]).total for u in run.usages) + extra


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--speech-s", type=float, default=10.0)
    ap.add_argument("--reply-s", type=float, default=10.0)
    args = ap.parse_args()
    reply = Reply(REPLY_TEXT, tone(330, int(args.reply_s * 1000)))
    runs = []
    for variant in VARIANTS:
        async with RealtimeEmulator(Scenario(fallback=reply), api_keys=[KEY]) as emu:
            runs.append(await converse(emu, variant, args.turns, args.speech_s))
    n = args.turns
    shown = sorted({1, max(1, n // 4), max(1, n // 2), max(1, 3 * n // 4), n})
    print(f"{args.turns} turns of {args.speech_s:g} s speech + {args.reply_s:g} s reply, "
          f"{MODEL} on the emulator (token counts are its estimates)")  # fmt: skip
    print()
    head = "  ".join(f"turn {t:>2}" for t in shown)
    print(f"input tokens re-billed per response (uncached in brackets)\n{'variant':<12}  {head}")
    for run in runs:
        cells = []
        for t in shown:
            u = run.usages[t - 1]
            cells.append(f"{u.input_tokens:>5} ({u.input_tokens - u.cached_tokens:>4})")
        print(f"{run.variant.name:<12}  " + "  ".join(f"{c:>7}" for c in cells))
    print()
    base = runs[0]
    print(f"{'variant':<12} {'input':>7} {'uncached':>9} {'output':>7} "
          f"{'USD 2.1':>9} {'USD mini':>9} {'vs auto':>8}  errors")  # fmt: skip
    for run in runs:
        tin = sum(u.input_tokens for u in run.usages)
        unc = sum(u.input_tokens - u.cached_tokens for u in run.usages)
        tout = sum(u.output_tokens for u in run.usages)
        full = usd(run, MODEL, args.speech_s)
        mini = usd(run, "gpt-realtime-2.1-mini", args.speech_s)
        ratio = full / usd(base, MODEL, args.speech_s)
        print(f"{run.variant.name:<12} {tin:>7} {unc:>9} {tout:>7} {full:>9.4f} {mini:>9.4f} "
              f"{ratio:>7.2f}x  {','.join(run.errors) or '-'}")  # fmt: skip
    print()
    for run in (runs[1], runs[5]):
        for model in ("gpt-realtime-2.1", "gpt-realtime-2.1-mini", "gpt-realtime-1.5"):
            per_turn = [cost_of(u, SHIPPED_PRICES[model]).total for u in run.usages]
            print(f"per turn, {model:<22} ({run.variant.name}): first ${per_turn[0]:.4f}, "
                  f"mean ${sum(per_turn) / n:.4f}, last ${per_turn[-1]:.4f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
