"""install.sh and uninstall.sh, run for real into staging roots (see conftest.py)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.install.conftest import (
    API_KEY,
    EDITED_CONFIG,
    INSTALL,
    PREFIX,
    REPO,
    UNINSTALL,
    StagedInstall,
    install_args,
    run,
    snapshot,
)

# The first test to ask for `staged` pays for two real installs (~40 s, several minutes on a
# busy machine or when the wheelhouse is first built): more than the default per-test timeout.
pytestmark = pytest.mark.timeout(600)

# What a plain uninstall keeps: the config, the API key, the data and the user's sysusers file.
KEPT = {
    "/etc/edge-agent",
    "/etc/edge-agent/config.toml",
    "/etc/edge-agent/openai_api_key",
    "/etc/sysusers.d",
    "/etc/sysusers.d/edge-agent.conf",
    "/var",
    "/var/lib",
    "/var/lib/edge-agent",
}


def test_install_lays_out_the_service(staged: StagedInstall) -> None:
    tree, root = staged.first, staged.root
    assert tree["/etc/edge-agent"][:2] == ("dir", 0o750)
    assert tree["/etc/edge-agent/config.toml"][:2] == ("file", 0o640)
    assert tree["/etc/edge-agent/openai_api_key"][:2] == ("file", 0o640)
    assert (root / "etc/edge-agent/openai_api_key").read_text() == API_KEY + "\n"
    example = (REPO / "edge_agent/config.example.toml").read_bytes()
    assert tree["/etc/edge-agent/config.toml"][2] == hashlib.sha256(example).hexdigest()
    assert tree["/var/lib/edge-agent"][:2] == ("dir", 0o750)
    assert tree["/var/lib/edge-agent/models"][0] == "dir"
    assert tree["/var/cache/edge-agent"][:2] == ("dir", 0o750)
    assert tree["/usr/local/bin/edge-agent"] == ("link", 0, f"{PREFIX}/bin/edge-agent")
    wants = "/etc/systemd/system/multi-user.target.wants/edge-agent.service"
    assert tree[wants] == ("link", 0, "/etc/systemd/system/edge-agent.service")
    unit = (root / "etc/systemd/system/edge-agent.service").read_text()
    assert f"ExecStart={PREFIX}/bin/edge-agent run\n" in unit
    assert "@PREFIX@" not in unit
    sysusers = (root / "etc/sysusers.d/edge-agent.conf").read_text()
    assert "m edge-agent audio" in sysusers and "m edge-agent gpio" in sysusers
    manifest = (root / PREFIX.lstrip("/") / "edge-agent-install.txt").read_text().splitlines()
    assert "owner /etc/edge-agent/openai_api_key root:edge-agent 0640" in manifest
    assert "owner /var/lib/edge-agent edge-agent:edge-agent 0750" in manifest
    assert any(line.startswith("user edge-agent system") for line in manifest)
    assert "/etc/hostname" in tree  # left alone
    assert API_KEY not in staged.output  # the key is never echoed


def test_rerun_gives_the_same_tree_and_keeps_the_edited_config(staged: StagedInstall) -> None:
    expected = dict(staged.first)
    kind, mode, _ = expected["/etc/edge-agent/config.toml"]
    expected["/etc/edge-agent/config.toml"] = (
        kind,
        mode,
        hashlib.sha256(EDITED_CONFIG.encode()).hexdigest(),
    )
    changed = sorted(
        k for k in expected.keys() | staged.second.keys() if expected.get(k) != staged.second.get(k)
    )
    assert changed == []
    assert (staged.root / "etc/edge-agent/config.toml").read_text() == EDITED_CONFIG
    assert "keeping the existing /etc/edge-agent/config.toml" in staged.output


def test_installed_cli_is_this_checkout_and_runs(staged: StagedInstall) -> None:
    venv = staged.root / PREFIX.lstrip("/")
    site = next(venv.glob("lib/python3.*/site-packages"))
    assert (site / "edge_agent/cli.py").read_bytes() == (REPO / "edge_agent/cli.py").read_bytes()
    assert (site / "openwakeword/resources/models/hey_jarvis_v0.1.onnx").is_file()
    exe = str(venv / "bin/edge-agent")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("edge-agent ")
    # The unit hands the key over as a credential; the key file's directory plays that role here.
    check = subprocess.run(
        [exe, "config", "check", "--config", str(staged.root / "etc/edge-agent/config.toml")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": str(staged.root / "etc/edge-agent")},
    )
    assert check.returncode == 0, check.stderr
    assert "api key set" in check.stdout
    assert API_KEY not in check.stdout + check.stderr


def test_uninstall_keeps_config_and_data_and_purge_removes_them(
    staged: StagedInstall, staged_copy: Path
) -> None:
    (staged_copy / "var/lib/edge-agent/memories.json").write_text("{}")
    run([str(UNINSTALL), "--root", str(staged_copy)])
    after = snapshot(staged_copy)
    kept = {p: staged.second[p] for p in KEPT}
    kept["/var/lib/edge-agent/memories.json"] = after["/var/lib/edge-agent/memories.json"]
    assert after == staged.before | kept

    run([str(UNINSTALL), "--root", str(staged_copy), "--purge"])
    assert snapshot(staged_copy) == staged.before


def test_uninstall_leaves_a_prefix_it_did_not_make(tmp_path: Path) -> None:
    foreign = tmp_path / "opt/other/venv"
    (foreign / "bin").mkdir(parents=True)
    (foreign / "bin/python").write_text("")
    out = run([str(UNINSTALL), "--root", str(tmp_path), "--prefix", "/opt/other/venv"])
    assert (foreign / "bin/python").exists()
    assert "not deleting it" in out


def test_usage() -> None:
    helped = subprocess.run([str(INSTALL), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    for flag in ("--non-interactive", "--no-start", "--prefix", "--root", "--api-key-file"):
        assert flag in helped.stdout
    bad = subprocess.run([str(INSTALL), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 64
    assert "unknown option --bogus" in bad.stderr
    rel = subprocess.run([str(INSTALL), "--prefix", "opt/x"], capture_output=True, text=True)
    assert rel.returncode == 64
    nokey = subprocess.run(
        [str(INSTALL), "--api-key-file", "/nonexistent/key"], capture_output=True, text=True
    )
    assert nokey.returncode == 64
    assert "cannot read it" in nokey.stderr
    assert subprocess.run([str(UNINSTALL), "--help"], capture_output=True).returncode == 0


def test_key_is_optional_when_non_interactive_and_read_from_stdin_otherwise(
    staged_copy: Path, wheelhouse: Path
) -> None:
    key = staged_copy / "etc/edge-agent/openai_api_key"
    key.unlink()
    out = run(install_args(staged_copy, wheelhouse, "--non-interactive"), stdin="sk-ignored\n")
    assert not key.exists()
    assert "no API key yet" in out

    run(install_args(staged_copy, wheelhouse), stdin="  sk-from-stdin-42 \r\n")
    assert key.read_text() == "sk-from-stdin-42\n"
    assert key.stat().st_mode & 0o777 == 0o640
