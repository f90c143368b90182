"""`edge-agent models fetch`: store verified copies of the built-in wake-word models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_agent.commands.common import add_common

ORDER = 40


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("models", help="manage the wake-word model files")
    msub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    fetch = add_common(
        msub.add_parser(
            "fetch",
            help="copy the built-in wake-word models into the models directory, verified by SHA-256",
            description="Copy melspectrogram, embedding_model, silero_vad, hey_jarvis, alexa, "
            "hey_mycroft and hey_rhasspy (.onnx) from the installed openwakeword 0.5.1 package, "
            "or from its wheel (pip download) when it is not installed, verify each file's "
            "SHA-256 and write it atomically; and the microWakeWord models (okay_nabu, "
            "hey_jarvis, hey_mycroft, alexa: .json manifest + .tflite, into DIR/micro) from the "
            "installed pymicro-wakeword 2.5.0 package (or its wheel). Idempotent. The "
            "openWakeWord models are licensed CC BY-NC-SA 4.0 (non-commercial use); the "
            "microWakeWord models Apache-2.0.",
        )
    )
    fetch.add_argument(
        "--dir",
        metavar="DIR",
        help="models directory (default: $EDGE_AGENT_MODELS_DIR, else wake.models_dir, "
        "else <daemon.state_dir>/models)",
    )
    fetch.add_argument(
        "--source",
        metavar="PATH",
        help="an openwakeword 0.5.1 wheel or models folder to copy from "
        "(default: the installed package, else pip download)",
    )
    fetch.add_argument(
        "--micro-source",
        metavar="PATH",
        help="a pymicro-wakeword 2.5.0 wheel or models folder to copy from "
        "(default: the installed package, else pip download)",
    )
    fetch.set_defaults(func=_fetch)


def _fetch(args: argparse.Namespace) -> int:
    from edge_agent.cli import EX_UNAVAILABLE
    from edge_agent.commands.common import load
    from edge_agent.errors import WakeModelError
    from edge_agent.wake.micro_models import fetch_micro_models
    from edge_agent.wake.models import default_models_dir, fetch_models

    dest = Path(args.dir) if args.dir else default_models_dir(load(args))
    micro_source = Path(args.micro_source) if args.micro_source else None
    try:
        paths = fetch_models(dest, source=Path(args.source) if args.source else None)
        paths += fetch_micro_models(dest, source=micro_source)
    except WakeModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    except OSError as exc:
        print(f"error: cannot write models to {str(dest)!r}: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0
