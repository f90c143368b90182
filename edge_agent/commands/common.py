"""Options and helpers every subcommand shares."""

from __future__ import annotations

import argparse
import os
import sys

from edge_agent.config import Config, load_config

__all__ = ["add_common", "load", "setup_logging_from"]


def add_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add --config and --log-level to a subcommand parser."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $EDGE_AGENT_CONFIG or /etc/edge-agent/config.toml)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log level (default: $EDGE_AGENT_LOG_LEVEL, else daemon.log_level, else info)",
    )
    return parser


def load(args: argparse.Namespace, *, require_api_key: bool = False) -> Config:
    """Load the config named by the args; warnings go to stderr. Raises ConfigError."""
    cfg = load_config(getattr(args, "config", None), os.environ, require_api_key=require_api_key)
    for warning in cfg.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return cfg


def setup_logging_from(args: argparse.Namespace, cfg: Config | None = None) -> None:
    """Start logging at the level from --log-level, $EDGE_AGENT_LOG_LEVEL or the config.

    Raises:
        ConfigError: $EDGE_AGENT_LOG_LEVEL names no level.
    """
    from edge_agent.app import resolve_log_level
    from edge_agent.system.journal import setup_logging

    setup_logging(resolve_log_level(getattr(args, "log_level", None), os.environ, cfg))
