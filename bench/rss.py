"""Where the idle daemon's RSS goes: smaps by mapping, and RSS added by each imported package.

Runs `edge-agent run` (one process per engine) on the real-time PulseAudio rig as
bench/pipeline.py does, lets it hear speech without the wake word, then reads the process's
/proc/PID/smaps and groups the resident memory by what is mapped: the python binary,
each native library (site-packages by package, system libraries by name, alsa-lib plugins
together), the heap and anonymous memory (malloc arenas, onnxruntime/TFLite buffers, numpy
arrays). tracemalloc sees none of the native part; this does.

With --imports the daemon runs under an import hook that records the process's RSS before and
after the first import of every top-level package (exclusive of the packages it pulls in
itself), so "httpx: 3.1 MB" means what httpx's own modules and native code added. The hook
costs a little RSS itself; compare the rows, not the total, with bench/pipeline.py.

    PYTHONPATH=. python bench/rss.py [--engine openwakeword|microwakeword|both] [--imports]
        [--seconds 5] [--top 25]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The import hook, run in the daemon's process before edge_agent's CLI: exclusive RSS per
# top-level package at its first import, written as JSON at exit.
HOOK_CHILD = r"""
import atexit, builtins, json, os, sys
_page = os.sysconf("SC_PAGE_SIZE")
def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _page
_orig = builtins.__import__
_stack = []  # [name, child_bytes]
_own = {}
def _import(name, globals=None, locals=None, fromlist=(), level=0):
    top = name.partition(".")[0]
    if level or not top or top in sys.modules:
        return _orig(name, globals, locals, fromlist, level)
    _stack.append([top, 0])
    before = _rss()
    try:
        return _orig(name, globals, locals, fromlist, level)
    finally:
        total = _rss() - before
        _, children = _stack.pop()
        _own[top] = _own.get(top, 0) + total - children
        if _stack:
            _stack[-1][1] += total
builtins.__import__ = _import
_start = _rss()
def _dump():
    _own["(interpreter at start)"] = _start
    with open(os.environ["EA_RSS_IMPORTS"], "w") as f:
        json.dump(_own, f)
atexit.register(_dump)
sys.argv = ["edge-agent", *sys.argv[1:]]
from edge_agent.cli import main
sys.exit(main())
"""

SYSTEM_LIB = re.compile(r"/lib[^/]*\.so")
LIB_VERSION = re.compile(r"(\.so)?[.-][0-9.]+$")


def classify(path: str) -> str:
    """A row name for one smaps mapping."""
    if not path:
        return "anonymous (malloc arenas, native buffers)"
    if path == "[heap]":
        return "[heap] (brk malloc)"
    if path.startswith("["):
        return path
    if "/alsa-lib/" in path:
        return "alsa-lib plugins"
    if "site-packages/" in path:
        rest = path.split("site-packages/", 1)[1]
        pkg = rest.split("/", 1)[0]
        pkg = re.sub(r"\.libs$", "", pkg)
        return f"site-packages: {pkg.split('.')[0]}"
    if "/lib-dynload/" in path:
        return "python lib-dynload (stdlib C modules)"
    name = os.path.basename(path)
    if re.match(r"python3(\.\d+)?$", name) or name.startswith("libpython"):
        return "python interpreter"
    if SYSTEM_LIB.search(path) or ".so" in name:
        return "lib: " + LIB_VERSION.sub("", name).removesuffix(".so")
    return f"file: {name}"


def smaps_breakdown(pid: int) -> dict[str, int]:
    """kB resident per row, from /proc/PID/smaps."""
    rows: dict[str, int] = defaultdict(int)
    current = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            current = classify(parts[5] if len(parts) > 5 else "")
        elif parts[0] == "Rss:":
            rows[current] += int(parts[1])
    return dict(rows)


def run(engine: str, seconds: float, imports: bool, top: int) -> None:
    from pipeline import rss_mb, stop, talk_without_wake, unit_env  # bench/pipeline.py

    from edge_agent.sim.notify import NotifySink
    from edge_agent.sim.pulse_rig import PulseRig
    from edge_agent.wake.models import default_models_dir

    models = default_models_dir()
    feed = talk_without_wake(seconds + 2)
    with PulseRig() as rig, tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(
            f'[daemon]\nstate_dir = "{tmp}/state"\nlog_level = "warning"\n'
            f'[wake]\nengine = "{engine}"\n'
        )
        out = Path(tmp) / "imports.json"
        argv = ["run", "--config", str(cfg)]
        cmd = [sys.executable, "-c", HOOK_CHILD, *argv] if imports else None
        cmd = cmd or [sys.executable, "-m", "edge_agent", *argv]
        with NotifySink(Path(tmp) / "notify") as sink:
            env = {
                **os.environ,
                **unit_env(),
                **rig.env,
                "PYTHONPATH": str(ROOT),
                "EDGE_AGENT_MODELS_DIR": str(models),
                "OPENAI_API_KEY": "sk-bench-not-used",
                "NOTIFY_SOCKET": sink.path,
                "EDGE_AGENT_LOG_STDERR": "1",
                "EA_RSS_IMPORTS": str(out),
            }
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
            try:
                sink.wait_for("READY=1", timeout_s=30)
                feeder = rig.feed(feed)
                time.sleep(seconds)
                rows = smaps_breakdown(proc.pid)
                rss = rss_mb(proc.pid)
                feeder.wait(30)
            finally:
                stop(proc)
        print(f"\n{engine}: VmRSS {rss:.1f} MB after {seconds:g} s of speech, by mapping:")
        for name, kb in sorted(rows.items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {kb / 1024:7.1f} MB  {name}")
        if imports and out.exists():
            own = json.loads(out.read_text())
            print(f"{engine}: RSS added at the first import of each package (exclusive):")
            for name, b in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
                print(f"  {b / 2**20:7.1f} MB  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engine", choices=("openwakeword", "microwakeword", "both"), default="both"
    )
    parser.add_argument("--imports", action="store_true", help="also RSS per imported package")
    parser.add_argument("--seconds", type=float, default=5.0, help="speech heard before smaps")
    parser.add_argument("--top", type=int, default=25, help="rows shown")
    args = parser.parse_args()
    engines = ("openwakeword", "microwakeword") if args.engine == "both" else (args.engine,)
    for engine in engines:
        run(engine, args.seconds, args.imports, args.top)


if __name__ == "__main__":
    main()
