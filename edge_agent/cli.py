"""The `edge-agent` command line: a thin argparse shell over the commands in `edge_agent.commands`.

Each module in `edge_agent.commands` defines ``register(subparsers)`` that adds its subcommands
and sets ``func`` (``(args) -> int``) on them; heavy imports stay inside the handlers so that
``--help`` and ``config check`` start fast. Exit codes: 0 ok, 1 failure, 69 (EX_UNAVAILABLE)
a needed service or device is unavailable, 78 (EX_CONFIG) bad configuration.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from edge_agent import __version__, commands
from edge_agent.config import EX_CONFIG
from edge_agent.errors import ConfigError

__all__ = ["EX_UNAVAILABLE", "build_parser", "main"]

EX_UNAVAILABLE = 69


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-agent",
        description="Voice-assistant daemon for the Raspberry Pi: wake word, OpenAI Realtime, "
        "local smart-home tools.",
        epilog="Run `edge-agent COMMAND --help` for a command's options. "
        "Logs: journalctl -u edge-agent -f",
    )
    parser.add_argument("--version", action="version", version=f"edge-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = sorted(
        (
            importlib.import_module(f"{commands.__name__}.{m.name}")
            for m in pkgutil.iter_modules(commands.__path__)
        ),
        key=lambda mod: (getattr(mod, "ORDER", 50), mod.__name__),
    )
    for mod in modules:
        if hasattr(mod, "register"):
            mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        for line in exc.messages:
            print(f"config error: {line}", file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
