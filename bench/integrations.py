"""Idle RSS of the tool registry with Home Assistant configured, side by side in one run.

Each variant runs in its own process, builds the daemon's tool registry (memory, weather, home
tools) with `build_registry`, starts it, waits, and reports its VmRSS:

- ``base``: no [homeassistant];
- ``ha``: [homeassistant] pointing at a Home Assistant-shaped MCP server (tests/integrations/
  servers.py, the official SDK, stateless JSON behind a bearer token): connected, tools listed,
  GetLiveContext and one HassTurnOff called, so the MCP client, its session and the HA guard
  are all resident;
- ``sdk``: ``base`` plus ``import mcp.client.session`` (the official SDK's client, which the
  runtime does not use) for comparison.

Rounds alternate the order; the smallest RSS of each variant is kept.

    PYTHONPATH=. python bench/integrations.py [--rounds 3]

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
sys.path.insert(0, str(ROOT / "tests" / "integrations"))

CHILD = r"""
import asyncio, gc, json, sys
from pathlib import Path
mode, state, url, token_file = sys.argv[1:5]
from edge_agent.config import parse_config
from edge_agent.tools.home import build_registry
from edge_agent.tools.http import make_http_client
text = f'[daemon]\nstate_dir = "{state}"\n'
if mode == "ha":
    text += f'[homeassistant]\nurl = "{url}"\ntoken_file = "{token_file}"\narea = "Kitchen"\n'
if mode == "sdk":
    import mcp.client.session  # noqa: F401
cfg = parse_config(text, require_api_key=False)

async def main():
    async with make_http_client(cfg.tools) as http:
        registry = build_registry(cfg, http)
        await registry.start()
        if mode == "ha":
            assert "ha_HassTurnOff" in registry.names, registry.names
            await registry.call("ha_GetLiveContext", "{}")
            out = json.loads(await registry.call("ha_HassTurnOff", '{"area": "Kitchen", "domain": ["light"]}'))
            assert out["ok"], out
        gc.collect()
        print(len(registry.names), flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one(mode: str, tmp: Path, url: str, token_file: Path) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGE_AGENT_LOG_LEVEL": "error"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(tmp / f"state-{mode}"), url, str(token_file)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        tools = int(proc.stdout.readline())
        time.sleep(1.0)  # settle: lazy imports done, the loop idle
        return rss_mb(proc.pid), tools
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    from conftest import TOKEN, start_http

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {time.strftime('%F %T')}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        token_file = tmp / "ha.token"
        token_file.write_text(TOKEN)
        server = start_http(tmp, kind="ha", stateless=True, json_mode=True, token=TOKEN)
        url = server.url.removesuffix("/api/mcp")
        best: dict[str, float] = {}
        tools: dict[str, int] = {}
        try:
            for r in range(args.rounds):
                order = ["base", "ha", "sdk"] if r % 2 == 0 else ["sdk", "ha", "base"]
                for mode in order:
                    rss, n = one(mode, tmp, url, token_file)
                    print(f"  round {r + 1} {mode:4s}: RSS {rss:.1f} MB, {n} tools")
                    best[mode] = min(best.get(mode, rss), rss)
                    tools[mode] = n
        finally:
            server.stop()
    rows = [
        ("registry idle RSS, no Home Assistant", f"{best['base']:.1f} MB", ""),
        (f"registry idle RSS, Home Assistant ({tools['ha']} tools)", f"{best['ha']:.1f} MB", ""),
        ("added by [homeassistant]", f"{best['ha'] - best['base']:+.1f} MB", "<= 5 MB"),
        ("added by the SDK's client import", f"{best['sdk'] - best['base']:+.1f} MB", ""),
    ]
    print()
    for name, value, goal in rows:
        print(f"  {name:48s} {value:>10s}  {goal}")
    for name, value, goal in rows:
        print(f"::metric integrations | {name} | {value} | {goal}")


if __name__ == "__main__":
    main()
