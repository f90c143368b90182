#!/usr/bin/env python3
"""Rewrite the configuration reference between the README's markers from the code.

Run after changing edge_agent/config.py: `.venv/bin/python scripts/update-readme-reference.py`.
tests/foundation/test_readme.py fails while the README is out of step.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.config import config_reference

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def render(readme: str) -> str:
    block = f"{START}\n\n{config_reference()}\n{END}"
    return re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, readme, flags=re.S)


if __name__ == "__main__":
    path = Path(__file__).resolve().parents[1] / "README.md"
    path.write_text(render(path.read_text()))
