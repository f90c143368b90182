"""`edge-agent config {check,show,example,reference}`."""

from __future__ import annotations

import argparse
from importlib import resources

from edge_agent.commands.common import add_common, load

ORDER = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("config", help="check, show or print an example configuration")
    csub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = add_common(
        csub.add_parser(
            "check",
            help="validate the config file and the API key (exit 0, or 78 with the problems)",
            description="Validate the configuration. Exits 0 when it is valid, 78 (EX_CONFIG) "
            "with one line per problem otherwise. Touches no hardware.",
        )
    )
    check.add_argument(
        "--no-api-key",
        action="store_true",
        help="do not require an OpenAI API key (for `simulate`)",
    )
    check.set_defaults(func=_check)
    show = add_common(
        csub.add_parser("show", help="print the effective configuration (secrets shown as ***)")
    )
    show.set_defaults(func=_show)
    example = csub.add_parser("example", help="print the commented example config")
    example.set_defaults(func=_example)
    reference = csub.add_parser("reference", help="print the configuration reference (Markdown)")
    reference.set_defaults(func=_reference)


def _check(args: argparse.Namespace) -> int:
    cfg = load(args, require_api_key=not args.no_api_key)
    print(
        f"{cfg.source}: ok ({len(cfg.devices)} devices, api key {'set' if cfg.api_key else 'not set'})"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from edge_agent.config import dump_toml

    print(dump_toml(load(args, require_api_key=False)), end="")
    return 0


def _example(args: argparse.Namespace) -> int:
    print(resources.files("edge_agent").joinpath("config.example.toml").read_text(), end="")
    return 0


def _reference(args: argparse.Namespace) -> int:
    from edge_agent.config import config_reference

    print(config_reference(), end="")
    return 0
