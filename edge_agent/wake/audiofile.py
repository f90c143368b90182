"""Read a WAV file as 16 kHz mono int16, whatever its rate, width or channel count."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

__all__ = ["read_wav_16k"]

_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}


def read_wav_16k(path: Path) -> np.ndarray:
    """The file's audio mixed to mono and resampled (soxr) to 16 kHz int16.

    Raises:
        ValueError: not a PCM WAV file, or an unsupported sample width.
        OSError: the file cannot be read.
    """
    from edge_agent.sim.speech import resample

    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{str(path)!r} is not a PCM WAV file: {exc}") from exc
    if width not in _DTYPES:
        raise ValueError(f"{str(path)!r}: unsupported sample width {width * 8} bits")
    data = np.frombuffer(raw, _DTYPES[width]).astype(np.float64)
    if width == 1:
        data = (data - 128) * 256
    elif width == 4:
        data = data / 65536
    mono = data.reshape(-1, channels).mean(axis=1)
    pcm = np.clip(np.round(mono), -32768, 32767).astype(np.int16)
    return resample(pcm, rate, 16000)
