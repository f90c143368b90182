"""The README stays true: its config reference matches the code, its commands exist."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_config_reference_matches_code() -> None:
    spec = importlib.util.spec_from_file_location(
        "upd", ROOT / "scripts/update-readme-reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render(README) == README, (
        "README config reference is out of date: run scripts/update-readme-reference.py"
    )


def test_two_commands_and_install_line_are_at_the_top() -> None:
    head = README[: README.index("## Configuration")]
    for line in ("./scripts/demo.sh", "./scripts/test.sh", "sudo ./scripts/install.sh"):
        assert line in head
        script = line.split()[-1] if line.startswith("sudo") else line
        assert (ROOT / script.removeprefix("./")).exists(), script


def test_every_command_in_the_table_has_help() -> None:
    table = README[README.index("## Commands") : README.index("## Configuration")]
    commands = re.findall(r"^\| `edge-agent ([a-z-]+)", table, flags=re.M)
    assert len(commands) >= 10
    for command in sorted(set(commands)):
        res = subprocess.run(
            [sys.executable, "-m", "edge_agent", command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0 and "usage:" in res.stdout, (command, res.stderr[-500:])


def test_linked_docs_exist() -> None:
    for link in re.findall(r"\]\(((?:docs|edge_agent)/[^)#]+)\)", README):
        assert (ROOT / link).exists(), link
