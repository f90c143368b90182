"""`edge-agent doctor`: one line per check with ✓/✗ and a fix hint; exit code = failures."""

from __future__ import annotations

import argparse
import sys

from edge_agent.commands.common import add_common

ORDER = 5

DESCRIPTION = """\
Check everything the daemon needs, one line per check, each with a fix hint when it fails:
the config, the API key (never shown) and whether the Realtime endpoint accepts it, network and
DNS, whether the model is deprecated (asks GET /v1/models/{model}, else the shipped table),
the budget's verdict (today's and this month's spend from the usage ledger), the mic (records
~1 s and checks it is not silent), the speaker (plays 0.1 s of silence), the wake models, the
GPIO pins, every configured device, the home location, Home Assistant's MCP server (token
accepted, integration enabled, N tools), each MCP server (its tools and which are allowed), the
MQTT broker ([mqtt]: reachable, credentials accepted, discovery configs under the prefix), the
service user's groups, and journald. Checks run concurrently, each with a timeout.

Marks: ✓ ok, ✗ failed, ! warning, – skipped (not configured). The exit code is the number of
failed checks (0 = all good, at most 100). Stop the daemon first (sudo systemctl stop
edge-agent): it holds the mic and the GPIO pins. See docs/doctor.md for every check.
"""

SKIPPABLE = (
    "audio", "network", "realtime", "model", "budget", "wake", "gpio", "devices", "home",
    "homeassistant", "mcp", "mqtt",
)  # fmt: skip


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check config, key, network, audio, wake models, GPIO, devices, Home Assistant, MCP, "
        "MQTT, user, journald",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=5.0,
        metavar="S",
        help="cap on each network step (DNS, connect, handshake, device read), s (default: 5.0)",
    )
    parser.add_argument(
        "--record-s",
        type=float,
        default=1.0,
        metavar="S",
        help="how long to record from the mic, s (default: 1.0)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=SKIPPABLE,
        help="do not run this check (repeatable), e.g. --skip audio while the daemon runs",
    )
    parser.add_argument(
        "--service-user",
        default="edge-agent",
        metavar="NAME",
        help="the user the systemd unit runs as (default: edge-agent)",
    )
    parser.add_argument(
        "--credential",
        default="/etc/edge-agent/openai_api_key",
        metavar="FILE",
        help="the API key file the unit loads (LoadCredential=), read when "
        "$CREDENTIALS_DIRECTORY is unset (default: /etc/edge-agent/openai_api_key)",
    )
    parser.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    import asyncio
    import json
    import os
    from pathlib import Path

    from edge_agent import doctor
    from edge_agent.commands.common import setup_logging_from
    from edge_agent.probes import DoctorOptions, run_checks

    if args.timeout_s <= 0 or args.record_s <= 0:
        print("doctor: --timeout-s and --record-s must be more than 0", file=sys.stderr)
        return 2
    if args.log_level:
        setup_logging_from(args)
    opts = DoctorOptions(
        config_path=args.config,
        env=dict(os.environ),
        timeout_s=args.timeout_s,
        record_s=args.record_s,
        service_user=args.service_user,
        unit_credential=Path(args.credential),
        skip=frozenset(args.skip),
    )
    unicode = _can_print("✓✗–")

    def show(result: doctor.CheckResult) -> None:
        if not args.json:
            print(doctor.render_line(result, unicode=unicode), flush=True)

    results = asyncio.run(run_checks(opts, on_result=show))
    if args.json:
        print(json.dumps(doctor.to_json(results), indent=2, ensure_ascii=False))
    else:
        print(doctor.summary(results))
    return doctor.exit_code(results)


def _can_print(text: str) -> bool:
    """The terminal's encoding can show the marks (a C locale cannot)."""
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True
