"""Which modules a snippet leaves imported, seen from a fresh interpreter (what a daemon that
ran that code would keep resident)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(code: str, names: Iterable[str]) -> list[str]:
    """Those of `names` in sys.modules after running `code` in a new python (sorted)."""
    probe = f"{code}\nimport sys\nprint(sorted(set({sorted(names)!r}) & set(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    found: list[str] = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    return found
