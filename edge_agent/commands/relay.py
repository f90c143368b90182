"""`edge-agent relay {serve,add-satellite,list,revoke,check,example}`: the home relay.

One box on the LAN holds the OpenAI key; satellites get short-lived client secrets from it with
their own tokens. docs/relay.md is the guide.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports stay inside the handlers (`--help` starts fast)
    from edge_agent.relay.settings import LoadedRelayConfig
    from edge_agent.relay.store import RelayStore

__all__ = ["register"]

ORDER = 60
EX_UNAVAILABLE = 69
EX_SOFTWARE = 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "relay",
        help="the home relay: one API key, short-lived secrets for many satellites",
        description="Run the home relay, or manage the satellites allowed to use it. The relay "
        "mints short-lived OpenAI Realtime client secrets (POST /v1/realtime/client_secrets) "
        "for satellites that present their own token, within budgets and a rate limit. "
        "Guide: docs/relay.md.",
    )
    rsub = parser.add_subparsers(dest="relay_command", metavar="ACTION", required=True)

    serve = _common(
        rsub.add_parser(
            "serve",
            help="run the relay (what the systemd unit runs)",
            description="Serve until SIGTERM. Exits 78 on a bad relay.toml or a missing key.",
        )
    )
    serve.add_argument("--listen", metavar="ADDR", help="override relay.listen")
    serve.add_argument("--port", type=int, help="override relay.port (0 = any free port)")
    serve.set_defaults(func=_serve)

    add = _common(
        rsub.add_parser(
            "add-satellite",
            help="create a satellite's token (printed once; stored hashed)",
            description="Create a token for satellite NAME and print it once, with the lines "
            "the satellite needs. A revoked NAME gets a new token. Run as root or as the relay's "
            "user (the state directory is theirs).",
        )
    )
    add.add_argument("name", metavar="NAME", help="1-32 of a-z, 0-9, '-' and '_' (e.g. kitchen)")
    add.add_argument(
        "--url",
        metavar="URL",
        help="the relay's URL as satellites reach it, for the printed config "
        "(default https://<this host>:<port>)",
    )
    add.set_defaults(func=_add)

    lst = _common(rsub.add_parser("list", help="satellites, their state and spend"))
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=_list)

    revoke = _common(
        rsub.add_parser(
            "revoke",
            help="revoke a satellite's token (the running relay refuses it at once)",
        )
    )
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(func=_revoke)

    check = _common(
        rsub.add_parser("check", help="validate relay.toml and the API key (exit 0 or 78)")
    )
    check.set_defaults(func=_check)
    example = rsub.add_parser("example", help="print the commented example relay.toml")
    example.set_defaults(func=_example)


def _common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="relay config (default: $EDGE_AGENT_RELAY_CONFIG or /etc/edge-agent/relay.toml)",
    )
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="override log_level"
    )
    return parser


def _load(args: argparse.Namespace, *, require_api_key: bool) -> LoadedRelayConfig:
    import os

    from edge_agent.relay.settings import load_relay_config

    return load_relay_config(args.config, os.environ, require_api_key=require_api_key)


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses

    from edge_agent.system.journal import add_secret, setup_logging

    loaded = _load(args, require_api_key=True)
    overrides = {k: v for k, v in (("listen", args.listen), ("port", args.port)) if v is not None}
    if overrides:
        loaded = dataclasses.replace(loaded, relay=dataclasses.replace(loaded.relay, **overrides))
    add_secret(loaded.api_key.reveal())
    setup_logging(args.log_level or loaded.relay.log_level)
    try:
        return asyncio.run(_run(loaded))
    except OSError as exc:
        where = f"{loaded.relay.listen}:{loaded.relay.port}"
        print(f"cannot serve on {where}: {exc.strerror or exc}", file=sys.stderr)
        return EX_UNAVAILABLE


async def _run(loaded: LoadedRelayConfig) -> int:
    import asyncio
    import signal

    from edge_agent.relay.service import RelayService
    from edge_agent.relay.store import StoreError
    from edge_agent.system.notify import Notifier

    try:
        service = RelayService(loaded)
    except StoreError as exc:  # usage totals unreadable: starting from zero would lift budgets
        print(f"error: {exc}", file=sys.stderr)
        return EX_SOFTWARE
    await service.start()
    notifier = Notifier()
    notifier.ready(f"serving {service.url}")
    print(f"relay on {service.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        notifier.stopping()
        await service.stop()
    return 0


def _store(args: argparse.Namespace) -> RelayStore:
    from edge_agent.relay.store import RelayStore

    return RelayStore(_load(args, require_api_key=False).relay.state_dir)


def _stamp() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _add(args: argparse.Namespace) -> int:
    import socket

    from edge_agent.relay.store import StoreError

    loaded = _load(args, require_api_key=False)
    store = _store(args)
    try:
        with store.editing():
            registry, token = store.load_registry().add(args.name, _stamp())
            store.save_registry(registry)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 64
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_SOFTWARE
    scheme = "https" if loaded.relay.tls_cert_file else "http"
    url = args.url or f"{scheme}://{socket.getfqdn()}:{loaded.relay.port}"
    print(f"satellite {args.name!r} added. Its token (shown only now):\n\n  {token}\n")
    print("On the satellite, store it and point the daemon at the relay:")
    print("  sudo install -m 0640 -g edge-agent /dev/stdin /etc/edge-agent/relay_token")
    print("  (paste the token, then Ctrl-D), and in /etc/edge-agent/config.toml:\n")
    print("  [realtime]")
    print(f'  token_url = "{url.rstrip("/")}/v1/realtime/client_secrets"')
    print('  token_file = "/etc/edge-agent/relay_token"')
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from edge_agent.relay.store import StoreError

    store = _store(args)
    try:
        with store.editing():
            registry = store.load_registry()
            if registry.get(args.name) is None:
                print(
                    f"error: no satellite {args.name!r} (see `edge-agent relay list`)",
                    file=sys.stderr,
                )
                return 64
            store.save_registry(registry.revoke(args.name, _stamp()))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_SOFTWARE
    print(f"satellite {args.name!r} revoked: the relay refuses its token from now on")
    return 0


def _list(args: argparse.Namespace) -> int:
    from edge_agent.relay.store import StoreError

    store = _store(args)
    try:
        registry, ledger = store.load_registry(), store.load_ledger()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_SOFTWARE
    now = datetime.now().astimezone()
    day, month = now.date().isoformat(), now.date().isoformat()[:7]
    rows = []
    for sat in registry:
        today, this_month = ledger.day(day, sat.name), ledger.month(month, sat.name)
        rows.append(
            {
                "name": sat.name,
                "state": "revoked" if sat.revoked else "active",
                "created_at": sat.created_at,
                "revoked_at": sat.revoked_at,
                "today_usd": round(today.usd, 4),
                "today_mints": today.mints,
                "month_usd": round(this_month.usd, 4),
                "month_mints": this_month.mints,
            }
        )
    household = {
        "today_usd": round(ledger.day(day).usd, 4),
        "month_usd": round(ledger.month(month).usd, 4),
    }
    if args.json:
        print(json.dumps({"satellites": rows, "household": household}, indent=1))
        return 0
    if not rows:
        print("no satellites yet: edge-agent relay add-satellite NAME")
        return 0
    print(
        f"{'satellite':<20} {'state':<8} {'today USD':>10} {'secrets':>8} {'month USD':>10}  created"
    )
    for r in rows:
        print(
            f"{r['name']:<20} {r['state']:<8} {r['today_usd']:>10.4f} {r['today_mints']:>8} "
            f"{r['month_usd']:>10.4f}  {r['created_at']}"
        )
    print(
        f"{'household':<29} {household['today_usd']:>10.4f} {'':>8} {household['month_usd']:>10.4f}"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    loaded = _load(args, require_api_key=True)
    cfg = loaded.relay
    tls = "TLS" if cfg.tls_cert_file else "plain HTTP"
    print(
        f"{loaded.source}: ok ({tls} on {cfg.listen}:{cfg.port}, models {', '.join(cfg.models)}, api key set)"
    )
    return 0


def _example(args: argparse.Namespace) -> int:
    from importlib import resources

    sys.stdout.write(resources.files("edge_agent.relay").joinpath("relay.example.toml").read_text())
    return 0
