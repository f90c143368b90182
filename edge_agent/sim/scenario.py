"""Scripted Realtime turns as data (TOML), shared by the tests, the emulator and `simulate`.

A scenario is a list of turns consumed in order, one per user turn, and a fallback reply. A turn
either answers at once (`text` + `audio`) or calls tools (`calls`) and answers with `then` once
every output is in. Reply audio is a known signal (a sine tone) or a WAV file, so tests can check
exactly what reached the client. See edge_agent/sim/data/realtime_default.toml.
"""

from __future__ import annotations

import math
import tomllib
import wave
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np

__all__ = ["Call", "Reply", "Scenario", "Turn", "default_scenario", "load_scenario", "tone"]

SAMPLE_RATE_HZ: Final = 24_000
TONE_AMPLITUDE: Final = 0.3


def tone(freq_hz: float, duration_ms: int, amplitude: float = TONE_AMPLITUDE) -> bytes:
    """A sine tone as 24 kHz int16 mono PCM (exactly duration_ms * 24 samples)."""
    n = duration_ms * SAMPLE_RATE_HZ // 1000
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE_HZ
    return (np.sin(2 * math.pi * freq_hz * t) * amplitude * 32767).astype("<i2").tobytes()


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    pcm: bytes  # 24 kHz int16 mono

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) // 48


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Turn:
    reply: Reply | None = None  # spoken at once (before the calls when both are set)
    calls: tuple[Call, ...] = ()
    then: Reply | None = None  # after every function_call_output and a response.create
    user_transcript: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    turns: tuple[Turn, ...] = ()
    fallback: Reply = field(default_factory=lambda: Reply("I heard you.", tone(330, 600)))


def _audio(spec: object, base: Path | None, where: str) -> bytes:
    if not isinstance(spec, dict):
        raise ValueError(f"{where}.audio: expected a table with tone_hz/duration_ms or wav")
    if "wav" in spec:
        path = Path(spec["wav"])
        if base is not None and not path.is_absolute():
            path = base / path
        with wave.open(str(path), "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE_HZ, 1, 2):
                raise ValueError(f"{where}.audio.wav = {str(path)!r}: must be 24 kHz mono 16-bit")
            return w.readframes(w.getnframes())
    return tone(float(spec.get("tone_hz", 440)), int(spec.get("duration_ms", 1000)))


def _reply(raw: object, base: Path | None, where: str) -> Reply | None:
    if not isinstance(raw, dict) or ("text" not in raw and "audio" not in raw):
        return None
    pcm = _audio(raw.get("audio", {"tone_hz": 440, "duration_ms": 800}), base, where)
    return Reply(str(raw.get("text", "")), pcm)


def parse_scenario(data: dict[str, Any], base: Path | None = None) -> Scenario:
    """A scenario from parsed TOML/JSON; raises ValueError naming the bad entry."""
    turns = []
    for i, raw in enumerate(data.get("turn", [])):
        where = f"turn[{i}]"
        calls = tuple(
            Call(str(c["name"]), dict(c.get("arguments", {}))) for c in raw.get("calls", [])
        )
        reply = _reply(raw, base, where)
        if not calls and reply is None:
            raise ValueError(f"{where}: needs text/audio or calls")
        then = _reply(raw.get("then"), base, f"{where}.then")
        turns.append(Turn(reply, calls, then, str(raw.get("user_transcript", ""))))
    fallback = _reply(data.get("fallback"), base, "fallback")
    return Scenario(tuple(turns), fallback) if fallback else Scenario(tuple(turns))


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    with path.open("rb") as f:
        return parse_scenario(tomllib.load(f), path.parent)


def default_scenario() -> Scenario:
    """The bundled scenario: a plain answer, two parallel tool calls, one tool call."""
    ref = resources.files("edge_agent.sim") / "data" / "realtime_default.toml"
    return parse_scenario(tomllib.loads(ref.read_text()))
