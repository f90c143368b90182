"""[homeassistant], [[mcp.servers]] and [[tools.http]]: parsed, checked, secrets from files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge_agent.config import Secret, dump_toml, parse_config
from edge_agent.errors import ConfigError


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.toml", require_api_key=False)
    return info.value.messages


def test_sections_parse_and_read_secret_files(tmp_path: Path) -> None:
    (tmp_path / "ha").write_text("ha-secret-token\n")
    (tmp_path / "cal").write_text("cal-token")
    (tmp_path / "key").write_text("k-123456")
    cfg = parse_config(
        f"""
[homeassistant]
url = "http://ha.local:8123"
token_file = "{tmp_path / "ha"}"
area = "Kitchen"

[[mcp.servers]]
name = "cal"
url = "http://127.0.0.1:8000/mcp"
token_file = "{tmp_path / "cal"}"
header_files = {{ X-Api-Key = "{tmp_path / "key"}" }}
allow = ["list"]

[[mcp.servers]]
name = "notes-2"
command = "/usr/bin/notes"
args = ["--stdio"]

[[tools.http]]
name = "quote"
description = "d"
url = "https://q.example/{{s}}"
parameters = {{ type = "object", properties = {{ s = {{ type = "string" }} }} }}
header_files = {{ Authorization = "{tmp_path / "key"}" }}
""",
        require_api_key=False,
    )
    assert cfg.homeassistant.token == Secret("ha-secret-token")
    cal, notes = cfg.mcp.servers
    assert cal.secret_headers == (
        ("X-Api-Key", Secret("k-123456")),
        ("Authorization", Secret("Bearer cal-token")),
    )
    assert (notes.command, notes.args, notes.allow) == ("/usr/bin/notes", ("--stdio",), ())
    assert cfg.tools.http[0].secret_headers == (("Authorization", Secret("k-123456")),)
    shown = dump_toml(cfg)
    assert "ha-secret-token" not in shown and "k-123456" not in shown and "cal-token" not in shown
    again = tomllib.loads(shown)  # the effective config is valid TOML
    assert again["mcp"]["servers"][1]["name"] == "notes-2"
    assert again["tools"]["http"][0]["parameters"]["properties"] == {"s": {"type": "string"}}
    # everything redaction needs (logs, doctor, tool results), the bare bearer token included
    assert sorted(cfg.secrets()) == sorted(
        ["ha-secret-token", "k-123456", "Bearer cal-token", "cal-token", "k-123456"]
    )


def test_every_mistake_names_its_key_and_the_fix(tmp_path: Path) -> None:
    errors = _errors(f"""
[homeassistant]
url = "homeassistant.local:8123"

[[mcp.servers]]
name = "My_Server"
url = "http://x/mcp"
command = "y"

[[mcp.servers]]
name = "a"

[[mcp.servers]]
name = "a"
url = "http://u:p@x/mcp"
header_files = {{ "bad header" = "{tmp_path / "missing"}" }}

[[tools.http]]
name = "ha_sneaky"
description = "d"
url = "http://{{host}}/x"
""")
    text = "\n".join(errors)
    assert (
        "homeassistant.url = 'homeassistant.local:8123': expected an http:// or https:// URL"
        in text
    )
    assert "homeassistant.token_file: missing; create a long-lived access token" in text
    assert "mcp.servers[0].name = 'My_Server': expected lowercase letters" in text
    assert "mcp.servers[0]: give either url (Streamable HTTP) or command (stdio), not both" in text
    assert (
        "mcp.servers[1]: give either url (Streamable HTTP) or command (stdio), not neither" in text
    )
    assert "mcp.servers[2].name = 'a': already used" in text
    assert "mcp.servers[2].url: credentials in the URL" in text
    assert "mcp.servers[2].header_files.bad header: not a valid HTTP header name" in text
    assert "tools.http[0].name = 'ha_sneaky'" in text
    assert "tools.http[0].url = 'http://{host}/x': placeholders may not be in the scheme" in text
    assert all(e.startswith("c.toml: ") for e in errors)


def test_an_unreadable_token_file_is_an_error_without_the_secret(tmp_path: Path) -> None:
    errors = _errors(f"""
[homeassistant]
url = "http://ha.local:8123"
token_file = "{tmp_path / "nope"}"
""")
    assert len(errors) == 1 and "homeassistant.token_file: cannot read" in errors[0]


def test_tables_must_be_tables_of_strings() -> None:
    errors = _errors("""
[[mcp.servers]]
name = "x"
url = "http://x/mcp"
header_files = { X-Key = 3 }
""")
    assert any("header_files" in e and "expected a table of strings" in e for e in errors)
