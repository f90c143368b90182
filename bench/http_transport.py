"""The daemon's HTTP transport (`edge_agent.net.http1`) against httpx's own (httpcore), side by
side in one run: what the first request leaves in RSS, and what a request costs.

Each sample is a fresh process that imports what `edge-agent run` imports, measures RSS, makes
its first requests with one transport, and measures again (the two transports alternate, so
drift on this noisy machine hits both):

- plain http: one GET to a local keep-alive server (a device, the emulator's model lookup);
- https: one GET to a local TLS server whose CA the client is given (the weather service and
  the model lookup use the public CA store; a context with a CA file costs less, so this row
  is the lower bound of the https cost);
- per request: wall and CPU time of 300 keep-alive GETs on one connection.

    PYTHONPATH=. python bench/http_transport.py [--rounds 3]

Lines starting with ``::metric`` are what `bench/run` puts in its table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = textwrap.dedent(
    """
    import asyncio, gc, json, resource, ssl, sys, time
    import edge_agent.commands.run, edge_agent.pipeline.build  # the daemon's import set
    import httpx
    from edge_agent.net.http1 import AsyncioTransport

    which, scheme, ca, cert, key = sys.argv[1:6]

    def rss():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmRSS"))

    async def serve(reader, writer):
        try:
            while True:
                await reader.readuntil(b"\\r\\n\\r\\n")
                writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main():
        tls = None
        if scheme == "https":
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(cert, key)
        srv = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
        url = f"{scheme}://127.0.0.1:{srv.sockets[0].getsockname()[1]}/"
        verify = ca if scheme == "https" else True
        gc.collect()
        before = rss()  # httpx's transport loads httpcore and a TLS context when it is made
        transport = AsyncioTransport(verify=verify) if which == "ours" else httpx.AsyncHTTPTransport(verify=verify)
        async with httpx.AsyncClient(transport=transport) as http:
            assert (await http.get(url)).text == "ok"
            gc.collect()
            after = rss()
            n = 300
            cpu0, t0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                await http.get(url)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        srv.close()
        print(json.dumps({"before": before, "after": after, "cpu_ms": cpu / n * 1e3,
                          "wall_ms": wall / n * 1e3}))

    asyncio.run(main())
    """
)


def sample(which: str, scheme: str, certs: tuple[str, str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", SAMPLE, which, scheme, *certs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "MALLOC_ARENA_MAX": "1", "PATH": "/usr/bin:/bin"},
    )
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="samples per transport and scheme")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.tools.certs import make_certs

    with tempfile.TemporaryDirectory() as tmp:
        ca_file, signed, _ = make_certs(Path(tmp))
        certs = (str(ca_file), str(signed.cert_pem), str(signed.key_pem))
        rows: dict[tuple[str, str], list[dict[str, float]]] = {}
        for r in range(args.rounds):
            order = ("ours", "httpcore") if r % 2 == 0 else ("httpcore", "ours")
            for scheme in ("http", "https"):
                for which in order:
                    s = sample(which, scheme, certs)
                    rows.setdefault((which, scheme), []).append(s)
                    print(
                        f"  round {r + 1} {scheme:5s} {which:8s}: RSS {s['before']:.1f} -> "
                        f"{s['after']:.1f} MB, {s['wall_ms']:.3f} ms/request "
                        f"({s['cpu_ms']:.3f} ms CPU)"
                    )

    def med(which: str, scheme: str, key: str) -> float:
        return statistics.median(s[key] for s in rows[(which, scheme)])

    def added(which: str, scheme: str) -> float:
        return statistics.median(s["after"] - s["before"] for s in rows[(which, scheme)])

    for scheme in ("http", "https"):
        ours, theirs = added("ours", scheme), added("httpcore", scheme)
        print(
            f"::metric http_transport | RSS added by the first {scheme} request, ours | {ours:.1f} MB |"
        )
        print(
            f"::metric http_transport | RSS added by the first {scheme} request, httpcore | {theirs:.1f} MB |"
        )
    for key, what in (("wall_ms", "time"), ("cpu_ms", "CPU")):
        ours, theirs = med("ours", "http", key), med("httpcore", "http", key)
        print(
            f"::metric http_transport | {what} per keep-alive request, ours / httpcore | "
            f"{ours:.3f} / {theirs:.3f} ms ({ours / theirs:.2f}x) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
