"""`edge-agent sim ...`: run the local emulators standalone.

Each `edge_agent.commands.sim_<name>` module adds one ``sim <name>`` subcommand through
``register_sim(subparsers)``, so areas add emulators without touching this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

from edge_agent import commands

ORDER = 80


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "sim", help="run a local emulator (Realtime API, smart-home devices) for testing"
    )
    simsub = parser.add_subparsers(dest="sim_command", metavar="EMULATOR", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("sim_"):
            importlib.import_module(f"{commands.__name__}.{info.name}").register_sim(simsub)
