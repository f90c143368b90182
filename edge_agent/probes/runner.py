"""Runs the doctor's probes: each with a timeout, concurrently, results in the report's order.

Owns: loading the config (the first line), choosing which checks run (`--skip`, no config),
the per-check timeout, turning an unexpected exception into that check's failure, and the last
redaction of secrets before a result leaves.
Must not: decide verdicts (that is `edge_agent.doctor`) or print.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from edge_agent.config import CREDENTIAL_NAME, Config, config_path, load_config
from edge_agent.doctor import CheckResult, api_key_result, fail, ok, redact, skip, warn
from edge_agent.errors import ConfigError
from edge_agent.probes.home import home
from edge_agent.probes.integrations import homeassistant, mcp_servers
from edge_agent.probes.machine import gpio, journald, service_user, wake_models
from edge_agent.probes.models import model
from edge_agent.probes.mqtt import mqtt
from edge_agent.probes.network import devices, network, realtime
from edge_agent.probes.sound import sound
from edge_agent.probes.usage import budget
from edge_agent.system.journal import JOURNAL_SOCKET

__all__ = ["DoctorOptions", "run_checks"]

Job = tuple[str, Callable[[], Awaitable[list[CheckResult]]], float]
"""A check's name, what runs it, and its timeout in seconds."""

WAKE_TIMEOUT_S: Final = 60.0  # onnxruntime's first load takes seconds on a Pi Zero 2 W
LOCAL_TIMEOUT_S: Final = 10.0  # pins, accounts, journald: local, but a wedged driver must not hang


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    """Where the doctor looks; the defaults are the real machine."""

    config_path: str | None = None
    config: Config | None = None
    """A config already loaded (e.g. `edge-agent simulate`'s); then `config_path` is unused."""
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    timeout_s: float = 5.0
    """Cap on each network step (DNS, connect, handshake, one device read), seconds."""
    record_s: float = 1.0
    """How long the mic is recorded, seconds."""
    journal_socket: str = JOURNAL_SOCKET
    models_dir: Path | None = None
    """None: $EDGE_AGENT_MODELS_DIR, else the configured models directory."""
    pin_factory: Any = None
    """gpiozero pin factory; None = gpiozero's choice (GPIOZERO_PIN_FACTORY)."""
    pa_factory: Callable[[], Any] | None = None
    """Makes a pyaudio.PyAudio; None = `edge_agent.audio.devices.open_pyaudio`."""
    service_user: str = "edge-agent"
    unit_credential: Path = Path("/etc/edge-agent/openai_api_key")
    """The key file the unit loads (LoadCredential=); used when $CREDENTIALS_DIRECTORY is unset."""
    skip: frozenset[str] = frozenset()
    """Checks not to run: 'audio', 'realtime', 'model', 'budget', 'network', 'wake', 'gpio',
    'devices', 'home', 'homeassistant', 'mcp', 'mqtt'."""


async def run_checks(
    opts: DoctorOptions, on_result: Callable[[CheckResult], None] | None = None
) -> list[CheckResult]:
    """Run every check; results come back (and go to `on_result`) in the report's order."""
    cfg, config_line = _load(opts)
    secrets = _secrets(cfg)
    jobs: list[Job] = _config_jobs(cfg, opts) if cfg is not None else _config_skips()
    jobs += [
        ("service user", lambda: _one(service_user(opts.service_user)), LOCAL_TIMEOUT_S),
        ("journald", lambda: _one(journald(opts.journal_socket)), LOCAL_TIMEOUT_S),
    ]
    tasks = [
        asyncio.create_task(_timed(name, job, timeout_s), name=f"doctor-{name}")
        for name, job, timeout_s in jobs
    ]
    results: list[CheckResult] = []

    def emit(result: CheckResult) -> None:
        result = redact(result, secrets)
        results.append(result)
        if on_result is not None:
            on_result(result)

    emit(config_line)
    for task in tasks:
        for result in await task:
            emit(result)
    return results


CONFIG_CHECKS: Final = (
    "api key", "network", "realtime", "model", "budget", "audio", "wake models", "gpio",
    "devices", "homeassistant", "mcp", "mqtt",
)  # fmt: skip


def _config_skips() -> list[Job]:
    """Without a valid config the checks that need it are listed as skipped."""
    names = [n for c in CONFIG_CHECKS for n in (("mic", "speaker") if c == "audio" else (c,))]
    return [(n, _fixed(skip(n, "the config is invalid")), 1.0) for n in names]


def _config_jobs(cfg: Config, opts: DoctorOptions) -> list[Job]:
    t = opts.timeout_s
    key_line = api_key_result(bool(cfg.api_key), cfg.realtime.token_url)
    jobs: list[Job] = [("api key", _fixed(key_line), t)]
    wanted = {
        "network": (lambda: _one(network(cfg.realtime.url, t)), 3 * t),
        "realtime": (lambda: _one(realtime(cfg, t)), 3 * t),
        "model": (lambda: _one(model(cfg, t)), 2 * t),
        "budget": (lambda: _one(budget(cfg)), LOCAL_TIMEOUT_S),
        "audio": (lambda: sound(cfg, opts.pa_factory, opts.record_s), 4 * t + opts.record_s),
        "wake models": (lambda: _one(wake_models(cfg, _models_dir(cfg, opts))), WAKE_TIMEOUT_S),
        "gpio": (lambda: _one(gpio(cfg, opts.pin_factory)), LOCAL_TIMEOUT_S),
        "devices": (lambda: devices(cfg, t), 3 * t),
        "home": (lambda: home(cfg, t), 3 * t),  # no line when no [home] is configured
        "homeassistant": (lambda: _one(homeassistant(cfg, t)), 3 * t),
        "mcp": (lambda: mcp_servers(cfg, t), 4 * t),
        "mqtt": (lambda: _one(mqtt(cfg, t)), 2 * t + 3),
    }
    for name, (job, timeout_s) in wanted.items():
        key = name.split()[0]
        if key in opts.skip:
            names = ("mic", "speaker") if key == "audio" else (name,)
            jobs += [(n, _fixed(skip(n, f"--skip {key}")), t) for n in names]
        else:
            jobs.append((name, job, timeout_s))
    return jobs


def _models_dir(cfg: Config, opts: DoctorOptions) -> Path:
    """`opts.models_dir`, else $EDGE_AGENT_MODELS_DIR, else the configured directory."""
    if opts.models_dir is not None:
        return opts.models_dir
    env_dir = opts.env.get("EDGE_AGENT_MODELS_DIR")
    return Path(env_dir) if env_dir else cfg.models_dir


# --------------------------------------------------------------------------------------------
# Plumbing


def _fixed(result: CheckResult) -> Callable[[], Awaitable[list[CheckResult]]]:
    """A job whose result is already known."""

    async def job() -> list[CheckResult]:
        return [result]

    return job


async def _one(coro: Awaitable[CheckResult]) -> list[CheckResult]:
    return [await coro]


async def _timed(
    name: str, job: Callable[[], Awaitable[list[CheckResult]]], timeout_s: float
) -> list[CheckResult]:
    """Run one check within `timeout_s`; a timeout or an unexpected error is its failure."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            results = await job()
    except TimeoutError:
        results = [
            fail(
                name,
                f"no result within {timeout_s:g} s",
                "something hangs here: run `edge-agent doctor --log-level debug` and check "
                "the journal",
            )
        ]
    except Exception as exc:  # a bug or an unforeseen driver error: report it, keep going
        results = [fail(name, f"{type(exc).__name__}: {exc}", "unexpected error; please report")]
    ms = round((time.monotonic() - start) * 1000)
    return [dataclasses.replace(r, duration_ms=r.duration_ms or ms) for r in results]


def _secrets(cfg: Config | None) -> list[str]:
    return [] if cfg is None else cfg.secrets()


# --------------------------------------------------------------------------------------------
# Config


def _with_credential(opts: DoctorOptions) -> Mapping[str, str]:
    """Run by hand, the doctor sees the key the unit would load: systemd passes it through
    $CREDENTIALS_DIRECTORY, which only exists inside the service."""
    cred = opts.unit_credential
    if opts.env.get("CREDENTIALS_DIRECTORY") or not os.access(cred, os.R_OK):
        return opts.env
    if cred.name != CREDENTIAL_NAME or not cred.is_file():
        return opts.env
    return {**opts.env, "CREDENTIALS_DIRECTORY": str(cred.parent)}


def _load(opts: DoctorOptions) -> tuple[Config | None, CheckResult]:
    if opts.config is not None:
        return opts.config, ok("config", f"{opts.config.source}: valid (given)")
    path, explicit = config_path(opts.config_path, opts.env)
    try:
        cfg = load_config(opts.config_path, _with_credential(opts), require_api_key=False)
    except ConfigError as exc:
        return None, fail(
            "config",
            f"{path}: {len(exc.messages)} problem(s):\n" + "\n".join(exc.messages),
            "fix the lines above (`edge-agent config check` shows the same, "
            "`edge-agent config example` lists every key); other checks need a valid config",
        )
    devices = f"{len(cfg.devices)} device(s)"
    if not explicit and not path.exists():
        return cfg, warn(
            "config",
            f"no file at {path}: built-in defaults used ({devices})",
            f"create it: edge-agent config example | sudo tee {path}",
        )
    if cfg.warnings:
        return cfg, warn("config", f"{path}: valid ({devices})", "; ".join(cfg.warnings))
    return cfg, ok("config", f"{path}: valid ({devices})")
