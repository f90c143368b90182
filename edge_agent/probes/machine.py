"""Probes of this machine: wake models, GPIO pins, the service user's groups, journald."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import importlib.util
import os
import pwd
import socket
from pathlib import Path
from typing import Any, Final

from edge_agent.config import Config
from edge_agent.doctor import Account, CheckResult, fail, gpio_failure, ok, skip, user_result
from edge_agent.probes.worker import in_thread, why

__all__ = ["TEST_ENTRY", "gpio", "journald", "service_user", "wake_models"]

TEST_ENTRY: Final = (
    b"MESSAGE=edge-agent doctor: journald test entry\n"
    b"PRIORITY=6\nSYSLOG_IDENTIFIER=edge-agent\nDOCTOR=1\n"
)


async def wake_models(cfg: Config, folder: Path) -> CheckResult:
    """The configured wake engine's models from `folder` verify, load and run."""
    return await in_thread(_wake_blocking, cfg, folder)


def _wake_blocking(cfg: Config, folder: Path) -> CheckResult:
    """Runs in a worker thread: resolve and verify the models, load them, score 1 s of silence."""
    import numpy as np

    from edge_agent.errors import WakeModelError
    from edge_agent.wake.detector import SAMPLE_RATE_HZ, WakeDetector
    from edge_agent.wake.models import FIX_HINT, resolve_models

    hint = f"run `edge-agent models fetch` (models directory: {folder})"
    try:
        paths = resolve_models(cfg, folder)
        detector = WakeDetector(cfg.wake, paths)
        detector.process(np.zeros(SAMPLE_RATE_HZ, dtype=np.int16))
    except WakeModelError as exc:
        return fail("wake models", str(exc).removesuffix(f"; {FIX_HINT}"), hint)
    except Exception as exc:  # onnxruntime / TFLite reject a corrupt or foreign file
        return fail("wake models", f"a model does not load: {type(exc).__name__}: {exc}", hint)
    cuts = ", ".join(f"{n} {t:g}" for n, t in detector.thresholds.items())
    return ok(
        "wake models",
        f"{cfg.wake.engine}: {cuts} load and run (threshold per model; from {folder})",
    )


async def gpio(cfg: Config, pin_factory: Any) -> CheckResult:
    """The LED and button pins open (as the daemon opens them) and are released again."""
    status = cfg.status
    pins = [status.buttons.mute_pin.strip(), status.buttons.talk_pin.strip()]
    if status.led.type == "none" and not any(pins):
        return skip("gpio", "not configured (no status.led, no status.buttons pins)")
    return await in_thread(_gpio_blocking, cfg, pin_factory, asyncio.get_running_loop())


def _gpio_blocking(cfg: Config, pin_factory: Any, loop: asyncio.AbstractEventLoop) -> CheckResult:
    """Runs in a worker thread: open the LED and the buttons strictly, then release them."""
    from edge_agent.errors import GpioError
    from edge_agent.status.buttons import Buttons
    from edge_agent.status.leds import StatusLeds

    leds: StatusLeds | None = None
    try:
        if cfg.status.led.type != "none":
            leds = StatusLeds(cfg.status, pin_factory=pin_factory, strict=True)
        buttons = Buttons(
            cfg.status.buttons, lambda event: None, loop=loop, pin_factory=pin_factory, strict=True
        )
        opened = ["led"] * (leds is not None) + ["buttons"] * buttons.is_enabled
        buttons.close()
    except GpioError as exc:
        return gpio_failure(str(exc))
    finally:
        if leds is not None:
            leds.close()
    return ok("gpio", f"{' and '.join(opened)} pins free and open")


async def service_user(service_user: str) -> CheckResult:
    """Who runs this, and whether `service_user` is in the groups for sound and GPIO."""
    return await in_thread(_user_blocking, service_user)  # NSS lookups may ask LDAP etc.


def _user_blocking(service_user: str) -> CheckResult:
    """Runs in a worker thread: the current and the service account, from NSS."""
    gids = {os.getegid(), *os.getgroups()}
    current = Account(_user_name(os.geteuid()), frozenset(_group_names(gids)))
    service: Account | None = None
    with contextlib.suppress(KeyError):
        pw = pwd.getpwnam(service_user)
        service = Account(
            service_user, frozenset(_group_names(os.getgrouplist(pw.pw_name, pw.pw_gid)))
        )
    existing = {g.gr_name for g in grp.getgrall()}
    return user_result(current, service, existing, service_user=service_user)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_names(gids: Any) -> list[str]:
    names = []
    for gid in gids:
        with contextlib.suppress(KeyError):
            names.append(grp.getgrgid(gid).gr_name)
    return names


async def journald(path: str) -> CheckResult:
    """The journal socket at `path` takes a test entry, and systemd-python is installed."""
    return await in_thread(_journald_blocking, path)


def _journald_blocking(path: str) -> CheckResult:
    """Runs in a worker thread: send one test entry to the journal socket."""
    hint = (
        "is systemd-journald running (`systemctl status systemd-journald`)? without it the "
        "daemon logs to stderr"
    )
    if not os.path.exists(path):
        return fail("journald", f"no journal socket at {path}", hint)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2.0)
            sock.connect(path)
            sock.send(TEST_ENTRY)
    except OSError as exc:
        return fail("journald", f"{path}: cannot send: {why(exc, 2.0)}", hint)
    if importlib.util.find_spec("systemd") is None:
        return fail(
            "journald",
            "the socket works but systemd-python is missing: the daemon would log to stderr",
            "install it into the daemon's venv: pip install systemd-python (needs libsystemd-dev)",
        )
    return ok("journald", f"{path}: test entry sent (journalctl -t edge-agent -n 1)")
