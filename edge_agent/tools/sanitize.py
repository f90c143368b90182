"""Text and numbers from outside, made safe to put in front of the model (or a terminal). Pure.

Everything a device, a weather service, an MCP server, an MQTT payload or a memory hands us is
hostile: it may carry control characters, terminal escape sequences, bidi overrides, line
separators that forge "SYSTEM:" lines, kilobytes of "ignore previous instructions", NaN or
infinities. Every tool source passes outside text through `clean_text` (capped, one line, no
Unicode Cc/Cf/Zl/Zp/Co/Cs characters) and outside numbers through `finite_number` before the
value reaches a tool result, the session instructions or the CLI's output.

Must not: decide what a value means (drivers map states to their vocabulary) or log.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Final

__all__ = ["NAME_CHARS", "clean_text", "finite_number", "is_clean"]

NAME_CHARS: Final = 40
"""The cap on names and states spoken back to the user (a device, a place, a sensor state)."""

_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})
_SPACES: Final = re.compile(r"\s+")


def clean_text(value: object, max_chars: int = NAME_CHARS) -> str:
    """`value` as one line of printable text: controls dropped, whitespace collapsed, capped.

    Tabs, newlines and other whitespace become single spaces (so a value cannot start a line of
    its own); format characters (bidi overrides, zero-width joiners), control characters (ESC of a
    terminal escape sequence), private-use, surrogate and unassigned code points are removed. A
    value longer than `max_chars` is cut and ends with "…".
    """
    text = value if isinstance(value, str) else str(value)
    text = _SPACES.sub(" ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_chars:
        text = text[: max(0, max_chars - 1)].rstrip() + "…"
    return text


def is_clean(value: str, max_chars: int = NAME_CHARS) -> bool:
    """True when `clean_text` would return `value` unchanged."""
    return clean_text(value, max_chars) == value


def finite_number(value: object) -> float | int | None:
    """`value` when it is a real, finite int or float (not bool, NaN or ±inf), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
