"""Realtime client costs, measured side by side in one run (machines are noisy).

1. Processing cost per second of reply audio: parse (JSON) + decode (base64) + translation +
   the turn core's bookkeeping of `response.output_audio.delta` frames, against json.loads
   alone and base64 alone on the same frames.
2. Latency from a delta leaving a local server to the app's hand-off (the event the playback
   buffer would take), p50/p95: our RealtimeClient against a bare websockets reader doing
   json.loads + base64 on the same stream. The difference is what the client adds.

Run: PYTHONPATH=. python bench/realtime.py [--seconds 60] [--deltas 300]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import statistics
import time

import numpy as np
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from edge_agent.config import RealtimeConfig, Secret
from edge_agent.realtime import protocol as p
from edge_agent.realtime.client import RealtimeClient
from edge_agent.realtime.translate import to_turn_event
from edge_agent.states import TalkPressed
from edge_agent.turn.core import TurnCore
from edge_agent.turn.events import ReplyAudio, ResponseStarted, SessionReady

DELTA_MS = 100  # audio per delta (the service sends varying sizes; 100 ms is typical)


def _frames(seconds: int) -> list[str]:
    rng = np.random.default_rng(1)
    frames = []
    for i in range(seconds * 1000 // DELTA_MS):
        pcm = rng.integers(-8000, 8000, DELTA_MS * 24, dtype=np.int16).tobytes()
        ev = {
            "type": "response.output_audio.delta",
            "event_id": f"event_{i}",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(pcm).decode(),
        }
        frames.append(json.dumps(ev))
    return frames


def bench_processing(seconds: int) -> None:
    frames = _frames(seconds)

    def ours() -> None:
        core = TurnCore()
        for ev in (TalkPressed(), SessionReady("s"), ResponseStarted("resp_1")):
            core.handle(ev, 0)
        for f in frames:
            ev = p.parse_server_event(f)
            core.handle(to_turn_event(ev), 0)  # type: ignore[arg-type]

    def json_only() -> None:
        for f in frames:
            json.loads(f)

    def json_b64() -> None:
        for f in frames:
            binascii.a2b_base64(json.loads(f)["delta"])

    results: dict[str, list[float]] = {"client": [], "json.loads": [], "json+base64": []}
    for _ in range(5):  # interleaved rounds
        for name, fn in (("client", ours), ("json.loads", json_only), ("json+base64", json_b64)):
            t0 = time.perf_counter()
            fn()
            results[name].append(time.perf_counter() - t0)
    print(
        f"processing {seconds} s of reply audio in {len(frames)} deltas of {DELTA_MS} ms "
        "(best of 5):"
    )
    base = min(results["json+base64"])
    for name, times in results.items():
        best = min(times)
        print(
            f"  {name:12s} {best / seconds * 1000:7.3f} ms CPU per s of audio "
            f"({best / seconds * 100:.3f} % of real time, x{best / base:.2f} vs json+base64)"
        )


class _Server:
    """Minimal GA server: handshake, then a timed burst of deltas per response.create."""

    def __init__(self, frames: list[str], interval_s: float) -> None:
        self.frames, self.interval_s = frames, interval_s
        self.sent_at: list[float] = []

    async def handle(self, ws: ServerConnection) -> None:
        session = {"type": "realtime", "id": "sess_1", "model": "gpt-realtime"}
        await ws.send(json.dumps({"type": "session.created", "event_id": "e0", "session": session}))
        async for raw in ws:
            kind = json.loads(raw)["type"]
            if kind == "session.update":
                await ws.send(
                    json.dumps({"type": "session.updated", "event_id": "e1", "session": session})
                )
            elif kind in ("response.create", "bench.start"):
                await self.burst(ws)

    async def burst(self, ws: ServerConnection) -> None:
        self.sent_at = []
        created = {"type": "response.created", "event_id": "e2", "response": {"id": "resp_1"}}
        await ws.send(json.dumps(created))
        for f in self.frames:
            await asyncio.sleep(self.interval_s)
            self.sent_at.append(time.perf_counter())
            await ws.send(f)


async def _run_client(url: str, n: int) -> list[float]:
    client = RealtimeClient(RealtimeConfig(url=url), Secret("k"), ping_interval_s=None)
    got: list[float] = []
    try:
        await client.ensure_connected()
        client.request_response()
        async for ev in client:
            if isinstance(ev, ReplyAudio):
                got.append(time.perf_counter())  # the hand-off to the playback buffer
                if len(got) == n:
                    break
    finally:
        await client.aclose()
    return got


async def _run_raw(url: str, n: int) -> list[float]:
    got: list[float] = []
    async with connect(url + "?model=x", max_size=None, compression=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "bench.start"}))
        await ws.recv()
        while len(got) < n:
            binascii.a2b_base64(json.loads(await ws.recv())["delta"])
            got.append(time.perf_counter())
    return got


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def bench_latency(n: int) -> None:
    frames = _frames(n * DELTA_MS // 1000 + 1)[:n]
    server = _Server(frames, interval_s=0.005)
    async with serve(server.handle, "127.0.0.1", 0, max_size=None, compression=None) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        lat: dict[str, list[float]] = {"raw websockets": [], "RealtimeClient": []}
        for _ in range(3):
            for name, fn in (("raw websockets", _run_raw), ("RealtimeClient", _run_client)):
                got = await fn(url, n)
                lat[name] += [(g - s) * 1000 for g, s in zip(got, server.sent_at, strict=True)]
    print(f"latency from a delta being sent to its hand-off ({n} deltas x 3 rounds, loopback):")
    for name, values in lat.items():
        print(f"  {name:15s} p50 {_pct(values, 50):6.3f} ms  p95 {_pct(values, 95):6.3f} ms")
    added50 = _pct(lat["RealtimeClient"], 50) - _pct(lat["raw websockets"], 50)
    added95 = _pct(lat["RealtimeClient"], 95) - _pct(lat["raw websockets"], 95)
    print(f"  added by the client: p50 {added50:+.3f} ms, p95 {added95:+.3f} ms")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=60, help="reply audio for the cost test (60)")
    ap.add_argument("--deltas", type=int, default=300, help="deltas per latency round (300)")
    args = ap.parse_args(argv)
    bench_processing(args.seconds)
    asyncio.run(bench_latency(args.deltas))


if __name__ == "__main__":
    main()
