"""Energy VAD for the Realtime emulator, sans-I/O: RMS over 20 ms frames of 24 kHz int16 audio.

Mimics server_vad's observable behaviour: `speech_started` with `audio_start_ms` (moved back by
`prefix_padding_ms`), `speech_stopped` with `audio_end_ms` after `silence_duration_ms` of quiet,
both measured in the session's input stream. The session `threshold` (0..1) maps linearly onto
an RMS level: 0.5 → ~0.02 of full scale, well above a quiet room and below normal speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

__all__ = ["EnergyVad", "VadStart", "VadStop"]

FRAME_SAMPLES: Final = 480  # 20 ms at 24 kHz
FRAME_MS: Final = 20
RMS_FULL_SCALE_PER_THRESHOLD: Final = 0.04 * 32767


@dataclass(frozen=True, slots=True)
class VadStart:
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class VadStop:
    audio_end_ms: int


class EnergyVad:
    """Feed PCM with `feed()`; get VadStart/VadStop in stream order."""

    def __init__(
        self, threshold: float = 0.5, prefix_padding_ms: int = 300, silence_duration_ms: int = 500
    ) -> None:
        self.configure(threshold, prefix_padding_ms, silence_duration_ms)
        self.position_ms = 0  # end of the last whole frame in the input stream
        self.is_speaking = False
        self._pending = bytearray()
        self._silence_ms = 0

    def configure(self, threshold: float, prefix_padding_ms: int, silence_duration_ms: int) -> None:
        self.rms_threshold = max(threshold, 0.01) * RMS_FULL_SCALE_PER_THRESHOLD
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms

    def reset(self) -> None:
        """Forget a turn in progress (input_audio_buffer.clear), keep the stream position."""
        self.is_speaking = False
        self._silence_ms = 0

    def feed(self, pcm: bytes) -> list[VadStart | VadStop]:
        self._pending += pcm
        whole = len(self._pending) // (FRAME_SAMPLES * 2) * FRAME_SAMPLES * 2
        if not whole:
            return []
        frames = np.frombuffer(bytes(self._pending[:whole]), dtype="<i2").reshape(-1, FRAME_SAMPLES)
        del self._pending[:whole]
        rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
        out: list[VadStart | VadStop] = []
        for level in rms:
            self.position_ms += FRAME_MS
            loud = level >= self.rms_threshold
            if not self.is_speaking and loud:
                self.is_speaking, self._silence_ms = True, 0
                start = self.position_ms - FRAME_MS - self.prefix_padding_ms
                out.append(VadStart(max(0, start)))
            elif self.is_speaking:
                self._silence_ms = 0 if loud else self._silence_ms + FRAME_MS
                if self._silence_ms >= self.silence_duration_ms:
                    self.is_speaking = False
                    out.append(VadStop(self.position_ms - self._silence_ms))
        return out
