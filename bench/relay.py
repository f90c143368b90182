"""Idle memory of `edge-agent relay serve`, and what a mint costs, measured side by side.

Starts, one after the other in this run, processes that import and idle:
  A. bare Python                          (the floor)
  B. asyncio + ssl + h11                  (what the relay's server and upstream client need)
  C. B + httpx                            (had the upstream client been httpx)
  D. `edge-agent relay serve` with TLS, 5 satellites, after 200 mints through it
and reads VmRSS from /proc/PID/status. Then the time of one mint through the relay (satellite →
relay → the emulator's client-secret endpoint) against one mint straight at the endpoint.
Usage: PYTHONPATH=. python bench/relay.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from edge_agent.relay.store import RelayStore
from edge_agent.sim.client_secrets import ClientSecretService
from edge_agent.sim.realtime_server import RealtimeEmulator

KEY = "sk-bench-upstream-key"
MINTS = 200
IDLE = "import time; print('up', flush=True); time.sleep(60)"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def idle_rss(imports: str) -> float:
    proc = subprocess.Popen(
        [sys.executable, "-c", f"{imports}\n{IDLE}"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        return rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


async def relay_figures(tmp: Path) -> tuple[float, float, float]:
    emu = RealtimeEmulator(api_keys=[KEY])
    await emu.start()
    upstream = ClientSecretService(emu)
    upstream.start()
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=bench", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    config = tmp / "relay.toml"
    config.write_text(
        f'[relay]\nport = 0\nstate_dir = "{tmp / "state"}"\n'
        f'upstream_url = "{upstream.endpoint}"\ntls_cert_file = "{cert}"\n'
        f'tls_key_file = "{key}"\nrequests_per_minute = 600\n'
    )
    store = RelayStore(tmp / "state")
    registry = store.load_registry()
    tokens = []
    for i in range(5):
        registry, token = registry.add(f"sat{i}", "bench")
        tokens.append(token)
    store.save_registry(registry)
    env = {**os.environ, "OPENAI_API_KEY": KEY, "EDGE_AGENT_LOG_STDERR": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge_agent", "relay", "serve", "--config", str(config),
        "--log-level", "warning", env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await proc.stdout.readline()).decode().split()[-1]
        body = {"model": "gpt-realtime-2.1"}
        via, direct = [], []
        async with httpx.AsyncClient(verify=str(cert)) as http:
            for i in range(MINTS):
                auth = {"Authorization": f"Bearer {tokens[i % 5]}"}
                t0 = time.perf_counter()
                r = await http.post(f"{url}/v1/realtime/client_secrets", json=body, headers=auth)
                t1 = time.perf_counter()
                assert r.status_code == 200, r.text
                d = await http.post(
                    upstream.endpoint,
                    json={"session": {"type": "realtime", "model": "gpt-realtime-2.1"}},
                    headers={"Authorization": f"Bearer {KEY}"},
                )
                t2 = time.perf_counter()
                assert d.status_code == 200
                via.append(t1 - t0)
                direct.append(t2 - t1)
        await asyncio.sleep(1.0)  # idle again
        return rss_mb(proc.pid), statistics.median(via) * 1000, statistics.median(direct) * 1000
    finally:
        proc.terminate()
        await proc.wait()
        upstream.stop()
        await emu.stop()


def main() -> None:
    bare = idle_rss("")
    server = idle_rss("import asyncio, ssl, h11")
    with_httpx = idle_rss("import asyncio, ssl, h11, httpx")
    with tempfile.TemporaryDirectory() as tmp:
        relay, via_ms, direct_ms = asyncio.run(relay_figures(Path(tmp)))
    print(f"idle RSS: bare python {bare:.1f} MB, asyncio+ssl+h11 {server:.1f} MB, "
          f"+httpx {with_httpx:.1f} MB, edge-agent relay serve {relay:.1f} MB")  # fmt: skip
    print(
        f"httpx would add {with_httpx - server:.1f} MB ({with_httpx / server:.2f}x the server's imports)"
    )
    print(f"mint: through the relay (TLS) {via_ms:.2f} ms, straight upstream {direct_ms:.2f} ms "
          f"({via_ms / direct_ms:.2f}x)")  # fmt: skip
    print(f"::metric relay | idle RSS of edge-agent relay serve | {relay:.1f} MB | < 40 MB")
    print(f"::metric relay | mint via relay / direct (loopback) | {via_ms / direct_ms:.2f}x | < 3x")


if __name__ == "__main__":
    main()
