"""`edge-agent run`: config errors exit 78 before anything starts; log level precedence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_agent.app import resolve_log_level
from edge_agent.config import EX_CONFIG, parse_config
from edge_agent.errors import ConfigError
from edge_agent.sim.notify import NotifySink
from tests.foundation.conftest import with_state_dir

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-run-test-SECRET-9876543210"


def clean_env(**extra: str) -> dict[str, str]:
    drop = (
        "OPENAI_API_KEY",
        "EDGE_AGENT_CONFIG",
        "EDGE_AGENT_LOG_LEVEL",
        "CREDENTIALS_DIRECTORY",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
    )
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PYTHONPATH=str(ROOT), EDGE_AGENT_LOG_STDERR="1", **extra)
    return env


def run_daemon(
    tmp_path: Path, config: str, *args: str, until: str = "", **env: str
) -> tuple[int, str, list[str]]:
    """Start `edge-agent run`, stop it with SIGTERM once READY (if it gets there) and, with
    `until`, once a stderr line holds that text too (what runs beside start-up, e.g. the
    model's lifecycle check, may log after READY)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(with_state_dir(config, tmp_path / "state"))
    with NotifySink(tmp_path / "notify") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(cfg), *args],
            env=clean_env(NOTIFY_SOCKET=sink.path, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        seen = threading.Event()

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.append(line)
                if until and until in line:
                    seen.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 20
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    sink.wait_for("READY=1", timeout_s=0.1)
                    break
                except TimeoutError:
                    continue  # not ready yet, or it exited (the caller checks the exit code)
            if until:
                seen.wait(timeout=max(0.0, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
            reader.join(timeout=10)
            assert proc.stdout is not None
            out = proc.stdout.read()
        finally:
            proc.kill()
            proc.wait()
        sink.drain()
        assert out == ""
        return proc.returncode, "".join(lines), sink.lines()


pytestmark = pytest.mark.usefixtures("daemon_sound")

# ---- log level precedence: --log-level, then $EDGE_AGENT_LOG_LEVEL, then daemon.log_level

WARNING_CFG = parse_config('[daemon]\nlog_level = "warning"\n', require_api_key=False)


@pytest.mark.parametrize(
    ("flag", "env", "cfg", "expected"),
    [
        ("error", {"EDGE_AGENT_LOG_LEVEL": "debug"}, WARNING_CFG, "error"),
        (None, {"EDGE_AGENT_LOG_LEVEL": "debug"}, WARNING_CFG, "debug"),
        (None, {"EDGE_AGENT_LOG_LEVEL": " INFO "}, WARNING_CFG, "info"),
        (None, {"EDGE_AGENT_LOG_LEVEL": ""}, WARNING_CFG, "warning"),
        (None, {}, WARNING_CFG, "warning"),
        (None, {}, None, "info"),
    ],
)
def test_log_level_precedence(
    flag: str | None, env: dict[str, str], cfg: object, expected: str
) -> None:
    assert resolve_log_level(flag, env, cfg) == expected  # type: ignore[arg-type]


def test_bad_log_level_env_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_log_level(None, {"EDGE_AGENT_LOG_LEVEL": "loud"}, None)
    assert info.value.messages == [
        "$EDGE_AGENT_LOG_LEVEL = 'loud': expected one of debug, info, warning, error"
    ]


def priorities(stderr: str) -> set[str]:
    """The syslog priorities in stderr, less <4>: a loaded CI machine can make the real-time
    sound rig overflow once (a legitimate "mic overflow" warning); errors still count."""
    return {line[:3] for line in stderr.splitlines() if line.startswith("<")} - {"<4>"}


def test_run_uses_the_config_level(tmp_path: Path) -> None:
    rc, err, _ = run_daemon(tmp_path, '[daemon]\nlog_level = "warning"\n', OPENAI_API_KEY=KEY)
    assert rc == 0
    assert priorities(err) == set(), err  # nothing below warning, no error during start and stop


def test_run_env_level_beats_the_config(tmp_path: Path) -> None:
    rc, err, _ = run_daemon(
        tmp_path,
        '[daemon]\nlog_level = "warning"\n',
        OPENAI_API_KEY=KEY,
        EDGE_AGENT_LOG_LEVEL="debug",
    )
    assert rc == 0
    assert priorities(err) == {"<6>", "<7>"}
    assert "<7>edge_agent.app: policy TurnPolicy(" in err


def test_run_flag_beats_env_and_config(tmp_path: Path) -> None:
    rc, err, _ = run_daemon(
        tmp_path,
        '[daemon]\nlog_level = "debug"\n',
        "--log-level",
        "info",
        OPENAI_API_KEY=KEY,
        EDGE_AGENT_LOG_LEVEL="debug",
    )
    assert rc == 0
    assert priorities(err) == {"<6>"}, err
    assert "<6>edge_agent.app: ready STATE=idle" in err.splitlines()


def test_run_warns_about_a_deprecated_model_beside_start_up(tmp_path: Path) -> None:
    """Offline (realtime.url on a closed local port): the shipped table answers."""
    rc, err, notified = run_daemon(
        tmp_path, '[realtime]\nmodel = "gpt-realtime"\n', until="is deprecated", OPENAI_API_KEY=KEY
    )
    assert rc == 0 and "READY=1" in notified
    warning = [ln for ln in err.splitlines() if "is deprecated" in ln]
    assert len(warning) == 1, err
    assert warning[0].startswith(
        "<4>edge_agent.probes.models: realtime.model 'gpt-realtime' is deprecated and shuts "
        "down on 2027-01-20"
    )
    assert "set realtime.model = 'gpt-realtime-2.1' (from the shipped table)" in warning[0]
    assert KEY not in err


# ---- bad configuration: exit 78 with the message, before anything starts, never the key


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        (
            "[daemon]\nlog_levle = 'info'\n",
            {"OPENAI_API_KEY": KEY},
            "daemon.log_levle: unknown key in [daemon]; did you mean 'log_level'?",
        ),
        (
            "[conversation]\nfollow_up_s = 'long'\n",
            {"OPENAI_API_KEY": KEY},
            "conversation.follow_up_s = 'long': expected a number between 0.0 and 60.0",
        ),
        ("[daemon\n", {"OPENAI_API_KEY": KEY}, "invalid TOML"),
        ("", {}, "no OpenAI API key"),
        ("", {"OPENAI_API_KEY": KEY, "EDGE_AGENT_LOG_LEVEL": "loud"}, "$EDGE_AGENT_LOG_LEVEL"),
    ],
    ids=["typo", "type", "toml", "no-key", "bad-level-env"],
)
def test_bad_config_exits_78_before_starting(
    tmp_path: Path, config: str, env: dict[str, str], message: str
) -> None:
    rc, err, notified = run_daemon(tmp_path, config, **env)
    assert rc == EX_CONFIG
    assert err.startswith("config error: ")
    assert message in err
    assert KEY not in err
    assert notified == []  # never got as far as READY (or anything else)


def test_token_url_replaces_the_api_key(tmp_path: Path) -> None:
    rc, err, notified = run_daemon(tmp_path, '[realtime]\ntoken_url = "http://127.0.0.1:9/token"\n')
    assert rc == 0, err
    assert notified[:2] == ["READY=1", "STATUS=idle"]


def test_key_file_contents_never_printed(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o644)  # readable by others: a warning naming the file, not the key
    rc, err, _ = run_daemon(
        tmp_path, f'[realtime]\napi_key_file = "{key_file}"\n', "--log-level", "debug"
    )
    assert rc == 0
    assert "readable by group or others" in err
    assert KEY not in err


def test_run_help_explains_itself() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "run", "--help"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    )
    assert proc.returncode == 0
    for text in ("SIGTERM", "READY=1", "STATUS=<state>", "78", "--log-level", "token_url"):
        assert text in proc.stdout


def test_version_read_without_importlib_metadata_matches_it() -> None:
    """`edge_agent.__version__` comes from the metadata file importlib.metadata would read."""
    import subprocess
    import sys

    code = (
        "import sys, edge_agent\n"
        "print(edge_agent.__version__, 'importlib.metadata' in sys.modules, "
        "'httpx._main' in sys.modules and sys.modules['httpx._main'] is None)\n"
        "import importlib.metadata as m, httpx\n"
        "print(m.version('edge-agent'), 'click' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = out.stdout.split("\n")[:2]
    ours, metadata_imported, cli_blocked = first.split()
    theirs, click_imported = second.split()
    assert ours == theirs and metadata_imported == "False" and cli_blocked == "True"
    assert click_imported == "False"  # httpx's CLI (click, pygments) stays out
