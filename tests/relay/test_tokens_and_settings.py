"""Satellite tokens (hashed, verified, revoked) and the relay's config file checks."""

from __future__ import annotations

import dataclasses
import json
import os
from importlib import resources
from pathlib import Path

import pytest

from edge_agent.errors import ConfigError
from edge_agent.relay.settings import RelayConfig, load_relay_config, parse_relay_config
from edge_agent.relay.store import RelayStore, StoreError
from edge_agent.relay.tokens import Registry, TokenCheck


def test_tokens_are_stored_only_as_salted_digests(tmp_path: Path) -> None:
    registry, kitchen = Registry().add("kitchen", "t0")
    registry, hall = registry.add("hall", "t0")
    assert kitchen.startswith("eas_") and len(kitchen) == 4 + 8 + 1 + 43
    store = RelayStore(tmp_path / "state")
    store.save_registry(registry)
    text = store.satellites_path.read_text()
    assert kitchen not in text and hall not in text
    assert kitchen.split("_", 2)[2] not in text
    assert (store.satellites_path.stat().st_mode & 0o777) == 0o600
    assert (store.dir.stat().st_mode & 0o777) == 0o700
    again = store.load_registry()
    assert again.verify(kitchen) == TokenCheck(again.get("kitchen"), "ok")
    assert again.verify(hall).satellite == again.get("hall")
    salts = {s["salt"] for s in json.loads(text)["satellites"]}
    assert len(salts) == 2


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sk-proj-abc", "malformed"),
        ("eas_00000000_" + "A" * 43, "unknown"),
    ],
)
def test_bad_tokens(token: str | None, reason: str) -> None:
    registry, _ = Registry().add("kitchen", "t0")
    assert registry.verify(token) == TokenCheck(None, reason)


def test_a_token_with_the_right_id_but_wrong_secret_is_unknown() -> None:
    registry, token = Registry().add("kitchen", "t0")
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert registry.verify(forged) == TokenCheck(None, "unknown")


def test_revoke_and_re_add() -> None:
    registry, old = Registry().add("kitchen", "t0")
    with pytest.raises(ValueError, match="exists; `edge-agent relay revoke kitchen` first"):
        registry.add("kitchen", "t1")
    revoked = registry.revoke("kitchen", "t1")
    assert revoked.verify(old) == TokenCheck(None, "revoked")
    assert registry.verify(old).reason == "ok"  # the old registry is unchanged
    renewed, new = revoked.add("kitchen", "t2")
    assert renewed.verify(new).reason == "ok" and renewed.verify(old).reason == "unknown"
    with pytest.raises(KeyError):
        renewed.revoke("nobody", "t3")


@pytest.mark.parametrize("name", ["", "Kitchen", "a b", "-x", "x" * 33, "../etc"])
def test_satellite_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="expected 1-32 of a-z"):
        Registry().add(name, "t0")


def test_a_corrupt_registry_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    store = RelayStore(tmp_path)
    store.satellites_path.write_text('{"version": 1, "satellites": [{"name": "x"}]}')
    with pytest.raises(StoreError, match="a satellite record has no 'token_id'"):
        store.load_registry()
    store.satellites_path.write_text("{not json")
    with pytest.raises(StoreError, match="not JSON"):
        store.load_registry()


def test_registry_changed_sees_every_write(tmp_path: Path) -> None:
    store = RelayStore(tmp_path)
    assert store.registry_changed()  # first look
    assert not store.registry_changed()
    registry, _ = Registry().add("a", "t0")
    store.save_registry(registry)
    assert store.registry_changed()
    assert not store.registry_changed()
    store.save_registry(registry.revoke("a", "t1"))  # same size, same second: a new inode
    assert store.registry_changed()


ENV = {"OPENAI_API_KEY": "sk-real-key-123456"}


def errors_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_relay_config(text, source="relay.toml", env=ENV if env is None else env)
    return info.value.messages


def test_the_example_parses_and_names_every_key() -> None:
    text = resources.files("edge_agent.relay").joinpath("relay.example.toml").read_text()
    assert parse_relay_config(text, source="example", env=ENV).relay == RelayConfig()
    for f in dataclasses.fields(RelayConfig):
        assert f"{f.name} = " in text, f"relay.{f.name} is not in the example"


def test_defaults_are_safe() -> None:
    loaded = parse_relay_config("", source="relay.toml", env=ENV)
    assert loaded.relay == RelayConfig()
    assert loaded.relay.listen == "127.0.0.1" and not loaded.relay.allow_plain_http
    assert loaded.api_key.reveal() == "sk-real-key-123456"
    assert "sk-real" not in repr(loaded)


def test_config_errors_name_file_key_and_fix() -> None:
    assert errors_of('[relay]\nlisten = "0.0.0.0"\n') == [
        "relay.toml: relay.listen = '0.0.0.0': plain HTTP on a non-loopback address; expected "
        "relay.tls_cert_file and relay.tls_key_file (docs/relay.md: TLS), or allow_plain_http = "
        "true on a trusted wired LAN"
    ]
    assert errors_of('[relay]\ntls_cert_file = "/x.pem"\n') == [
        "relay.toml: relay.tls_key_file: missing; TLS needs both a certificate and its key"
    ]
    assert errors_of(
        '[relay]\nupstream_url = "http://api.openai.com/v1/realtime/client_secrets"\n'
    ) == [
        "relay.toml: relay.upstream_url = 'http://api.openai.com/v1/realtime/client_secrets': "
        "expected an https:// URL (http:// only on loopback, for the emulator)"
    ]
    assert errors_of("[relay]\nsecret_ttl_s = 5\nrequests_per_minut = 3\n") == [
        "relay.toml: relay.requests_per_minut: unknown key in [relay]; did you mean "
        "'requests_per_minute'?",
        "relay.toml: relay.secret_ttl_s = 5: expected an integer between 10 and 7200 (default 600)",
    ]
    assert errors_of("", env={}) == [
        "relay.toml: no OpenAI API key: put it in $CREDENTIALS_DIRECTORY/openai_api_key "
        "(systemd LoadCredential), set relay.api_key_file, or export OPENAI_API_KEY"
    ]
    assert errors_of("[relay]\nmodels = []\n") == [
        "relay.toml: relay.models = []: expected model names"
    ]
    assert errors_of("[relay\n")[0].startswith("relay.toml: invalid TOML:")
    assert errors_of("[daemon]\n")[0].startswith("relay.toml: daemon: unknown key in top level")


def test_per_satellite_tables() -> None:
    text = (
        '[relay]\nmodels = ["a", "b"]\n\n[[relay.satellites]]\nname = "kids"\ndaily_usd = 0.3\n'
        'models = ["b"]\n'
    )
    (kids,) = parse_relay_config(text, env=ENV).relay.satellites
    assert (kids.name, kids.daily_usd, kids.monthly_usd, kids.models) == ("kids", 0.3, -1.0, ("b",))
    bad = (
        '[relay]\nmodels = ["a"]\n[[relay.satellites]]\nname = "k"\nmodels = ["c"]\n'
        '[[relay.satellites]]\nname = "k"\n[[relay.satellites]]\ndaily_usd = -2\n'
    )
    assert errors_of(bad) == [
        "relay.toml: relay.satellites[2].name: missing; expected the satellite's name, as given "
        "to `edge-agent relay add-satellite`",
        "relay.toml: relay.satellites[2].daily_usd = -2: expected a number of at least -1.0 "
        "(default -1.0)",
        "relay.toml: relay.satellites[0].models = ['c']: 'c' is not in relay.models; expected "
        "some of ['a']",
        "relay.toml: relay.satellites[1].name = 'k': listed twice",
    ]


def test_plain_http_on_the_lan_needs_the_opt_in() -> None:
    loaded = parse_relay_config(
        '[relay]\nlisten = "0.0.0.0"\nallow_plain_http = true\n', source="r", env=ENV
    )
    assert loaded.relay.allow_plain_http


def test_unreadable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate")
    (found,) = errors_of(f'[relay]\ntls_cert_file = "{cert}"\ntls_key_file = "{cert}"\n')
    assert found.startswith(f"relay.toml: relay.tls_cert_file = '{cert}': cannot load it")


def test_key_lookup_order(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "openai_api_key").write_text("sk-from-credential\n")
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    text = f'[relay]\napi_key_file = "{key_file}"\n'
    env = {"OPENAI_API_KEY": "sk-from-env", "CREDENTIALS_DIRECTORY": str(creds)}
    assert parse_relay_config(text, env=env).api_key.reveal() == "sk-from-credential"
    del env["CREDENTIALS_DIRECTORY"]
    assert parse_relay_config(text, env=env).api_key.reveal() == "sk-from-file"
    assert parse_relay_config("", env=env).api_key.reveal() == "sk-from-env"


def test_load_from_env_path_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text("[relay]\nport = 9000\n")
    env = {**ENV, "EDGE_AGENT_RELAY_CONFIG": str(path)}
    assert load_relay_config(None, env).relay.port == 9000
    with pytest.raises(ConfigError, match="file not found; create it from the example"):
        load_relay_config(os.fspath(tmp_path / "nope.toml"), ENV)
