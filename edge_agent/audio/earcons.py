"""Earcons: short generated sounds (wake, done, error, muted, unmuted, ringing, budget), 24 kHz.

Owns: synthesising them with numpy (no bundled files) and honouring `[earcons]` (enabled, per
sound switches, volume). Playing them is the caller's job (`Playback.write` + `end_of_stream`).
``ringing`` is one cycle (`RINGING_CYCLE_MS`: two double beeps, then a pause) of the sound a
due timer or alarm makes; the ringing shell writes it again each time a cycle has played.
``budget`` is the local notice of a refused turn (``budget.action = "refuse"``): three falling
notes, unlike the two flat low beeps of ``error``, so "the budget is used up" is told apart from "it failed"
without a session (nothing is spoken: speech would need the cloud the budget refuses).
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np

from edge_agent.config import EarconsConfig

__all__ = ["EARCONS", "RATE_HZ", "RINGING_CYCLE_MS", "Earcon", "earcon", "tone"]

RATE_HZ: Final = 24000
Earcon = Literal["wake", "done", "error", "muted", "unmuted", "ringing", "budget"]

# (frequency Hz, duration ms) notes; a rising pair means "yes/on", falling "done/off".
EARCONS: Final[dict[str, tuple[tuple[float, int], ...]]] = {
    "wake": ((880.0, 70), (1320.0, 90)),
    "done": ((1320.0, 70), (880.0, 90)),
    "error": ((330.0, 120), (0.0, 40), (330.0, 160)),
    "muted": ((660.0, 60), (440.0, 100)),
    "unmuted": ((440.0, 60), (660.0, 100)),
    "ringing": ((1568.0, 110), (0.0, 50), (1568.0, 110), (0.0, 180),
                (1568.0, 110), (0.0, 50), (1568.0, 110), (0.0, 700)),
    "budget": ((587.0, 120), (0.0, 40), (494.0, 120), (0.0, 40), (392.0, 170)),
}  # fmt: skip
RINGING_CYCLE_MS: Final = sum(ms for _, ms in EARCONS["ringing"])
_SWITCH: Final[dict[str, str]] = {
    "wake": "wake",
    "done": "done",
    "error": "error",
    "muted": "muted",
    "unmuted": "muted",
    "ringing": "ringing",
    "budget": "budget",
}
_FULL_SCALE: Final = 0.5  # leave headroom: earcons should not be louder than speech


def tone(freq_hz: float, duration_ms: int, *, gain: float = 1.0, fade_ms: int = 8) -> np.ndarray:
    """A sine with raised-cosine fades (no clicks); freq 0 gives silence."""
    n = RATE_HZ * duration_ms // 1000
    t = np.arange(n) / RATE_HZ
    wave = np.sin(2 * np.pi * freq_hz * t) if freq_hz > 0 else np.zeros(n)
    fade = min(RATE_HZ * fade_ms // 1000, n // 2)
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
    return np.rint(wave * 32767 * _FULL_SCALE * gain).astype(np.int16)


def earcon(name: Earcon, config: EarconsConfig) -> np.ndarray | None:
    """The samples of earcon `name`, or None when earcons or this one are switched off.

    Raises:
        KeyError: unknown earcon name.
    """
    notes = EARCONS[name]
    if not config.enabled or not getattr(config, _SWITCH[name]) or config.volume <= 0:
        return None
    return np.concatenate([tone(f, ms, gain=config.volume) for f, ms in notes])
