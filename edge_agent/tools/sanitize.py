"""Text and numbers from outside, made safe to put in front of the model (or a terminal). Pure.

Everything a device, a weather service, an MCP server, an MQTT payload or a memory hands us is
hostile: it may carry control characters, terminal escape sequences, bidi overrides, line
separators that forge "SYSTEM:" lines, kilobytes of "ignore previous instructions", NaN or
infinities. Every tool source passes outside text through `clean_text` (capped, one line, no
Unicode Cc/Cf/Zl/Zp/Co/Cs characters) and outside numbers through `finite_number` before the
value reaches a tool result, the session instructions or the CLI's output.

`state_word` maps a device's state string onto the fixed `STATES` vocabulary (anything else is
"unknown"): a state is never free text in front of the model, so a 2 kB "ignore previous
instructions" sensor state reads as ``"unknown"``.

Must not: decide what a family's value means beyond the shared vocabulary, or log.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Final

__all__ = ["NAME_CHARS", "STATES", "clean_text", "finite_number", "is_clean", "state_word"]

NAME_CHARS: Final = 40
"""The cap on names and states spoken back to the user (a device, a place, a sensor state)."""

STATES: Final = frozenset(
    {
        "on", "off", "locked", "unlocked", "open", "closed", "jammed", "unavailable", "unknown",
        "opening", "closing", "locking", "unlocking", "armed", "disarmed", "triggered",
    }
)  # fmt: skip
"""Every state a tool result may carry (besides numbers): fixed words, never device text."""

_STATE_SYNONYMS: Final = {
    "unreachable": "unavailable",
    "offline": "unavailable",
    "none": "unknown",
    "pending": "unknown",
    "armed_home": "armed",
    "armed_away": "armed",
    "armed_night": "armed",
    "armed_vacation": "armed",
    "armed_custom_bypass": "armed",
    "true": "on",
    "false": "off",
}

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


def state_word(value: object) -> str:
    """`value` (a device state such as "LOCKED", "armed_away", "unreachable") as one of `STATES`.

    Case and surrounding whitespace are ignored; anything not in the vocabulary, including any
    longer text, is "unknown".
    """
    if isinstance(value, bool):
        return "on" if value else "off"
    if not isinstance(value, str) or len(value) > 40:
        return "unknown"
    word = value.strip().lower()
    word = _STATE_SYNONYMS.get(word, word)
    return word if word in STATES else "unknown"
