"""Config parsing: the example parses, every error names the key and exits 78, secrets stay hidden."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from edge_agent.config import EX_CONFIG, Secret, field_help, load_config, parse_config
from edge_agent.errors import ConfigError

KEY = "sk-test-VERYSECRET-0123456789"
EXAMPLE = resources.files("edge_agent").joinpath("config.example.toml")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "EDGE_AGENT_CONFIG", "CREDENTIALS_DIRECTORY")
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_example_parses_and_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    cfg = parse_config(text, env={"OPENAI_API_KEY": KEY})
    assert cfg.api_key.reveal() == KEY
    for key in field_help():
        leaf = key.rsplit(".", 1)[-1].removeprefix("devices[].")
        assert f"{leaf} = " in text or f"{leaf} " in text, f"{key} is not documented in the example"


def test_example_uncommented_devices_parse() -> None:
    """The commented [[devices]] examples are valid once uncommented (bar the secret files)."""
    text = EXAMPLE.read_text()
    start = text.index("#[[devices]]")
    body = "\n".join(line[1:] for line in text[start:].splitlines())
    with pytest.raises(ConfigError) as info:  # the password/token files it names don't exist here
        parse_config(body, env={"OPENAI_API_KEY": KEY})
    assert len(info.value.messages) == 2
    assert all("_file: cannot read" in m for m in info.value.messages), info.value.messages


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[wake]\ntreshold = 0.4\n",
            "wake.treshold: unknown key in [wake]; did you mean 'threshold'?",
        ),
        (
            "[wake]\nthreshold = 1.7\n",
            "wake.threshold = 1.7: expected a number between 0.0 and 1.0 (default 0.5)",
        ),
        (
            '[audio]\nframe_ms = "20"\n',
            "audio.frame_ms = '20': expected an integer between 10 and 100",
        ),
        ('[audio]\nduplex = "both"\n', "audio.duplex = 'both': expected one of 'half', 'full'"),
        ("[earcons]\nenabled = 1\n", "earcons.enabled = 1: expected true or false"),
        ("[realtme]\n", "realtme: unknown key in top level; did you mean 'realtime'?"),
        (
            '[[devices]]\nname = "a"\nfamily = "wled"\nhost = "h"\n[[devices]]\nname = "b"\nfamily = "wled"\n',
            "devices[1].host: missing",
        ),
        (
            '[[devices]]\nname = "a"\nfamily = "wled"\nhost = "http://h/x"\n',
            "devices[0].host = 'http://h/x': expected a bare host name",
        ),
        (
            '[[devices]]\nname = "a"\nfamily = "zigbee"\nhost = "h"\n',
            "devices[0].family = 'zigbee': expected one of",
        ),
        ("[wake\n", "invalid TOML"),
    ],
)
def test_errors_name_file_key_and_expectation(toml: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(toml, source="/etc/x.toml", env={"OPENAI_API_KEY": KEY})
    assert any(m.startswith("/etc/x.toml: ") and expected in m for m in info.value.messages), (
        info.value.messages
    )


def test_bad_toml_names_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[wake]\nthreshold = = 3\n", source="c.toml")
    assert "line 2" in str(info.value)


def test_all_errors_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[wake]\nthreshold = 2.0\n[audio]\nvolume = -1\n", env={"OPENAI_API_KEY": KEY})
    assert len(info.value.messages) == 2


def test_device_password_never_shown_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[[devices]]\nname = "a"\nfamily = "wled"\nhost = "h"\npassword = 12345678\n')
    assert "12345678" not in str(info.value)
    assert "'***'" in str(info.value)


def test_api_key_precedence_and_permissions(tmp_path: Path) -> None:
    cred = tmp_path / "creds"
    cred.mkdir()
    (cred / "openai_api_key").write_text("from-credential\n")
    keyfile = tmp_path / "key"
    keyfile.write_text("from-file\n")
    keyfile.chmod(0o644)
    toml = f'[realtime]\napi_key_file = "{keyfile}"\n'
    env = {"CREDENTIALS_DIRECTORY": str(cred), "OPENAI_API_KEY": "from-env"}
    assert parse_config(toml, env=env).api_key.reveal() == "from-credential"
    cfg = parse_config(toml, env={"OPENAI_API_KEY": "from-env"})
    assert cfg.api_key.reveal() == "from-file"
    assert any("readable by group or others" in w and "chmod 600" in w for w in cfg.warnings)
    keyfile.chmod(0o600)
    assert parse_config(toml, env={}).warnings == ()
    assert parse_config("", env={"OPENAI_API_KEY": "from-env"}).api_key.reveal() == "from-env"


def test_missing_api_key_is_an_error_unless_relay_or_not_required() -> None:
    with pytest.raises(ConfigError, match="no OpenAI API key"):
        parse_config("", env={})
    assert not parse_config("", env={}, require_api_key=False).api_key
    assert not parse_config('[realtime]\ntoken_url = "http://relay/token"\n', env={}).api_key


def test_secret_repr_hides_value() -> None:
    s = Secret(KEY)
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}"
    cfg = parse_config("", env={"OPENAI_API_KEY": KEY})
    assert KEY not in repr(cfg)


def test_missing_explicit_file_is_an_error_default_is_not(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", env={})
    cfg = load_config(None, env={"OPENAI_API_KEY": KEY})  # /etc/edge-agent/config.toml absent here
    assert cfg.audio.input_device == "default"


def test_env_var_selects_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[wake]\nthreshold = 0.7\n")
    assert (
        load_config(
            None, env={"EDGE_AGENT_CONFIG": str(path), "OPENAI_API_KEY": KEY}
        ).wake.threshold
        == 0.7
    )


# --- through the CLI ---------------------------------------------------------------------------


def test_cli_check_ok_and_exit_78_never_printing_the_key(tmp_path: Path) -> None:
    good = run_cli("config", "check", "--config", str(EXAMPLE), env={"OPENAI_API_KEY": KEY})
    assert good.returncode == 0, good.stderr
    assert "ok" in good.stdout
    cases = {
        "typo.toml": ("[wake]\nthreshhold = 0.5\n", "did you mean 'threshold'"),
        "type.toml": ('[audio]\nvolume = "loud"\n', "audio.volume = 'loud'"),
        "toml.toml": ("[audio\n", "invalid TOML"),
    }
    for name, (text, needle) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        res = run_cli("config", "check", "--config", str(path), env={"OPENAI_API_KEY": KEY})
        assert res.returncode == EX_CONFIG, (name, res.stderr)
        assert needle in res.stderr and str(path) in res.stderr
        assert KEY not in res.stdout + res.stderr
    missing = run_cli("config", "check", "--config", str(EXAMPLE))
    assert missing.returncode == EX_CONFIG and "no OpenAI API key" in missing.stderr


def test_cli_show_redacts(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[devices]]\nname = "lamp"\nfamily = "tasmota"\nhost = "h"\npassword = "hunter2-pass"\n'
    )
    res = run_cli("config", "show", "--config", str(path), env={"OPENAI_API_KEY": KEY})
    assert res.returncode == 0, res.stderr
    assert "hunter2-pass" not in res.stdout and KEY not in res.stdout
    assert 'password = "***"' in res.stdout and "api key: set" in res.stdout
    # what `show` prints is valid config again (with the secret masked)
    reparsed = parse_config(res.stdout, env={"OPENAI_API_KEY": KEY})
    assert reparsed.devices[0].name == "lamp"


def test_cli_version_and_help() -> None:
    from edge_agent import __version__

    res = run_cli("--version")
    assert res.returncode == 0 and __version__ in res.stdout
    for args in (["--help"], ["config", "--help"], ["config", "check", "--help"]):
        res = run_cli(*args)
        assert res.returncode == 0 and "usage:" in res.stdout


def test_a_secret_file_that_is_not_text_is_a_config_error(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_bytes(b"\xff\xfe-not-utf8")
    toml = (
        '[[devices]]\nname = "hall"\nfamily = "shelly_gen2"\n'
        f'host = "127.0.0.1"\ntoken_file = "{token}"\n'
    )
    with pytest.raises(ConfigError) as info:
        parse_config(toml, env={"OPENAI_API_KEY": KEY})
    assert info.value.messages == [
        f"<string>: devices[0].token_file: cannot read {str(token)!r}: UnicodeDecodeError; "
        "make it a UTF-8 text file readable by the user edge-agent runs as"
    ]
