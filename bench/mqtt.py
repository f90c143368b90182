"""Idle RSS of the daemon's core with and without the MQTT bridge, side by side in one run.

Each variant runs in its own process: an `App` (the real turn core and event loop) idling,
with the modules `edge-agent run` imports anyway (`edge_agent.pipeline.build`: the Realtime
client, audio, tools) loaded, so the figures are what [mqtt] adds to the daemon:

- ``core``: no components (the baseline);
- ``import``: ``core`` plus ``import aiomqtt`` and the bridge module, not started;
- ``bridge``: ``core`` plus a started `MqttBridge` connected to a real mosquitto (started here
  on a loopback port with a password file, as tests/mqtt does), its discovery published and a
  few commands handled.

Rounds alternate the order; the smallest RSS of each variant is kept.

    PYTHONPATH=. python bench/mqtt.py [--rounds 3]

Lines starting with ``::metric`` are what `bench/run` puts in its table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import asyncio, dataclasses, gc, sys
mode, state, port, password_file = sys.argv[1:5]
from edge_agent.app import App
import edge_agent.pipeline.build  # noqa: F401  (what `edge-agent run` imports anyway)
from edge_agent.config import Config, DaemonConfig, MqttConfig, Secret
from edge_agent.system.notify import Notifier
if mode != "core":
    import aiomqtt  # noqa: F401
    from edge_agent.mqtt.bridge import MqttBridge

async def main():
    cfg = Config(daemon=DaemonConfig(state_dir=state, cache_dir=state))
    components = []
    if mode == "bridge":
        m = MqttConfig(enabled=True, host="127.0.0.1", port=int(port), username="edge",
                       password_file=password_file, client_id="bench",
                       password=Secret(open(password_file).read().strip()))
        cfg = dataclasses.replace(cfg, mqtt=m)
        components = [MqttBridge(cfg, hostname="bench")]
    app = App(cfg, components=components, notifier=Notifier(env={}), handle_signals=False)
    task = asyncio.create_task(app.run())
    await app.ready.wait()
    if mode == "bridge":
        bridge = components[0]
        await asyncio.wait_for(bridge.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", int(port), username="edge",
                                  password=m.password.reveal()) as c:
            for payload in ("ON", "OFF", "ON", "OFF"):
                await c.publish(bridge.topics.mute_set, payload, qos=1)
        while bridge.commands_done < 4:
            await asyncio.sleep(0.02)
    gc.collect()
    print("ready", flush=True)
    await task

asyncio.run(main())
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one(mode: str, tmp: Path, port: int, password_file: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGE_AGENT_LOG_LEVEL": "error"}
    state = tmp / f"state-{mode}"
    state.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(state), str(port), str(password_file)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"{mode}: the child failed"
        time.sleep(1.0)  # settle: the loop idle
        return rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    from tests.mqtt.conftest import Broker

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {time.strftime('%F %T')}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        broker = Broker(tmp / "broker")
        broker.start()
        best: dict[str, float] = {}
        try:
            for r in range(args.rounds):
                order = ["core", "import", "bridge"]
                for mode in order if r % 2 == 0 else order[::-1]:
                    rss = one(mode, tmp, broker.port, broker.password_file)
                    print(f"  round {r + 1} {mode:6s}: RSS {rss:.1f} MB")
                    best[mode] = min(best.get(mode, rss), rss)
        finally:
            broker.stop()
    rows = [
        ("core idle RSS, no [mqtt]", f"{best['core']:.1f} MB", ""),
        ("core idle RSS, bridge connected", f"{best['bridge']:.1f} MB", ""),
        ("added by importing aiomqtt + the bridge", f"{best['import'] - best['core']:+.1f} MB", ""),
        ("added by a connected bridge", f"{best['bridge'] - best['core']:+.1f} MB", "<= 5 MB"),
    ]
    print()
    for name, value, goal in rows:
        print(f"  {name:48s} {value:>10s}  {goal}")
    for name, value, goal in rows:
        print(f"::metric mqtt | {name} | {value} | {goal}")


if __name__ == "__main__":
    main()
