"""Synthetic speech for tests, benchmarks and `edge-agent simulate`: espeak-ng, resampled.

espeak-ng writes 22050 Hz WAV; `speak` resamples it with soxr to the rate asked for and caches
the int16 samples under a git-ignored folder ($EDGE_AGENT_CACHE_DIR/speech, else
./.cache/speech), keyed by text, voice, speed and rate. Generated audio is never committed.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Final

import numpy as np

__all__ = ["ESPEAK_RATE_HZ", "cache_dir", "concat", "resample", "silence", "speak"]

ESPEAK_RATE_HZ: Final = 22050


def cache_dir() -> Path:
    """Where generated speech is cached ($EDGE_AGENT_CACHE_DIR/speech or ./.cache/speech)."""
    base = os.environ.get("EDGE_AGENT_CACHE_DIR")
    return Path(base) / "speech" if base else Path(".cache") / "speech"


def resample(pcm: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample int16 mono audio with soxr (high quality)."""
    if from_hz == to_hz:
        return pcm.astype(np.int16, copy=False)
    import soxr  # type: ignore[import-untyped]

    out = soxr.resample(pcm.astype(np.float32) / 32768, from_hz, to_hz, quality="HQ")
    pcm16: np.ndarray = np.clip(np.round(out * 32768), -32768, 32767).astype(np.int16)
    return pcm16


def _espeak(text: str, voice: str, speed_wpm: int) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed; apt-get install espeak-ng")
    proc = subprocess.run(
        [exe, "-v", voice, "-s", str(speed_wpm), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    )
    with wave.open(io.BytesIO(proc.stdout)) as wav:
        if wav.getframerate() != ESPEAK_RATE_HZ or wav.getsampwidth() != 2:
            raise ValueError(f"unexpected espeak-ng output: {wav.getparams()!r}")
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16).copy()


def speak(
    text: str,
    voice: str = "en-us",
    speed_wpm: int = 150,
    rate_hz: int = 24000,
    *,
    cache: Path | None = None,
) -> np.ndarray:
    """Speak `text` with espeak-ng; int16 mono at `rate_hz`, cached on disk.

    Raises:
        FileNotFoundError: espeak-ng is not installed.
        subprocess.CalledProcessError: espeak-ng failed (e.g. unknown voice).
    """
    folder = cache or cache_dir()
    key = hashlib.sha256(f"{text}\0{voice}\0{speed_wpm}\0{rate_hz}".encode()).hexdigest()[:24]
    path = folder / f"{key}.npy"
    if path.is_file():
        cached: np.ndarray = np.load(path)
        return cached
    pcm = resample(_espeak(text, voice, speed_wpm), ESPEAK_RATE_HZ, rate_hz)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npy", delete=False) as fh:
        np.save(fh, pcm)
    os.replace(fh.name, path)
    return pcm


def silence(seconds: float, rate_hz: int = 24000) -> np.ndarray:
    """That many seconds of digital silence."""
    return np.zeros(round(seconds * rate_hz), np.int16)


def concat(*parts: np.ndarray | float, rate_hz: int = 24000) -> np.ndarray:
    """Join audio arrays; a number in `parts` is that many seconds of silence."""
    arrays = [
        silence(p, rate_hz) if isinstance(p, int | float) else p.astype(np.int16) for p in parts
    ]
    return np.concatenate(arrays) if arrays else np.zeros(0, np.int16)
