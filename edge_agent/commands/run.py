"""`edge-agent run`: the daemon (what the systemd unit starts)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from edge_agent.commands.common import add_common, load
from edge_agent.config import Config

if TYPE_CHECKING:
    import asyncio

ORDER = 0

DESCRIPTION = """\
Run the voice-assistant daemon in the foreground until SIGTERM or SIGINT (Ctrl-C).

Start-up order: the config is loaded and checked first (exit 78 with the problems, before any
hardware is touched; an OpenAI API key is required unless realtime.token_url is set), then
logging starts, then the pipeline, then systemd is told READY=1. While running, every state
change is logged (field STATE) and sent as sd_notify STATUS=<state>; if systemd set
WatchdogSec=, WATCHDOG=1 is sent every third of the interval while the pipeline is healthy.
SIGTERM/SIGINT send STOPPING=1 and exit 0. At start-up a configured model that the shipped
table calls deprecated is logged as a WARNING with its shutdown date (no network); at the
first session connect the service is asked too (GET /v1/models/{model}, beside the session,
at most 3 s) and a shutdown date (or model_not_found) it knows beyond the table is logged then.

Logs go to journald (journalctl -u edge-agent) when its socket exists, else to stderr with
<N> priority prefixes; set EDGE_AGENT_LOG_STDERR=1 to force stderr.
Exit codes: 0 stopped cleanly, 78 bad config, 69 a device or service is unavailable.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run",
        help="run the daemon in the foreground (what systemd starts)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import os

    from edge_agent.app import resolve_log_level
    from edge_agent.system.journal import add_secret

    cfg = load(args, require_api_key=True)  # ConfigError → exit 78 in cli.main
    level = resolve_log_level(args.log_level, os.environ, cfg)
    for secret in cfg.secrets():  # journald and stderr lines lose them, whatever logs them
        add_secret(secret)
    return asyncio.run(_daemon(cfg, level))


async def _daemon(cfg: Config, level: str) -> int:
    """The pipeline, with the model's lifecycle checked beside it (a background task)."""
    import asyncio
    import contextlib

    from edge_agent.pipeline.build import build_app

    pipeline = build_app(cfg, log_level=level)
    daemon = asyncio.create_task(pipeline.app.run(), name="daemon")
    check = asyncio.create_task(
        _model_warning(cfg, pipeline.app.ready, pipeline.client.first_ready),
        name="model-lifecycle",
    )
    try:
        return await daemon
    finally:
        check.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await check


async def _model_warning(cfg: Config, ready: asyncio.Event, connected: asyncio.Event) -> None:
    """The shipped table's word once the daemon is READY (beside start-up, never delaying it);
    the service's at the first session connect.

    The service is not asked at start-up: an HTTP client and its TLS context would cost the
    idle daemon ~4 MB (docs/pipeline.md, "Idle memory"); the Realtime socket loads TLS at its
    connect anyway.
    """
    import logging

    from edge_agent.probes.models import connect_model_warning, startup_model_warning

    try:
        await ready.wait()
        table = startup_model_warning(cfg)
        await connected.wait()
        await connect_model_warning(cfg, table=table)
    except Exception:  # a bug here must never take the daemon down
        logging.getLogger(__name__).exception("model lifecycle check failed")
