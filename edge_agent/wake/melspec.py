"""openWakeWord's melspectrogram.onnx in numpy, so the wake path runs one ONNX session fewer.

The ONNX graph (opset 13, exported from torchlibrosa's `Spectrogram` + `LogmelFilterBank`) is:
two Conv1d (kernel 512, stride 160, no padding) whose weights are the real and imaginary DFT
rows of a periodic 400-point Hann window centred in 512 samples (torchlibrosa's
``omega ** (n * k)`` matrix), power ``re**2 + im**2``, a MatMul by librosa's Slaney mel
filterbank (32 bands, 60-3800 Hz, Slaney area norm, float32), ``10 * log10(max(x, 1e-10))``
(``log(x) * 10 / 2.3025851``) and a floor at the call's global maximum minus 80 dB. The
constants below come from those formulas and equal the graph's initializers bit for bit
(tests/wake/test_melspec.py checks the outputs against the ONNX session).

Why: each onnxruntime session costs resident memory (session, arena, a 1 MB weight copy) and
the daemon's idle budget is tight (bench/melspec.py measures the difference). What is kept:

- only the DFT bins the filterbank uses (2..121; the others have zero weight);
- half the taps: the window is symmetric about tap 256 (taps 0..56 and 456..511 are zero), so
  ``re = (x[n] + x[512 - n]) @ cos`` and ``im = (x[n] - x[512 - n]) @ sin`` over taps 57..256
  (the centre tap's cosine row halved, exactly). The graph's mirrored taps equal these to
  1.3e-13;
- float64 products: float32 ones lose the quiet bands of a frame whose energy is above 3.8 kHz
  (cancellation: 7e-3 off after FeatureStream's / 10, where onnxruntime's Conv is 6e-4 off);
  in float64 the result is exact to ~1e-6 and the two (200, 120) bases are 375 KiB;
- at most 8 frames per matmul: a product of m * n * k >= 2 * 2**18 makes OpenBLAS wake its
  worker threads, which then spin (a step cost twice the CPU, with ~0.5 MB more RSS); below it
  OpenBLAS stays on the calling thread.

numpy.fft is not used: importing it costs ~0.9 MB RSS.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = ["HOP", "N_FFT", "N_MELS", "MelSpectrogram", "mel_filterbank"]

SAMPLE_RATE_HZ: Final = 16000
N_FFT: Final = 512
HOP: Final = 160
N_MELS: Final = 32
_WIN: Final = 400  # Hann length, zero-padded to N_FFT (centred) as torch/librosa pad it
_FIRST: Final = (N_FFT - _WIN) // 2 + 1  # tap 57: the first non-zero one (tap 56 is the Hann's 0)
_CENTRE: Final = N_FFT // 2
_FMIN_HZ: Final = 60.0
_FMAX_HZ: Final = 3800.0
_AMIN: Final = np.float32(1e-10)
_LN10: Final = np.float32(2.3025851)  # the graph divides by this float32 constant
_TOP_DB: Final = np.float32(80.0)
_BLOCK_FRAMES: Final = 8  # frames per matmul: 8 x 200 x 120 stays on OpenBLAS's calling thread


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa, htk=False): linear below 1 kHz, logarithmic above."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    log_step = np.log(6.4) / 27.0
    linear = hz / f_sp
    log = min_log_hz / f_sp + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / log_step
    mel: np.ndarray = np.where(hz >= min_log_hz, log, linear)
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, log_step = min_log_hz / f_sp, np.log(6.4) / 27.0
    log = min_log_hz * np.exp(log_step * (mel - min_log_mel))
    hz: np.ndarray = np.where(mel >= min_log_mel, log, f_sp * mel)
    return hz


def mel_filterbank() -> np.ndarray:
    """(257, 32) float32: `librosa.filters.mel(sr=16000, n_fft=512, n_mels=32, fmin=60,
    fmax=3800).T`, step for step (float32 rows, then the float64 norm applied in place)."""
    fft_hz = np.linspace(0, SAMPLE_RATE_HZ / 2, N_FFT // 2 + 1)
    edges = np.array([_FMIN_HZ, _FMAX_HZ])
    mel_hz = _mel_to_hz(np.linspace(*_hz_to_mel(edges), N_MELS + 2))
    width = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    weights = np.zeros((N_MELS, len(fft_hz)), np.float32)
    for i in range(N_MELS):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / width[i], ramps[i + 2] / width[i + 1]))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.T


def _stft_basis(bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Conv weights at taps 57..256 (float32 values, held as float64), (200, len(bins))
    each: cosine (the centre row halved: it meets itself in the fold) and sine.

    Built a bin at a time: the whole complex matrix at once is ~3 MB of temporaries, which
    glibc then keeps in the heap."""
    n = np.arange(_FIRST, _CENTRE + 1)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * (n - _FIRST + 1) / _WIN)  # periodic (fftbins=True)
    omega = np.exp(-2j * np.pi / N_FFT)
    cos, sin = np.empty((len(n), len(bins))), np.empty((len(n), len(bins)))
    for j, k in enumerate(bins):
        row = np.power(omega, n * k) * hann
        cos[:, j], sin[:, j] = row.real.astype(np.float32), row.imag.astype(np.float32)
    cos[-1] /= 2
    return cos, sin


class MelSpectrogram:
    """int16-scaled float samples in, (frames, 32) log-mel dB out, as the ONNX model's output
    squeezed (a frame per 160 samples, floor((n - 512) / 160) + 1 frames)."""

    def __init__(self) -> None:
        mel = mel_filterbank()
        used = np.flatnonzero(mel.any(axis=1))  # other bins have zero weight: skipped exactly
        self._mel: np.ndarray = mel[used].astype(np.float64)
        self._cos, self._sin = _stft_basis(used)

    def __call__(self, pcm: np.ndarray) -> np.ndarray:
        samples = np.asarray(pcm, np.float32)  # as the graph sees them
        if len(samples) < N_FFT:
            raise ValueError(f"need at least {N_FFT} samples, got {len(samples)}")
        frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP]
        mel = np.empty((len(frames), N_MELS), np.float32)
        for i in range(0, len(frames), _BLOCK_FRAMES):
            block = frames[i : i + _BLOCK_FRAMES].astype(np.float64)
            near = block[:, _FIRST : _CENTRE + 1]  # taps 57..256
            far = block[:, N_FFT - _FIRST : _CENTRE - 1 : -1]  # taps 455..256: 512 - n
            power = np.square((near + far) @ self._cos) + np.square((near - far) @ self._sin)
            mel[i : i + _BLOCK_FRAMES] = power @ self._mel
        db = np.log(np.maximum(mel, _AMIN)) * np.float32(10) / _LN10  # float32, as the graph
        out: np.ndarray = np.maximum(db, db.max() - _TOP_DB)  # the floor: the call's max - 80 dB
        return out
