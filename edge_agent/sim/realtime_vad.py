"""Energy VAD for the Realtime emulator, sans-I/O: RMS over 20 ms frames of 24 kHz int16 audio.

It follows the session's ``audio.input.turn_detection`` the way the service's events show it:

- ``server_vad``: ``threshold`` is the service's speech *probability* (0..1, Silero-like). The
  emulator has no speech model, so it maps the probability onto a loudness: a 20 ms frame is
  speech when its RMS ≥ ``threshold × 0.04`` of full scale (0.5 → 0.02 FS ≈ −34 dBFS, 0.9 →
  ≈ −29 dBFS; floor 0.01 → ≈ −68 dBFS). Quiet rooms sit below −50 dBFS, close speech at −30 to
  −15 dBFS, so the default behaves like the service on clean audio and a higher threshold needs
  louder speech, as documented. ``prefix_padding_ms`` moves ``audio_start_ms`` back;
  ``silence_duration_ms`` of quiet ends the turn, and ``audio_end_ms`` *includes* that silence
  (the SDK: "the end of audio sent to the model, and thus includes the min_silence_duration_ms").
- ``semantic_vad``: no model can judge whether the sentence is finished, so the emulator takes the
  pessimistic case of a model that is never sure: the turn ends after the documented maximum
  wait for the ``eagerness`` (low 8 s, medium/auto 4 s, high 2 s) of silence, with the default
  threshold and 300 ms prefix. `RealtimeEmulator.semantic_wait_ms` can shorten it for a test.
- ``null``: no VAD at all (the session never calls `feed`): manual commit only.

Offsets are samples into all audio appended this session; `VadStop` carries the exact sample
range the service would commit: ``[speech start − prefix, speech end + silence)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

__all__ = [
    "FRAME_SAMPLES",
    "SAMPLES_PER_MS",
    "SEMANTIC_WAIT_MS",
    "EnergyVad",
    "VadSettings",
    "VadStart",
    "VadStop",
    "rms_threshold",
    "vad_settings",
]

SAMPLES_PER_MS: Final = 24
FRAME_SAMPLES: Final = 480  # 20 ms at 24 kHz
RMS_FULL_SCALE_PER_THRESHOLD: Final = 0.04 * 32767
MIN_THRESHOLD: Final = 0.01
#: semantic_vad: the documented maximum wait per eagerness (SDK: "max timeouts of 8s, 4s, 2s")
SEMANTIC_WAIT_MS: Final[Mapping[str, int]] = {
    "low": 8000,
    "medium": 4000,
    "high": 2000,
    "auto": 4000,
}


def rms_threshold(threshold: float) -> float:
    """The frame RMS (int16 units) that counts as speech for a server_vad `threshold`."""
    return max(float(threshold), MIN_THRESHOLD) * RMS_FULL_SCALE_PER_THRESHOLD


@dataclass(frozen=True, slots=True)
class VadSettings:
    """What the emulator's VAD does, derived from one `turn_detection` object."""

    kind: str  # "server_vad" | "semantic_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None


def vad_settings(
    td: object, semantic_wait_ms: Mapping[str, int] = SEMANTIC_WAIT_MS
) -> VadSettings | None:
    """`turn_detection` (already validated by the session) → settings; None = VAD off."""
    if not isinstance(td, dict):
        return None
    flags = {
        "create_response": bool(td.get("create_response", True)),
        "interrupt_response": bool(td.get("interrupt_response", True)),
    }
    if td.get("type") == "semantic_vad":
        eagerness = str(td.get("eagerness") or "auto")
        wait = semantic_wait_ms.get(eagerness, semantic_wait_ms["auto"])
        return VadSettings("semantic_vad", silence_duration_ms=wait, **flags)
    idle = td.get("idle_timeout_ms")
    return VadSettings(
        "server_vad",
        threshold=float(td.get("threshold", 0.5)),
        prefix_padding_ms=int(td.get("prefix_padding_ms", 300)),
        silence_duration_ms=int(td.get("silence_duration_ms", 500)),
        idle_timeout_ms=int(idle) if isinstance(idle, int) and idle > 0 else None,
        **flags,
    )


@dataclass(frozen=True, slots=True)
class VadStart:
    audio_start_ms: int
    start_sample: int  # speech start minus the prefix padding (not before `floor`)


@dataclass(frozen=True, slots=True)
class VadStop:
    audio_end_ms: int
    start_sample: int  # the committed range: [start_sample, end_sample)
    end_sample: int


class EnergyVad:
    """Feed PCM with `feed()`; get VadStart/VadStop in stream order."""

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings("server_vad")
        self.position = 0  # samples: end of the last whole frame
        self.is_speaking = False
        self.floor = 0  # no item may start before this sample (the buffer's start)
        self._pending = bytearray()
        self._silence = 0  # samples of quiet since the last loud frame
        self._start = 0

    @property
    def position_ms(self) -> int:
        return self.position // SAMPLES_PER_MS

    def configure(self, settings: VadSettings) -> None:
        """New settings from a session.update; a turn in progress carries on."""
        self.settings = settings

    def reset(self, floor: int) -> None:
        """Forget a turn in progress (clear or manual commit); nothing before `floor` is kept."""
        self.is_speaking = False
        self._silence = 0
        self.floor = floor

    def feed(self, pcm: bytes) -> list[VadStart | VadStop]:
        self._pending += pcm
        whole = len(self._pending) // (FRAME_SAMPLES * 2) * FRAME_SAMPLES * 2
        if not whole:
            return []
        frames = np.frombuffer(bytes(self._pending[:whole]), dtype="<i2").reshape(-1, FRAME_SAMPLES)
        del self._pending[:whole]
        rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
        level = rms_threshold(self.settings.threshold)
        prefix = self.settings.prefix_padding_ms * SAMPLES_PER_MS
        silence = self.settings.silence_duration_ms * SAMPLES_PER_MS
        out: list[VadStart | VadStop] = []
        for frame_rms in rms:
            frame_start = self.position
            self.position += FRAME_SAMPLES
            loud = frame_rms >= level
            if not self.is_speaking and loud:
                self.is_speaking, self._silence = True, 0
                self._start = max(self.floor, frame_start - prefix)
                out.append(VadStart(self._start // SAMPLES_PER_MS, self._start))
            elif self.is_speaking:
                self._silence = 0 if loud else self._silence + FRAME_SAMPLES
                if self._silence >= silence:
                    self.is_speaking = False
                    end = self.position
                    out.append(VadStop(end // SAMPLES_PER_MS, self._start, end))
                    self.floor = end
        return out
