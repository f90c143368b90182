"""[mqtt] parsing: bad values name the key (the CLI exits 78), the password stays a secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.config import dump_toml, parse_config
from edge_agent.errors import ConfigError


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, source="c.toml", require_api_key=False)
    return exc.value.messages


def test_off_by_default_and_nothing_checked() -> None:
    cfg = parse_config("", require_api_key=False)
    assert cfg.mqtt.enabled is False and cfg.mqtt.discovery_prefix == "homeassistant"
    parse_config('[mqtt]\nhost = "not a host/"\n', require_api_key=False)  # off: not checked


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('host = ""', "mqtt.host"),
        ('host = "mqtt://broker"', "mqtt.host"),
        ('host = "broker:1883"', "mqtt.host"),
        ('host = "b"\nport = 0', "mqtt.port"),
        ('host = "b"\nport = 70000', "mqtt.port"),
        ('host = "b"\ndiscovery_prefix = "home/#"', "mqtt.discovery_prefix"),
        ('host = "b"\ndiscovery_prefix = ""', "mqtt.discovery_prefix"),
        ('host = "b"\nbase_topic = "a/+/b"', "mqtt.base_topic"),
        ('host = "b"\nbase_topic = "/lead"', "mqtt.base_topic"),
        ('host = "b"\nclient_id = "has space"', "mqtt.client_id"),
        ('host = "b"\nkeepalive_s = 1', "mqtt.keepalive_s"),
        ('host = "b"\nannounce_per_minute = 0', "mqtt.announce_per_minute"),
        ('host = "b"\npassword_file = "/x"', "mqtt.password_file"),  # without a username
        ('host = "b"\n[mqtt.tls]\nca_file = "/nonexistent.pem"', "mqtt.tls.ca_file"),
        ('host = "b"\nhots = "x"', "mqtt.hots"),
    ],
)
def test_bad_values_name_the_key(body: str, key: str) -> None:
    problems = errors(f"[mqtt]\nenabled = true\n{body}\n")
    assert any(key in p for p in problems), problems


def test_the_password_file_is_read_and_never_shown(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("hunter2-broker\n")
    text = f'[mqtt]\nenabled = true\nhost = "::1"\nusername = "u"\npassword_file = "{pw}"\n'
    cfg = parse_config(text, require_api_key=False)
    assert cfg.mqtt.password.reveal() == "hunter2-broker"
    assert "hunter2" not in repr(cfg) and "hunter2" not in dump_toml(cfg)
    assert cfg.secrets() == ["hunter2-broker"]  # redacted from logs and doctor results
    missing = errors(text.replace(str(pw), str(tmp_path / "gone")))
    assert any("mqtt.password_file" in p for p in missing), missing


def test_the_cli_exits_78(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[mqtt]\nenabled = true\nhost = "b"\nport = "1883"\n')
    res = subprocess.run(
        [sys.executable, "-m", "edge_agent", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 78 and "mqtt.port" in res.stderr
