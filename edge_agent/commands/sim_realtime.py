"""`edge-agent sim realtime`: run the local Realtime API emulator standalone."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register_sim"]

EX_UNAVAILABLE = 69
EX_CONFIG = 78


def register_sim(simsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = simsub.add_parser(
        "realtime",
        help="a local OpenAI Realtime (GA) emulator with scripted replies",
        description="Serve a Realtime API emulator on ws://HOST:PORT/v1/realtime?model=... "
        "Point realtime.url at it and use the key given with --key. Replies follow the "
        "scenario's turns (tones or WAVs, transcripts, tool calls), not the question.",
    )
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 = any)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        help="TOML script of turns (default: the bundled sim/data/realtime_default.toml)",
    )
    parser.add_argument(
        "--key",
        action="append",
        metavar="KEY",
        help="accepted API key; repeat for more (default: sk-test)",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="reply audio speed: 1.0 = real time, 0 = as fast as possible (default 1.0)",
    )
    parser.add_argument(
        "--delta-ms", type=int, default=100, help="audio per output delta, ms (default 100)"
    )
    parser.add_argument(
        "--session-max-s",
        type=float,
        default=3600.0,
        help="session length cap, seconds (default 3600 like the service)",
    )
    parser.add_argument(
        "--token-relay-port",
        type=int,
        metavar="PORT",
        help="also serve a token relay on this port (POST /token → ephemeral secret)",
    )
    parser.add_argument(
        "--client-secrets-port",
        type=int,
        metavar="PORT",
        help="also serve POST /v1/realtime/client_secrets on this port, like the service (point "
        "`edge-agent relay`'s upstream_url at it; the secrets it mints open sessions here)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from edge_agent.sim.scenario import default_scenario, load_scenario

    try:
        scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
    except (OSError, ValueError) as exc:
        print(f"config error: --scenario {args.scenario!r}: {exc}", file=sys.stderr)
        return EX_CONFIG
    try:
        return asyncio.run(_serve(args, scenario))
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return EX_UNAVAILABLE


async def _serve(args: argparse.Namespace, scenario: object) -> int:
    import asyncio
    import signal

    from edge_agent.sim.client_secrets import ClientSecretService
    from edge_agent.sim.realtime_server import RealtimeEmulator
    from edge_agent.sim.token_relay import TokenRelay

    emu = RealtimeEmulator(
        scenario,  # type: ignore[arg-type]
        api_keys=args.key or ["sk-test"],
        pace=args.pace,
        delta_ms=args.delta_ms,
        session_max_s=args.session_max_s,
    )
    await emu.start(args.port, args.host)
    relay = TokenRelay(emu) if args.token_relay_port else None
    if relay is not None:
        relay.start(args.token_relay_port)
    minter = ClientSecretService(emu) if args.client_secrets_port is not None else None
    if minter is not None:
        minter.start(args.client_secrets_port)
    url = f"ws://{args.host}:{emu.port}/v1/realtime"
    print(f"realtime emulator on {url} (set realtime.url = {url!r})", flush=True)
    if relay is not None:
        print(f"token relay on {relay.token_url} (set realtime.token_url)", flush=True)
    if minter is not None:
        print(f"client secrets on {minter.endpoint} (set relay.upstream_url)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if relay is not None:
            relay.stop()
        if minter is not None:
            minter.stop()
        await emu.stop()
    print(f"served {len(emu.handshakes)} connections", flush=True)
    return 0
