"""Registry overhead per tool call vs calling the driver directly, measured side by side.

Runs in one process against a real Tasmota emulator on 127.0.0.1:
  A. driver.set_power(...)                         (what the tool ultimately does)
  B. registry.call("set_power", '{"device":...}')  (JSON parse, schema validation, name
     resolution, allow-list, per-device lock, result encoding, logging)
and, without any I/O, a no-op handler called directly vs through the registry.
Rounds alternate A and B to cancel machine noise. Usage: PYTHONPATH=. python bench/tools.py
"""

from __future__ import annotations

import asyncio
import io
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edge_agent.config import Config, DaemonConfig, DeviceConfig
from edge_agent.sim.devices.tasmota import TasmotaEmulator
from edge_agent.tools.drivers.tasmota import TasmotaDriver
from edge_agent.tools.home import build_registry
from edge_agent.tools.http import make_http_client
from edge_agent.tools.registry import Tool, ToolRegistry

ROUNDS = 20
PER_ROUND = 20


async def _timed(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - start) / n


async def main() -> None:
    # The registry logs one INFO line per call: format it (into memory) so its cost counts.
    logging.basicConfig(stream=io.StringIO(), level=logging.INFO)
    emu = TasmotaEmulator().start()
    dev = DeviceConfig(name="Bench plug", family="tasmota", host="127.0.0.1", port=emu.port)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(daemon=DaemonConfig(state_dir=str(Path(tmp))), devices=(dev,))
        async with make_http_client(cfg.tools) as http:
            drv = TasmotaDriver(dev, http, timeout_s=2.5)
            reg = build_registry(cfg, http)
            args = '{"device": "bench plug", "state": "on"}'

            async def direct() -> None:
                await drv.set_power(True)

            async def via_registry() -> None:
                await reg.call("set_power", args)

            async def noop(a: dict) -> dict:
                return {"device": a["device"]}

            bare = ToolRegistry([Tool("noop", "", {"type": "object", "properties": {
                "device": {"type": "string"}}, "required": ["device"]}, noop)])  # fmt: skip

            async def noop_direct() -> None:
                await noop({"device": "x"})

            async def noop_registry() -> None:
                await bare.call("noop", '{"device": "x"}')

            await direct(), await via_registry()  # warm up connections and imports
            a, b, c, d = [], [], [], []
            for _ in range(ROUNDS):
                a.append(await _timed(direct, PER_ROUND))
                b.append(await _timed(via_registry, PER_ROUND))
                c.append(await _timed(noop_direct, PER_ROUND * 10))
                d.append(await _timed(noop_registry, PER_ROUND * 10))
            await reg.aclose()
    emu.stop()
    ta, tb, tc, td = (statistics.median(x) * 1e6 for x in (a, b, c, d))
    print(f"python {sys.version.split()[0]}, {ROUNDS} rounds x {PER_ROUND} calls, medians")
    print(f"driver.set_power direct (HTTP to emulator): {ta:9.1f} us/call")
    print(f"registry.call set_power (same HTTP)       : {tb:9.1f} us/call")
    print(f"  registry+home overhead                  : {tb - ta:9.1f} us/call "
          f"(ratio {tb / ta:.2f}x)")  # fmt: skip
    print(f"no-op handler direct                      : {tc:9.1f} us/call")
    print(f"no-op handler via registry                : {td:9.1f} us/call "
          f"(registry alone: {td - tc:.1f} us/call)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
