"""https for Home Assistant and Hue, verified (issue 14 §10): real TLS servers on loopback with
throw-away certificates; the token must never reach a server that fails verification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import Config, DaemonConfig, DeviceConfig, Secret, ToolsConfig, parse_config
from edge_agent.errors import ConfigError
from edge_agent.sim.devices.homeassistant import HomeAssistantEmulator
from edge_agent.sim.devices.hue import HueEmulator
from edge_agent.sim.http import EmulatedHttpService
from edge_agent.tools.home import build_registry

from .certs import ServerCert, make_certs

TOKEN = "ha-tls-token-42"
HUE_USER = "hue-tls-user-42"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ServerCert, ServerCert]:
    return make_certs(tmp_path_factory.mktemp("certs"))


@contextmanager
def serving(emu: EmulatedHttpService, cert: ServerCert) -> Iterator[EmulatedHttpService]:
    emu.start(tls=cert.context())
    try:
        yield emu
    finally:
        emu.stop()


def registry(tmp_path: Path, http: Any, dev: DeviceConfig) -> Any:
    cfg = Config(daemon=DaemonConfig(state_dir=str(tmp_path)),
                 tools=ToolsConfig(enabled=("home",), http_timeout_s=1.0), devices=(dev,))  # fmt: skip
    return build_registry(cfg, http)


async def get_state(tmp_path: Path, http: Any, dev: DeviceConfig) -> dict[str, Any]:
    reg = registry(tmp_path, http, dev)
    try:
        return json.loads(await reg.call("get_state", json.dumps({"device": dev.name})))
    finally:
        await reg.aclose()


def ha(port: int, **tls: Any) -> DeviceConfig:
    return DeviceConfig(name="Kitchen", family="homeassistant", host="127.0.0.1", port=port,
                        entity="light.kitchen", kind="light", token=Secret(TOKEN), scheme="https",
                        **tls)  # fmt: skip


def seeded_ha() -> HomeAssistantEmulator:
    emu = HomeAssistantEmulator(token=TOKEN)
    emu.add("light.kitchen", "on", brightness=255)
    return emu


async def test_ha_with_a_pinned_self_signed_certificate(tmp_path, http, certs) -> None:
    _, _, own = certs
    with serving(seeded_ha(), own) as emu:
        result = await get_state(tmp_path, http, ha(emu.port, cert_sha256=own.sha256.upper()))
    assert result["ok"] is True and result["state"]["on"] is True
    assert emu.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


async def test_ha_with_a_home_ca(tmp_path, http, certs) -> None:
    ca_file, signed, _ = certs
    with serving(seeded_ha(), signed) as emu:
        result = await get_state(tmp_path, http, ha(emu.port, ca_file=str(ca_file)))
    assert result["ok"] is True and len(emu.requests) == 1


@pytest.mark.parametrize(
    ("which", "tls"),
    [
        ("own", {"cert_sha256": "00" * 32}),  # pinned to some other certificate
        ("signed", {"cert_sha256": "11" * 32}),
        ("own", {}),  # system CAs: a self-signed certificate is not trusted
        ("signed", {}),  # nor a home CA the system does not know
        ("own", {"ca_file": "CA"}),  # not signed by the configured CA
    ],
)
async def test_the_token_never_reaches_an_unverified_server(tmp_path, http, certs, which, tls):
    ca_file, signed, own = certs
    tls = {k: (str(ca_file) if v == "CA" else v) for k, v in tls.items()}
    with serving(seeded_ha(), own if which == "own" else signed) as emu:
        result = await get_state(tmp_path, http, ha(emu.port, **tls))
    assert result["ok"] is False and result["error"] == "unreachable"
    assert "certificate failed verification" in result["detail"]
    assert emu.requests == []  # no request, so no token, was ever sent
    assert TOKEN not in json.dumps(result)


async def test_hue_over_pinned_tls(tmp_path, http, certs) -> None:
    _, _, own = certs
    dev = DeviceConfig(name="Lamp", family="hue", host="127.0.0.1", entity="light/1",
                       token=Secret(HUE_USER), scheme="https", cert_sha256=own.sha256)  # fmt: skip
    emu = HueEmulator.for_device(dev)
    with serving(emu, own):
        dev = DeviceConfig(**{**{f: getattr(dev, f) for f in (
            "name", "family", "host", "entity", "token", "scheme", "cert_sha256")},
            "port": emu.port})  # fmt: skip
        result = await get_state(tmp_path, http, dev)
    assert result["ok"] is True and emu.requests[-1].path == f"/api/{HUE_USER}/lights/1"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('family = "shelly_gen1"\nscheme = "https"', "only Home Assistant and Hue"),
        ('family = "hue"\ncert_sha256 = "' + "ab" * 32 + '"', "need scheme = 'https'"),
        ('family = "hue"\nscheme = "https"\ncert_sha256 = "abc"', "expected 64 hex digits"),
        ('family = "hue"\nscheme = "https"\nca_file = "/nonexistent/ca.pem"', "file not found"),
        ('family = "hue"\nscheme = "https"\nca_file = "/etc/hostname"\ncert_sha256 = "'
         + "ab" * 32 + '"', "not both"),
        ('family = "esphome"\nentity = "switch/x"\nauth_scheme = "none"', "auth_scheme"),
    ],
)  # fmt: skip
def test_tls_config_is_checked_at_load(keys: str, message: str) -> None:
    text = f'[[devices]]\nname = "x"\nhost = "192.0.2.1"\n{keys}\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text, source="cfg.toml", require_api_key=False)
    assert message in str(err.value)


def test_fingerprints_with_colons_are_accepted(certs) -> None:
    _, _, own = certs
    pin = ":".join(own.sha256[i : i + 2] for i in range(0, 64, 2)).upper()
    text = (f'[[devices]]\nname = "x"\nhost = "192.0.2.1"\nfamily = "hue"\nscheme = "https"\n'
            f'cert_sha256 = "{pin}"\n')  # fmt: skip
    assert parse_config(text, require_api_key=False).devices[0].cert_sha256 == pin
