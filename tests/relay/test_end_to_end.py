"""End to end: the daemon's `realtime.token_url` path (RealtimeClient, in-process) against a real
`edge-agent relay serve` process with TLS (a test certificate made by the openssl CLI),
fronting the Realtime emulator's client-secret endpoint; then the turn's usage report."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from edge_agent.config import parse_config
from edge_agent.realtime.client import RealtimeClient
from edge_agent.relay.report import report_usage
from edge_agent.sim.client_secrets import ClientSecretService
from edge_agent.sim.notify import NotifySink
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.turn.events import ResponseFinished
from tests.realtime.conftest import next_of, speak
from tests.relay.conftest import UPSTREAM_KEY, relay_toml

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (the openssl CLI)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "relay-cert.pem", d / "relay-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "2", "-subj", "/CN=relay.test", "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@dataclass
class RelayProcess:
    url: str
    token: str
    env: dict[str, str]
    proc: asyncio.subprocess.Process
    notify: NotifySink

    async def stop(self) -> tuple[int, str]:
        """SIGTERM, then (exit status, everything it wrote to stderr: its log)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stderr is not None
        log = await asyncio.wait_for(self.proc.stderr.read(), 15)
        return await asyncio.wait_for(self.proc.wait(), 15), log.decode()


@pytest.fixture
async def relay(
    tmp_path: Path, upstream: ClientSecretService, certificate: tuple[Path, Path]
) -> AsyncIterator[RelayProcess]:
    """`edge-agent relay serve` with TLS and a satellite "kitchen"."""
    cert, key = certificate
    config = tmp_path / "relay.toml"
    config.write_text(
        relay_toml(
            tmp_path / "state",
            upstream.endpoint,
            listen="127.0.0.1",
            tls_cert_file=str(cert),
            tls_key_file=str(key),
        )
    )
    notify = NotifySink(tmp_path / "notify.sock")  # systemd's Type=notify socket
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "openai_api_key").write_text(UPSTREAM_KEY + "\n")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "CREDENTIALS_DIRECTORY": str(creds),  # like the unit's LoadCredential=
        "EDGE_AGENT_LOG_STDERR": "1",
        "EDGE_AGENT_RELAY_CONFIG": str(config),
        "NOTIFY_SOCKET": notify.path,
    }
    added = cli("relay", "add-satellite", "kitchen", env=env)
    assert added.returncode == 0, added.stderr
    token = next(w for w in added.stdout.split() if w.startswith("eas_"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge_agent", "relay", "serve", "--log-level", "debug",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("relay on https://127.0.0.1:"), line
    running = RelayProcess(line.split()[-1], token, env, proc, notify)
    try:
        yield running
    finally:
        await running.stop()
        notify.sock.close()


async def test_daemon_token_url_path_through_the_relay_with_tls(
    relay: RelayProcess,
    upstream: ClientSecretService,
    emulator: RealtimeEmulator,
    certificate: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    cert, _ = certificate
    token_file = tmp_path / "relay_token"
    token_file.write_text(relay.token + "\n")
    satellite = parse_config(
        f"""
[realtime]
url = "{emulator.url}"
model = "gpt-realtime-2.1"
token_url = "{relay.url}/v1/realtime/client_secrets"
token_file = "{token_file}"
token_ca_file = "{cert}"
silence_duration_ms = 200
prefix_padding_ms = 100
""",
        env={"OPENAI_API_KEY": UPSTREAM_KEY},  # present on the box, but never sent to a relay
    )
    assert satellite.api_key.reveal() == relay.token
    client = RealtimeClient(satellite.realtime, satellite.api_key, backoff_initial_s=0.05)
    try:
        await client.ensure_connected()
        await speak(client)
        done = await next_of(client, ResponseFinished)
        assert done.status == "completed"
    finally:
        await client.aclose()
    # The relay asked upstream once, with the real key; the satellite's session opened with
    # the secret it minted (the emulator accepts only UPSTREAM_KEY and minted secrets).
    assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {UPSTREAM_KEY}"]
    assert json.loads(upstream.requests[0].body)["session"]["model"] == "gpt-realtime-2.1"
    assert emulator.handshakes == [101] and emulator.auth_schemes == ["bearer"]
    secret = upstream.minted[0]["value"]
    assert list(emulator.client_secrets) == [secret]

    trust = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(verify=trust) as http:
        totals = await report_usage(
            http,
            satellite.realtime.token_url,
            satellite.api_key,
            turn_id="turn-1",
            cost_usd=0.0123,
            input_tokens=1500,
            output_tokens=240,
            model="gpt-realtime-2.1",
        )
        assert totals is not None and totals.today_usd == pytest.approx(0.0123)
        health = await http.get(f"{relay.url}/healthz")
        with pytest.raises(httpx.RemoteProtocolError):  # TLS only: a plain request is dropped
            await http.get(relay.url.replace("https:", "http:") + "/healthz")
    assert health.json() == {"ok": True}
    with pytest.raises(httpx.ConnectError):  # an untrusted certificate is refused by satellites
        async with httpx.AsyncClient() as http:
            await http.get(f"{relay.url}/healthz")

    status, log = await relay.stop()
    assert status == 0
    relay.notify.drain()
    assert relay.notify.lines()[:2] == ["READY=1", f"STATUS=serving {relay.url}"]
    assert "STOPPING=1" in relay.notify.lines()
    assert "minted a secret for kitchen (model gpt-realtime-2.1" in log
    assert "usage from kitchen: today 0.0123 USD" in log
    for secret_text in (UPSTREAM_KEY, relay.token, secret):
        assert secret_text not in log
    listed = json.loads(cli("relay", "list", "--json", env=relay.env).stdout)
    assert listed["satellites"][0]["name"] == "kitchen"
    assert (listed["satellites"][0]["today_mints"], listed["satellites"][0]["today_usd"]) == (
        1,
        0.0123,
    )


async def test_refusals_from_the_relay_process_never_log_the_key(
    relay: RelayProcess, upstream: ClientSecretService, emulator: RealtimeEmulator
) -> None:
    emulator.api_keys.clear()  # upstream now refuses the key, quoting part of it
    auth = {"Authorization": f"Bearer {relay.token}"}
    async with httpx.AsyncClient(verify=False) as http:
        refused_upstream = await http.post(
            f"{relay.url}/v1/realtime/client_secrets",
            json={"model": "gpt-realtime-2.1"},
            headers=auth,
        )
        no_token = await http.post(f"{relay.url}/v1/realtime/client_secrets", json={})
    assert refused_upstream.status_code == 502 and no_token.status_code == 401
    status, log = await relay.stop()
    assert status == 0
    assert (
        "refused a secret to kitchen: OpenAI refused the relay's API key (invalid_api_key)" in log
    )
    assert "missing satellite token" in log
    everything = log + refused_upstream.text + no_token.text + str(refused_upstream.headers)
    assert UPSTREAM_KEY not in everything and UPSTREAM_KEY[-4:] not in everything
    assert relay.token not in everything
    assert len(upstream.requests) == 1


def test_bad_relay_config_exits_78_with_the_key_named(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('[relay]\nlisten = "0.0.0.0"\nport = 8443\nmodel = "x"\n')
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "OPENAI_API_KEY": UPSTREAM_KEY}
    result = cli("relay", "check", "--config", str(config), env=env)
    assert result.returncode == 78
    lines = result.stderr.splitlines()
    assert (
        f"config error: {config}: relay.model: unknown key in [relay]; did you mean 'models'?"
        in lines
    )
    assert any(
        "relay.listen = '0.0.0.0': plain HTTP on a non-loopback address" in line for line in lines
    )
    assert UPSTREAM_KEY not in result.stdout + result.stderr
