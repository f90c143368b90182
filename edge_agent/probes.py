"""The doctor's probes: the thin I/O shell that looks at the real things and feeds `doctor`.

Owns: loading the config, resolving and connecting to the Realtime host, the WebSocket
handshake, recording a second from the mic and opening the speaker, loading the wake models,
opening the GPIO pins, reading each device, looking up the service user, and sending one entry
to journald. Every check has a timeout; blocking work (PyAudio, onnxruntime, gpiozero, sockets)
runs in daemon threads so that a wedged driver can neither block the event loop nor keep the
process from exiting. Independent checks run concurrently; the mic and the speaker share one
PyAudio instance and run one after the other.
Must not: decide verdicts (that is `edge_agent.doctor`), print, or show a secret.

Backends are injected through `DoctorOptions` (journal socket path, gpiozero pin factory,
PyAudio factory, models directory, service user) so tests run the same code on the ALSA file rig,
gpiozero mock pins, a journald sink and the local emulators.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import grp
import importlib.util
import os
import pwd
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from edge_agent.config import Config, config_path, load_config
from edge_agent.doctor import (
    Account,
    CheckResult,
    api_key_result,
    device_result,
    fail,
    gpio_failure,
    handshake_result,
    level_result,
    ok,
    redact,
    skip,
    user_result,
    warn,
)
from edge_agent.errors import ConfigError
from edge_agent.system.journal import JOURNAL_SOCKET

__all__ = ["DoctorOptions", "run_checks"]

T = TypeVar("T")
Job = tuple[str, Callable[[], Awaitable[list[CheckResult]]], float]
"""A check's name, what runs it, and its timeout in seconds."""

RATE_HZ: Final = 24000
WAKE_TIMEOUT_S: Final = 60.0  # onnxruntime's first load takes seconds on a Pi Zero 2 W
LOCAL_TIMEOUT_S: Final = 10.0  # pins, accounts, journald: local, but a wedged driver must not hang
TEST_ENTRY: Final = (
    b"MESSAGE=edge-agent doctor: journald test entry\n"
    b"PRIORITY=6\nSYSLOG_IDENTIFIER=edge-agent\nDOCTOR=1\n"
)


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
    skip: frozenset[str] = frozenset()
    """Checks not to run: 'audio', 'realtime', 'network', 'wake', 'gpio', 'devices'."""


async def run_checks(
    opts: DoctorOptions, on_result: Callable[[CheckResult], None] | None = None
) -> list[CheckResult]:
    """Run every check; results come back (and go to `on_result`) in the report's order."""
    cfg, config_line = _load(opts)
    secrets = _secrets(cfg)
    jobs: list[Job] = _config_jobs(cfg, opts) if cfg is not None else _config_skips()
    jobs += [
        ("service user", lambda: _one(_user(opts.service_user)), LOCAL_TIMEOUT_S),
        ("journald", lambda: _one(_journald(opts.journal_socket)), LOCAL_TIMEOUT_S),
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


CONFIG_CHECKS: Final = ("api key", "network", "realtime", "audio", "wake models", "gpio", "devices")


def _config_skips() -> list[Job]:
    """Without a valid config the checks that need it are listed as skipped."""
    names = [n for c in CONFIG_CHECKS for n in (("mic", "speaker") if c == "audio" else (c,))]
    return [(n, _fixed(skip(n, "the config is invalid")), 1.0) for n in names]


def _config_jobs(cfg: Config, opts: DoctorOptions) -> list[Job]:
    t = opts.timeout_s
    key_line = api_key_result(bool(cfg.api_key), cfg.realtime.token_url)
    jobs: list[Job] = [("api key", _fixed(key_line), t)]
    wanted = {
        "network": (lambda: _one(_network(cfg.realtime.url, t)), 3 * t),
        "realtime": (lambda: _one(_realtime(cfg, t)), 3 * t),
        "audio": (lambda: _audio(cfg, opts), 4 * t + opts.record_s),
        "wake models": (lambda: _one(_wake(cfg, opts)), WAKE_TIMEOUT_S),
        "gpio": (lambda: _one(_gpio(cfg, opts.pin_factory)), LOCAL_TIMEOUT_S),
        "devices": (lambda: _devices(cfg, t), 3 * t),
    }
    for name, (job, timeout_s) in wanted.items():
        key = name.split()[0]
        if key in opts.skip:
            names = ("mic", "speaker") if key == "audio" else (name,)
            jobs += [(n, _fixed(skip(n, f"--skip {key}")), t) for n in names]
        else:
            jobs.append((name, job, timeout_s))
    return jobs


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


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in a new daemon thread and await its result.

    Unlike `asyncio.to_thread`, a call that never returns (a wedged sound driver) leaves only
    a daemon thread behind: the check times out and the process can still exit.
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(value)

    def run() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = fn(*args)
        except BaseException as exc:  # handed to the awaiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=run, name=f"doctor-{fn.__name__}", daemon=True).start()
    return await fut


def _secrets(cfg: Config | None) -> list[str]:
    if cfg is None:
        return []
    found = [cfg.api_key.reveal()]
    for dev in cfg.devices:
        found += [dev.password.reveal(), dev.token.reveal()]
    return [s for s in found if s]


# --------------------------------------------------------------------------------------------
# Config


def _load(opts: DoctorOptions) -> tuple[Config | None, CheckResult]:
    if opts.config is not None:
        return opts.config, ok("config", f"{opts.config.source}: valid (given)")
    path, explicit = config_path(opts.config_path, opts.env)
    try:
        cfg = load_config(opts.config_path, opts.env, require_api_key=False)
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


# --------------------------------------------------------------------------------------------
# Network and Realtime


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme in ("wss", "https") else 80
    return parts.hostname or "", parts.port or default


async def _network(url: str, timeout_s: float) -> CheckResult:
    """Resolve the Realtime host and open a TCP connection to it."""
    host, port = _host_port(url)
    if not host:
        return fail("network", f"realtime.url = {url!r} has no host", "fix realtime.url")
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        return fail(
            "network",
            f"cannot resolve {host!r}: {_why(exc, timeout_s)}",
            "check the network (`ip addr`, `ping 1.1.1.1`) and DNS (`getent hosts "
            f"{host}`, /etc/resolv.conf)",
        )
    address = str(infos[0][4][0])
    try:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(address, port)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return fail(
            "network",
            f"{host} ({address}) port {port}: {_why(exc, timeout_s)}",
            "the name resolves but the host does not answer: check the route, a firewall "
            "or a proxy in between",
        )
    ms = round((time.monotonic() - start) * 1000)
    return ok("network", f"{host} -> {address}, tcp port {port} connects ({ms} ms)")


async def _realtime(cfg: Config, timeout_s: float) -> CheckResult:
    """Open the WebSocket upgrade with the real credentials, then close at once."""
    import httpx
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    from edge_agent.errors import FatalRealtimeError, RealtimeError
    from edge_agent.realtime.auth import Credentials, session_url

    rt = cfg.realtime
    if not cfg.api_key and not rt.token_url:
        return skip("realtime", "no API key (see the api key line)")
    creds = Credentials(rt, cfg.api_key)
    try:
        async with asyncio.timeout(timeout_s):
            headers = await creds.headers()
    except FatalRealtimeError as exc:
        return fail("realtime", f"key rejected: {exc}", "check the relay's access rules")
    except (RealtimeError, httpx.HTTPError, TimeoutError) as exc:
        return fail(
            "realtime",
            f"token relay {rt.token_url}: unreachable: {_why(exc, timeout_s)}",
            "check realtime.token_url and that the relay is running",
        )
    finally:
        await creds.aclose()
    status: int | None = None
    error = ""
    try:
        async with connect(
            session_url(rt.url, rt.model),
            additional_headers=headers,
            open_timeout=timeout_s,
            close_timeout=1.0,
            max_size=None,
            compression=None,
        ):
            status = 101
    except InvalidStatus as exc:
        status = exc.response.status_code
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        error = _why(exc, timeout_s)
    return handshake_result(rt.url, status, error)


def _why(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, OSError) and exc.errno and not isinstance(exc, socket.gaierror):
        return os.strerror(exc.errno).lower()  # asyncio's strerror is "connect call failed (...)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------------------------
# Audio


async def _audio(cfg: Config, opts: DoctorOptions) -> list[CheckResult]:
    """The mic, then the speaker, on one PyAudio instance (PortAudio is process-global)."""
    return await in_thread(_audio_blocking, cfg, opts)


def _audio_blocking(cfg: Config, opts: DoctorOptions) -> list[CheckResult]:
    """Runs in a worker thread: open PyAudio, record, play silence, terminate."""
    from edge_agent.audio.devices import open_pyaudio

    try:
        pa = (opts.pa_factory or open_pyaudio)()
    except OSError as exc:
        hint = "install portaudio19 and alsa; is the user in the 'audio' group?"
        return [fail("mic", f"portaudio: {exc}", hint), fail("speaker", f"portaudio: {exc}", hint)]
    try:
        return [_mic(pa, cfg, opts.record_s), _speaker(pa, cfg)]
    finally:
        pa.terminate()


_BUSY_HINT: Final = (
    "another program holds the device: stop the daemon first (`sudo systemctl stop "
    "edge-agent`), or use a shared device (dsnoop/dmix, PulseAudio/PipeWire)"
)


def _open_hint(exc: BaseException, kind: str) -> str:
    text = str(exc).lower()
    if "unavailable" in text or "busy" in text:
        return _BUSY_HINT
    key = "audio.input_device" if kind == "mic" else "audio.output_device"
    return f"check {key} (`edge-agent audio list`) and that the user is in the 'audio' group"


def _missing_hint(message: str, key: str, tool: str) -> str:
    if "devices: none" in message:
        return (
            f"no sound card seen: is it plugged in and listed by `{tool} -l`? is the user in "
            "the 'audio' group? at boot the card may come up late (the unit waits for sound.target)"
        )
    return f"set {key} to one of the devices listed (exact name or a unique part of it)"


def _mic(pa: Any, cfg: Config, record_s: float) -> CheckResult:
    """Runs in a worker thread: record `record_s` from the configured mic."""
    import numpy as np
    import pyaudio  # type: ignore[import-untyped]

    from edge_agent.audio.devices import find_device, quiet_stderr
    from edge_agent.commands.audio import level_dbfs
    from edge_agent.errors import AudioDeviceError

    spec = cfg.audio.input_device
    try:
        dev = find_device(pa, spec, "input")
    except AudioDeviceError as exc:
        return fail("mic", str(exc), _missing_hint(str(exc), "audio.input_device", "arecord"))
    frames = int(RATE_HZ * record_s)
    try:
        with quiet_stderr():
            stream = pa.open(
                format=pyaudio.paInt16,
                channels=1,
                rate=RATE_HZ,
                input=True,
                input_device_index=dev.index,
                frames_per_buffer=RATE_HZ // 50,
            )
        try:
            data = stream.read(frames, exception_on_overflow=False)
        finally:
            stream.stop_stream()
            stream.close()
    except OSError as exc:
        return fail("mic", f"{dev.name!r} does not open: {exc}", _open_hint(exc, "mic"))
    samples = np.frombuffer(data, dtype=np.int16)
    return level_result(dev.name, level_dbfs(samples), len(samples) / RATE_HZ)


def _speaker(pa: Any, cfg: Config) -> CheckResult:
    """Runs in a worker thread: open the speaker and play 0.1 s of silence."""
    import pyaudio

    from edge_agent.audio.devices import find_device, quiet_stderr
    from edge_agent.errors import AudioDeviceError

    try:
        dev = find_device(pa, cfg.audio.output_device, "output")
    except AudioDeviceError as exc:
        return fail("speaker", str(exc), _missing_hint(str(exc), "audio.output_device", "aplay"))
    try:
        with quiet_stderr():
            stream = pa.open(
                format=pyaudio.paInt16,
                channels=1,
                rate=RATE_HZ,
                output=True,
                output_device_index=dev.index,
                frames_per_buffer=RATE_HZ // 50,
            )
        try:
            stream.write(bytes(2 * RATE_HZ // 10))
        finally:
            stream.stop_stream()
            stream.close()
    except OSError as exc:
        return fail("speaker", f"{dev.name!r} does not open: {exc}", _open_hint(exc, "speaker"))
    return ok("speaker", f"{dev.name!r} opens and plays (0.1 s of silence)")


# --------------------------------------------------------------------------------------------
# Wake models, GPIO, devices


async def _wake(cfg: Config, opts: DoctorOptions) -> CheckResult:
    folder = opts.models_dir
    if folder is None:
        env_dir = opts.env.get("EDGE_AGENT_MODELS_DIR")
        folder = Path(env_dir) if env_dir else cfg.models_dir
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
    except Exception as exc:  # onnxruntime rejects a corrupt or foreign file
        return fail("wake models", f"a model does not load: {type(exc).__name__}: {exc}", hint)
    return ok("wake models", f"{', '.join(detector.model_names)} load and run (from {folder})")


async def _gpio(cfg: Config, pin_factory: Any) -> CheckResult:
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


async def _devices(cfg: Config, timeout_s: float) -> list[CheckResult]:
    if not cfg.devices:
        return [skip("devices", "none configured ([[devices]])")]
    from edge_agent.tools.http import make_http_client

    async with make_http_client(cfg.tools) as http:
        return list(
            await asyncio.gather(
                *(_device(i, cfg, http, timeout_s) for i in range(len(cfg.devices)))
            )
        )


async def _device(index: int, cfg: Config, http: Any, timeout_s: float) -> CheckResult:
    from edge_agent.tools.drivers import driver_class
    from edge_agent.tools.drivers.base import DeviceError

    dev = cfg.devices[index]
    driver = driver_class(dev.family)(dev, http, timeout_s=min(cfg.tools.http_timeout_s, timeout_s))
    start = time.monotonic()
    try:
        async with asyncio.timeout(2 * timeout_s):  # drivers retry a read once
            state = await driver.get_state()
        text = " ".join(f"{k}={v}" for k, v in state.as_dict().items())
        result = device_result(dev.name, index, dev.family, dev.host, dev.port, "", text)
    except DeviceError as exc:
        result = device_result(
            dev.name, index, dev.family, dev.host, dev.port, exc.code, exc.detail
        )
    except TimeoutError:
        result = device_result(
            dev.name, index, dev.family, dev.host, dev.port, "timeout", "no answer"
        )
    finally:
        await driver.aclose()
    return dataclasses.replace(result, duration_ms=round((time.monotonic() - start) * 1000))


# --------------------------------------------------------------------------------------------
# Service user and journald


async def _user(service_user: str) -> CheckResult:
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


async def _journald(path: str) -> CheckResult:
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
        return fail("journald", f"{path}: cannot send: {_why(exc, 2.0)}", hint)
    if importlib.util.find_spec("systemd") is None:
        return fail(
            "journald",
            "the socket works but systemd-python is missing: the daemon would log to stderr",
            "install it into the daemon's venv: pip install systemd-python (needs libsystemd-dev)",
        )
    return ok("journald", f"{path}: test entry sent (journalctl -t edge-agent -n 1)")
