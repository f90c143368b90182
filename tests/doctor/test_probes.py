"""`run_checks` against real things: ALSA fake devices, the Realtime emulator, device emulators,
verified models, gpiozero mock pins and a journald socket; a good rig, then each kind of breakage."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import numpy as np
from gpiozero import LED
from gpiozero.pins.mock import MockFactory

from edge_agent.doctor import CheckResult, Status, exit_code
from edge_agent.probes import DoctorOptions, run_checks
from edge_agent.sim.alsa import AlsaFileRig
from edge_agent.sim.devices.shelly_gen1 import ShellyGen1Emulator
from edge_agent.sim.journald import JournalSink, entry_dict
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.token_relay import TokenRelay

from .conftest import BAD_KEY, GOOD_KEY, SCALE, Device, RigConfig, closed_port

WRONG_PASSWORD = "wrong-pw-0123456789"


def options(
    cfg_path: Path,
    journal: JournalSink | str,
    models_dir: Path,
    pins: MockFactory,
    key: str = GOOD_KEY,
    **kw: object,
) -> DoctorOptions:
    sock = journal if isinstance(journal, str) else journal.path
    return DoctorOptions(
        config_path=str(cfg_path),
        env={"OPENAI_API_KEY": key} if key else {},
        journal_socket=sock,
        models_dir=models_dir,
        pin_factory=pins,
        timeout_s=kw.pop("timeout_s", 2.0 * SCALE),  # type: ignore[arg-type]
        unit_credential=kw.pop("unit_credential", Path("/nonexistent/openai_api_key")),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


async def test_good_rig_is_all_ok(
    tmp_path: Path,
    alsa: AlsaFileRig,
    realtime: RealtimeEmulator,
    devices: list[Device],
    models_dir: Path,
    pins: MockFactory,
    journal: JournalSink,
) -> None:
    cfg = RigConfig(realtime.url, devices).write(tmp_path / "config.toml")
    seen: list[CheckResult] = []
    results = await run_checks(options(cfg, journal, models_dir, pins), on_result=seen.append)

    assert seen == results
    checks = [r.check for r in results]
    assert checks == [
        "config", "api key", "network", "realtime", "model", "budget", "mic", "speaker", "echo",
        "wake models", "gpio", "device 'kitchen light'", "device 'desk plug'", "device 'shelf strip'",
        "homeassistant", "mcp", "mqtt", "service user", "journald",
    ]  # fmt: skip
    not_ok = {r.check: r.detail for r in results if r.status is not Status.OK}
    # the tests do not run as the service user: that is a warning, never a failure; the rig
    # configures no Home Assistant and no MCP server: those are skipped
    assert set(not_ok) <= {"service user", "homeassistant", "mcp", "mqtt"}, not_ok
    assert got_skipped(results) >= {"homeassistant", "mcp", "mqtt"}
    assert exit_code(results) == 0
    got = by_check(results)
    assert "fakemic" in got["mic"].detail and "dBFS" in got["mic"].detail
    # one upgrade; the model line's GET /v1/models/... is the other request the emulator saw
    assert realtime.handshakes.count(101) == 1 and len(realtime.handshakes) == 2
    assert alsa.read_output().size >= 2400  # the speaker really played 0.1 s of silence
    assert not alsa.read_output().any()
    assert "hey_jarvis" in got["wake models"].detail
    assert got["gpio"].detail == "led and buttons pins free and open"
    for pin in ("GPIO17", "GPIO22", "GPIO27"):  # the doctor released every pin it opened
        LED(pin, pin_factory=pins).close()
    journal.receive(1.0)
    entries = [entry_dict(d) for d in journal.datagrams]
    assert [e["SYSLOG_IDENTIFIER"] for e in entries] == ["edge-agent"]
    assert entries[0]["DOCTOR"] == "1"
    assert GOOD_KEY not in repr(results)


async def test_broken_rig_reports_each_failure_with_its_hint(
    tmp_path: Path,
    alsa: AlsaFileRig,
    realtime: RealtimeEmulator,
    devices: list[Device],
    pins: MockFactory,
) -> None:
    gone = Device("porch light", "shelly_gen1", closed_port())
    locked = ShellyGen1Emulator(password="the-right-password", username="admin").start()
    wrong_pw = 'username = "admin"\npassword = "' + WRONG_PASSWORD + '"'
    cfg = RigConfig(
        realtime.url,
        [devices[0], gone, Device("garden pump", "shelly_gen1", locked.port, wrong_pw)],
        input_device="nosuchmic",
        led='type = "single"\npin = "GPIO99"',
        buttons="",
    ).write(tmp_path / "config.toml")
    opts = options(cfg, str(tmp_path / "no-journal"), tmp_path / "no-models", pins, key=BAD_KEY)
    try:
        results = await run_checks(opts)
    finally:
        locked.stop()
    got = by_check(results)

    failed = {r.check for r in results if r.status is Status.FAIL}
    assert failed == {
        "realtime", "mic", "wake models", "gpio", "device 'porch light'",
        "device 'garden pump'", "journald",
    }  # fmt: skip
    assert exit_code(results) == len(failed) == 7
    assert "key rejected (http 401)" in got["realtime"].detail
    assert "check the API key" in got["realtime"].hint
    assert "no capture device matches 'nosuchmic'" in got["mic"].detail
    assert "'fakemic'" in got["mic"].detail  # lists what exists
    assert "audio.input_device" in got["mic"].hint
    assert "run `edge-agent models fetch`" in got["wake models"].hint
    assert str(tmp_path / "no-models") in got["wake models"].hint
    assert "'GPIO99'" in got["gpio"].detail and "does not exist" in got["gpio"].detail
    assert "GPIO17" in got["gpio"].hint
    porch = got["device 'porch light'"]
    assert "unreachable" in porch.detail and "devices[1].host/port" in porch.hint
    assert got["device 'kitchen light'"].status is Status.OK
    assert got["speaker"].status is Status.OK
    assert "no journal socket" in got["journald"].detail
    pump = got["device 'garden pump'"]
    assert "unauthorized" in pump.detail and "password_file" in pump.hint
    assert BAD_KEY not in repr(results) and WRONG_PASSWORD not in repr(results)


async def test_silent_mic_fails(
    tmp_path: Path, alsa: AlsaFileRig, models_dir: Path, pins: MockFactory
) -> None:
    alsa.write_input(np.zeros(24000 * 3, dtype=np.int16))
    cfg = RigConfig("ws://127.0.0.1:9/v1/realtime").write(tmp_path / "config.toml")
    skip = frozenset({"network", "realtime", "wake", "gpio", "devices"})
    results = await run_checks(options(cfg, "/nonexistent", models_dir, pins, skip=skip))
    mic = by_check(results)["mic"]
    assert mic.status is Status.FAIL
    assert "silent (-inf dBFS" in mic.detail
    assert "alsamixer" in mic.hint
    assert by_check(results)["speaker"].status is Status.OK


async def test_quiet_but_not_silent_mic_passes(
    tmp_path: Path, alsa: AlsaFileRig, models_dir: Path, pins: MockFactory
) -> None:
    from .conftest import noise

    alsa.write_input(noise(3.0, amplitude=100))  # about -55 dBFS: a quiet room, not a dead mic
    cfg = RigConfig("ws://127.0.0.1:9/v1/realtime").write(tmp_path / "config.toml")
    skip = frozenset({"network", "realtime", "wake", "gpio", "devices"})
    results = await run_checks(options(cfg, "/nonexistent", models_dir, pins, skip=skip))
    mic = by_check(results)["mic"]
    assert mic.status is Status.OK, mic
    assert -60 < float(mic.detail.split(": ")[1].split()[0]) < -50


async def test_busy_gpio_pin_fails(tmp_path: Path, models_dir: Path, pins: MockFactory) -> None:
    holder = LED("GPIO27", pin_factory=pins)  # another program's device on the talk pin
    cfg = RigConfig("ws://127.0.0.1:9/v1/realtime").write(tmp_path / "config.toml")
    skip = frozenset({"audio", "network", "realtime", "wake", "devices"})
    try:
        results = await run_checks(options(cfg, "/nonexistent", models_dir, pins, skip=skip))
    finally:
        holder.close()
    gpio = by_check(results)["gpio"]
    assert gpio.status is Status.FAIL
    assert "'GPIO27' (status.buttons.talk_pin) is busy" in gpio.detail
    assert "choose another pin" in gpio.hint
    # the LED and the mute button opened before the busy pin were released again
    LED("GPIO17", pin_factory=pins).close()
    LED("GPIO22", pin_factory=pins).close()


async def test_gpio_not_configured_is_skipped(
    tmp_path: Path, models_dir: Path, pins: MockFactory
) -> None:
    cfg = RigConfig("ws://127.0.0.1:9/v1/realtime", led='type = "none"', buttons="")
    skip = frozenset({"audio", "network", "realtime", "wake", "devices"})
    results = await run_checks(
        options(cfg.write(tmp_path / "c.toml"), "/nonexistent", models_dir, pins, skip=skip)
    )
    gpio = by_check(results)["gpio"]
    assert gpio.status is Status.SKIP and "not configured" in gpio.detail
    assert exit_code(results) == 1  # only journald


async def test_hanging_services_time_out(
    tmp_path: Path, devices: list[Device], models_dir: Path, pins: MockFactory
) -> None:
    """A server that accepts and never answers costs the timeout, not a hang."""
    from edge_agent.sim.devices import emulator_class

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # read the upgrade request, never answer
        await asyncio.sleep(3600)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    from edge_agent.config import DeviceConfig

    stuck = emulator_class("wled").for_device(DeviceConfig("x", "wled", "127.0.0.1")).start()
    stuck.hang = True
    try:
        cfg = RigConfig(f"ws://127.0.0.1:{port}/v1/realtime", [Device("stuck", "wled", stuck.port)])
        skip = frozenset({"audio", "wake", "gpio"})
        start = time.monotonic()
        results = await run_checks(
            options(
                cfg.write(tmp_path / "c.toml"), "/x", models_dir, pins, skip=skip, timeout_s=0.5
            )
        )
        elapsed = time.monotonic() - start
    finally:
        stuck.stop()
        server.close()
    got = by_check(results)
    assert got["network"].status is Status.OK  # TCP connects; only the upgrade hangs
    assert got["realtime"].status is Status.FAIL
    assert "unreachable" in got["realtime"].detail and "0.5 s" in got["realtime"].detail
    assert got["device 'stuck'"].status is Status.FAIL
    assert "timeout" in got["device 'stuck'"].detail
    assert "tools.http_timeout_s" in got["device 'stuck'"].hint
    assert elapsed < 5 * SCALE


async def test_refused_connection_fails_network_and_realtime(
    tmp_path: Path, models_dir: Path, pins: MockFactory
) -> None:
    cfg = RigConfig(f"ws://127.0.0.1:{closed_port()}/v1/realtime")
    skip = frozenset({"audio", "wake", "gpio", "devices"})
    results = await run_checks(
        options(cfg.write(tmp_path / "c.toml"), "/x", models_dir, pins, skip=skip)
    )
    got = by_check(results)
    assert got["network"].status is Status.FAIL and "connection refused" in got["network"].detail
    assert got["realtime"].status is Status.FAIL and "unreachable" in got["realtime"].detail


async def test_token_relay_is_used_instead_of_a_key(
    tmp_path: Path, realtime: RealtimeEmulator, models_dir: Path, pins: MockFactory
) -> None:
    relay = TokenRelay(realtime).start()
    try:
        extra = f'token_url = "{relay.token_url}"'
        cfg = RigConfig(realtime.url, extra=extra).write(tmp_path / "c.toml")
        skip = frozenset({"audio", "wake", "gpio", "devices"})
        results = await run_checks(options(cfg, "/x", models_dir, pins, key="", skip=skip))
        got = by_check(results)
        assert got["api key"].status is Status.OK and "relay" in got["api key"].detail
        assert got["realtime"].status is Status.OK
        assert len(relay.minted) == 1
        relay.refuse = True
        results = await run_checks(options(cfg, "/x", models_dir, pins, key="", skip=skip))
        realtime_line = by_check(results)["realtime"]
        assert realtime_line.status is Status.FAIL and "key rejected" in realtime_line.detail
        assert not any(m in repr(results) for m in relay.minted)
    finally:
        relay.stop()


async def test_missing_key_fails_and_skips_the_handshake(
    tmp_path: Path, realtime: RealtimeEmulator, models_dir: Path, pins: MockFactory
) -> None:
    cfg = RigConfig(realtime.url).write(tmp_path / "c.toml")
    skip = frozenset({"audio", "wake", "gpio", "devices"})
    results = await run_checks(options(cfg, "/x", models_dir, pins, key="", skip=skip))
    got = by_check(results)
    assert got["api key"].status is Status.FAIL and "OPENAI_API_KEY" in got["api key"].hint
    assert got["realtime"].status is Status.SKIP
    assert realtime.handshakes == []


def got_skipped(results: list[CheckResult]) -> set[str]:
    return {r.check for r in results if r.status is Status.SKIP}


async def test_invalid_config_fails_and_skips_what_needs_it(
    tmp_path: Path, models_dir: Path, pins: MockFactory
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[wake]\nthreshold = 1.7\n[audio]\nframe_ms = "x"\n')
    results = await run_checks(options(path, "/x", models_dir, pins))
    got = by_check(results)
    assert got["config"].status is Status.FAIL
    assert "2 problem(s)" in got["config"].detail
    assert "wake.threshold = 1.7" in got["config"].detail
    assert "edge-agent config check" in got["config"].hint
    for name in ("api key", "network", "realtime", "mic", "speaker", "wake models", "gpio"):
        assert got[name].status is Status.SKIP, name
    assert got["journald"].status is Status.FAIL  # still checked: it needs no config
    assert exit_code(results) == 2


async def test_the_units_credential_is_used_when_run_by_hand(
    tmp_path: Path, realtime: RealtimeEmulator, models_dir: Path, pins: MockFactory
) -> None:
    """systemd hands the key over in $CREDENTIALS_DIRECTORY; by hand the doctor reads its source."""
    cred = tmp_path / "etc" / "openai_api_key"
    cred.parent.mkdir()
    cred.write_text(GOOD_KEY + "\n")
    cfg = RigConfig(realtime.url).write(tmp_path / "c.toml")
    skip = frozenset({"audio", "model", "wake", "gpio", "devices"})
    opts = options(cfg, "/x", models_dir, pins, key="", skip=skip, unit_credential=cred)
    got = by_check(await run_checks(opts))
    assert got["api key"].status is Status.OK
    assert got["realtime"].status is Status.OK, got["realtime"]
    # inside the service, systemd's $CREDENTIALS_DIRECTORY wins
    other = tmp_path / "creds"
    other.mkdir()
    (other / "openai_api_key").write_text(BAD_KEY)
    env = {"CREDENTIALS_DIRECTORY": str(other)}
    got = by_check(await run_checks(dataclasses.replace(opts, env=env)))
    assert "key rejected" in got["realtime"].detail
    assert realtime.handshakes == [101, 401]


async def test_journald_socket_without_a_listener_fails(tmp_path: Path) -> None:
    """journald stopped: its socket file is left behind but nobody reads it."""
    import socket

    from edge_agent.probes.machine import journald

    path = tmp_path / "socket"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.close()
    got = await journald(str(path))
    assert got.status is Status.FAIL
    assert got.detail == f"{path}: cannot send: connection refused"
    assert "systemctl status systemd-journald" in got.hint


async def test_realtime_answers_other_than_yes_or_no(
    tmp_path: Path, realtime: RealtimeEmulator, models_dir: Path, pins: MockFactory
) -> None:
    skip = frozenset({"audio", "model", "wake", "gpio", "devices"})

    async def realtime_line(url: str, extra: str = "") -> CheckResult:
        cfg = RigConfig(url, extra=extra).write(tmp_path / "c.toml")
        return by_check(await run_checks(options(cfg, "/x", models_dir, pins, skip=skip)))[
            "realtime"
        ]

    azure = await realtime_line(realtime.url, 'auth = "api-key"')  # Azure's header
    assert azure.status is Status.OK, azure
    wrong_path = await realtime_line(realtime.url.replace("/realtime", "/realtim"))
    assert "unexpected answer http 404" in wrong_path.detail
    assert "realtime.model" in wrong_path.hint
    realtime.faults.handshake_status = 503
    busy = await realtime_line(realtime.url)
    assert busy.status is Status.FAIL and "http 503" in busy.detail and "429/5xx" in busy.hint
    assert realtime.handshakes == [101, 404, 503]


async def test_an_untrusted_tls_certificate_is_named(
    tmp_path: Path, models_dir: Path, pins: MockFactory
) -> None:
    """A wss:// endpoint whose certificate does not verify (a TLS-intercepting proxy, or a Pi
    whose clock is not set yet): reachable over TCP, refused at TLS, with the clock hint."""
    import ssl
    import subprocess

    from websockets.asyncio.server import serve

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)

    async def handler(ws: object) -> None:
        raise AssertionError("the doctor must not trust a self-signed certificate")

    async with serve(handler, "127.0.0.1", 0, ssl=tls) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        cfg = RigConfig(f"wss://127.0.0.1:{port}/v1/realtime").write(tmp_path / "c.toml")
        skip = frozenset({"audio", "wake", "gpio", "devices"})
        got = by_check(await run_checks(options(cfg, "/x", models_dir, pins, skip=skip)))
    assert got["network"].status is Status.OK
    line = got["realtime"]
    assert line.status is Status.FAIL
    assert "tls certificate not accepted: self-signed certificate" in line.detail
    assert "timedatectl" in line.hint
