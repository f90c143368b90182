"""`edge-agent devices {list,test}` and `edge-agent tool NAME ARGS`: the tools from a shell.

``devices list`` prints the configured devices with their live state; ``devices test`` reaches
each (or one) and reports how it answered; ``tool`` runs one tool exactly as the model would
(same registry, validation, timeouts and allow-lists) and prints the JSON result.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TYPE_CHECKING

from edge_agent.commands.common import add_common, load, setup_logging_from
from edge_agent.tools.sanitize import clean_text

if TYPE_CHECKING:
    from edge_agent.config import Config, DeviceConfig

ORDER = 40
EX_UNAVAILABLE = 69


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("devices", help="list and test the configured smart-home devices")
    dsub = parser.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    lst = add_common(
        dsub.add_parser(
            "list",
            help="table of configured devices with their live state",
            description="List the configured devices (name, area, kind, family, allowed "
            "actions) and read each one's state (tools.http_timeout_s per device, default 2.5).",
        )
    )
    lst.add_argument("--no-state", action="store_true", help="do not contact the devices")
    lst.set_defaults(func=_list)
    test = add_common(
        dsub.add_parser(
            "test",
            help="reach each device (or NAME) and report; exit 69 if any fails",
            description="Read the state of every configured device, or of the one called NAME "
            "(name, alias, fuzzy), and report the answer and the latency in ms. Exit 0 when "
            "all answered, 69 (EX_UNAVAILABLE) otherwise.",
        )
    )
    test.add_argument("name", nargs="?", help="device name or alias (default: all)")
    test.set_defaults(func=_test)

    tool = add_common(
        sub.add_parser(
            "tool",
            help="run one tool as the model would and print its JSON result",
            description="Run tool NAME with ARGS (a JSON object) through the same registry the "
            "model uses: validation, allow-lists, confirmations and timeouts "
            "(tools.timeout_s, default 4 s) included. Exit 0 when the result has ok=true, "
            '1 otherwise. Example: edge-agent tool set_power \'{"device":"lamp","state":"on"}\'',
        )
    )
    tool.add_argument(
        "tool_name", metavar="NAME", nargs="?", help="tool name, e.g. list_devices, get_weather"
    )
    tool.add_argument("arguments", metavar="ARGS", nargs="?", default="{}", help="JSON object")
    tool.add_argument("--list", action="store_true", help="print the tool specs instead")
    tool.set_defaults(func=_tool)


def _list(args: argparse.Namespace) -> int:
    cfg = load(args)
    setup_logging_from(args, cfg)
    if not cfg.devices:
        print("no devices configured (add [[devices]] to the config)")
        return 0
    states = asyncio.run(_read_all(cfg, cfg.devices)) if not args.no_state else {}
    rows: list[tuple[str, ...]] = [("NAME", "AREA", "KIND", "FAMILY", "ACTIONS", "STATE")]
    for dev in cfg.devices:
        state = states.get(dev.name, ("-", 0))[0]
        rows.append((dev.name, dev.area or "-", dev.kind, dev.family, ",".join(dev.actions), state))
    _print_table(rows)
    return 0


def _test(args: argparse.Namespace) -> int:
    cfg = load(args)
    setup_logging_from(args, cfg)
    from edge_agent.errors import ToolError
    from edge_agent.tools.directory import DeviceDirectory

    devices: tuple[DeviceConfig, ...] = cfg.devices
    if args.name:
        try:
            devices = (DeviceDirectory(cfg.devices).find(args.name),)
        except ToolError as exc:
            print(f"{args.name}: {exc.code}: {exc.detail}", file=sys.stderr)
            return 1
    if not devices:
        print("no devices configured")
        return 0
    results = asyncio.run(_read_all(cfg, devices))
    failed = 0
    for dev in devices:
        text, ms = results[dev.name]
        ok = not text.startswith("error")
        failed += not ok
        where = clean_text(f"{dev.name} ({dev.family} {dev.host})", 120)
        print(f"{'ok  ' if ok else 'FAIL'} {where}: {clean_text(text, 300)} [{ms} ms]")
    return EX_UNAVAILABLE if failed else 0


async def _read_all(cfg: Config, devices: tuple[DeviceConfig, ...]) -> dict[str, tuple[str, int]]:
    """Each device's state as text, and how long the read took (ms); devices in parallel."""
    from edge_agent.tools.drivers.base import DeviceError
    from edge_agent.tools.home import HomeTools
    from edge_agent.tools.http import make_http_client

    async with make_http_client(cfg.tools) as http:
        home = HomeTools(devices, http, tools_cfg=cfg.tools)

        async def read(dev: DeviceConfig) -> tuple[str, int]:
            start = time.monotonic()
            try:
                state = await home.driver(dev).get_state()
                text = " ".join(f"{k}={v}" for k, v in state.as_dict().items()) or "ok"
            except DeviceError as exc:
                text = f"error {exc.code}: {exc.detail}"
            except Exception as exc:  # e.g. ToolFailure: no driver for the family
                code = getattr(exc, "code", type(exc).__name__)
                text = f"error {code}: {getattr(exc, 'detail', str(exc))}"
            return text, round((time.monotonic() - start) * 1000)

        results = await asyncio.gather(*(read(d) for d in devices))
        await home.aclose()
    return {d.name: r for d, r in zip(devices, results, strict=True)}


def _tool(args: argparse.Namespace) -> int:
    if not args.tool_name and not args.list:
        print("edge-agent tool: give a tool NAME (or --list)", file=sys.stderr)
        return 2
    cfg = load(args)
    setup_logging_from(args, cfg)
    return asyncio.run(_run_tool(cfg, args.tool_name, args.arguments, args.list))


async def _run_tool(cfg: Config, name: str, arguments: str, list_specs: bool) -> int:
    import json

    from edge_agent.tools.home import build_registry
    from edge_agent.tools.http import make_http_client

    async with make_http_client(cfg.tools) as http:
        try:
            registry = build_registry(cfg, http)
        except OSError as exc:
            print(f"cannot open the tools' state: {exc}", file=sys.stderr)
            return EX_UNAVAILABLE
        try:
            await registry.start()  # Home Assistant and MCP servers list their tools here
            if list_specs:
                print(json.dumps(registry.specs(), indent=2))
                return 0
            result = await registry.call(name, arguments, turn_id="cli")
        finally:
            await registry.aclose()
    print(result)
    return 0 if json.loads(result).get("ok") else 1


def _print_table(rows: list[tuple[str, ...]]) -> None:
    """Print `rows` aligned; every cell is cleaned (no terminal escapes from device text)."""
    rows = [tuple(clean_text(cell, 120) for cell in row) for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
