"""A real install.sh run into a staging root, shared by the install tests.

The slow part is pip: install.sh is pointed at a wheelhouse (`--wheelhouse`) that
scripts/lib/setup.sh builds once (test.sh does it during set-up; this fixture does it if it is
missing), so every step still runs for real — venv, pip resolving and installing every
dependency, the project wheel built from this checkout — but offline and in seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install.sh"
UNINSTALL = REPO / "scripts" / "uninstall.sh"
PREFIX = "/opt/edge-agent/venv"
API_KEY = "sk-test-not-a-real-key-0123456789"
EDITED_CONFIG = '[wake]\nthreshold = 0.6\n\n[audio]\ninput_device = "USB"\n'

# Files whose bytes legitimately change on every run: bytecode embeds the source's mtime.
VOLATILE_SUFFIXES = (".pyc",)


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Map each path under root to (kind, mode, sha256 or link target), bytecode left out."""
    tree: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = "/" + str(path.relative_to(root))
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                tree[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                tree[rel] = ("dir", mode, "")
            elif not name.endswith(VOLATILE_SUFFIXES):
                tree[rel] = ("file", mode, hashlib.sha256(path.read_bytes()).hexdigest())
    return tree


def run(args: list[str], *, stdin: str | None = None, timeout_s: float = 300) -> str:
    """Run a script, failing the test with its output when it fails."""
    proc = subprocess.run(
        args,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        pytest.fail(f"{args[0]} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def install_args(root: Path, wheelhouse: Path, *extra: str) -> list[str]:
    return [
        str(INSTALL),
        "--root",
        str(root),
        "--wheelhouse",
        str(wheelhouse),
        "--python",
        sys.executable,
        *extra,
    ]


@dataclass
class StagedInstall:
    """Two installs into one staging root, with the config edited in between."""

    root: Path
    before: dict[str, tuple[str, int, str]]
    first: dict[str, tuple[str, int, str]]
    second: dict[str, tuple[str, int, str]]
    timings_s: list[float] = field(default_factory=list)
    output: str = ""


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    path = REPO / ".cache" / "wheelhouse"
    subprocess.run(
        [
            "bash",
            "-c",
            '. scripts/lib/setup.sh && ea_wheelhouse "$1" "$2"',
            "_",
            str(path),
            sys.executable,
        ],
        cwd=REPO,
        check=True,
        timeout=600,
    )
    return path


@pytest.fixture(scope="session")
def staged(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> StagedInstall:
    root = tmp_path_factory.mktemp("root")
    (root / "etc").mkdir()
    (root / "etc" / "hostname").write_text("pi\n")  # something install must leave alone
    key_file = tmp_path_factory.mktemp("secret") / "key"
    key_file.write_text(API_KEY + "\n")
    before = snapshot(root)
    t0 = time.monotonic()
    out = run(install_args(root, wheelhouse, "--non-interactive", "--api-key-file", str(key_file)))
    t1 = time.monotonic()
    first = snapshot(root)
    (root / "etc/edge-agent/config.toml").write_text(EDITED_CONFIG)
    # The second run reads the same key from stdin.
    out += run(install_args(root, wheelhouse, "--api-key-file", "-"), stdin=API_KEY + "\n")
    t2 = time.monotonic()
    second = snapshot(root)
    return StagedInstall(root, before, first, second, [t1 - t0, t2 - t1], out)


@pytest.fixture
def staged_copy(staged: StagedInstall, tmp_path: Path) -> Path:
    """A private copy of the staged root that a test may uninstall from or reinstall into.

    Files are hard links (fast; install.sh and pip replace files rather than write into them).
    """
    copy = tmp_path / "root"
    shutil.copytree(staged.root, copy, symlinks=True, copy_function=os.link)
    return copy
