"""`edge-agent leds test`: cycle the status LED through every state's pattern to check wiring."""

from __future__ import annotations

import argparse
import sys
import time

from edge_agent.commands.common import add_common, load, setup_logging_from

ORDER = 60
EX_UNAVAILABLE = 69


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("leds", help="check the status LED wiring")
    lsub = parser.add_subparsers(dest="leds_command", metavar="ACTION", required=True)
    test = add_common(
        lsub.add_parser(
            "test",
            help="show every state's pattern in turn, printing each state's name",
            description="Show each daemon state's LED pattern (idle, listening, thinking, "
            "speaking, muted, error) in turn, printing the state's name and pattern, so you can "
            "check the wiring and the patterns in [status.led]. Exits 78 when no LED is "
            "configured, 69 when a pin is busy or there is no GPIO. Stop the daemon first "
            "(systemctl stop edge-agent): it holds the pins.",
        )
    )
    test.add_argument(
        "--seconds",
        type=float,
        default=3.0,
        metavar="N",
        help="how long to show each state, seconds (default: 3.0)",
    )
    test.set_defaults(func=_test)


def _test(args: argparse.Namespace) -> int:
    from edge_agent.errors import GpioError
    from edge_agent.states import State
    from edge_agent.status.leds import StatusLeds

    cfg = load(args, require_api_key=False)
    setup_logging_from(args, cfg)
    if args.seconds < 0:
        print("leds test: --seconds must be 0 or more", file=sys.stderr)
        return 2
    if cfg.status.led.type == "none":
        print(
            f"leds test: no status LED configured in {cfg.source}: set status.led.type "
            "('single', 'pwm' or 'rgb') and its pins",
            file=sys.stderr,
        )
        return 78
    try:
        leds = StatusLeds(cfg.status, strict=True)
    except GpioError as exc:
        print(f"leds test: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    try:
        for state in State:
            print(f"{state.value:<10} {leds.patterns[state]}", flush=True)
            leds.show(state)
            time.sleep(args.seconds)
    finally:
        leds.close()
    return 0
