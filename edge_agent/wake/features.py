"""openWakeWord's streaming front end, driven directly with onnxruntime.

This reproduces `openwakeword.utils.AudioFeatures` (0.5.1) step for step — the same mel
spectrogram window (the last 1280 + 480 samples), the same ``x / 10 + 2`` transform, the same
76-frame embedding window — so scores match the bare `Model.predict` fed 1280-sample frames.
Importing openwakeword itself would pull scipy and scikit-learn (~100 MB RSS, 0.8 s), which
we do not need. The mel spectrogram is computed in numpy (`edge_agent.wake.melspec`: equal to
melspectrogram.onnx but for onnxruntime's float32 rounding, <= 6e-5 on speech) rather than in
a second ONNX session, whose memory that saves (~1.5 MB, bench/melspec.py). This module owns
the embedding session and the rolling buffers; it knows nothing about thresholds or
detections.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from edge_agent.errors import WakeModelError
from edge_agent.wake.melspec import MelSpectrogram

__all__ = ["MEL_CONTEXT_SAMPLES", "STEP_SAMPLES", "FeatureStream", "VadStream", "open_session"]

STEP_SAMPLES: Final = 1280  # 80 ms at 16 kHz: openWakeWord's prediction step
MEL_CONTEXT_SAMPLES: Final = 480  # 3 mel hops of overlap, as AudioFeatures takes them
_MEL_WINDOW: Final = 76  # mel frames per embedding
_FEATURES_KEPT: Final = 120  # ~10 s of embeddings, as AudioFeatures keeps
_INIT_NOISE_S: Final = 4  # AudioFeatures primes its buffer with 4 s of low noise


def open_session(path: Path) -> ort.InferenceSession:
    """A single-threaded CPU session: the Pi has few cores and other work to do."""
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors (Fail, NoSuchFile...)
        raise WakeModelError(
            f"cannot load model {str(path)!r}: {exc.__class__.__name__}; "
            "run `edge-agent models fetch` or check the custom model file"
        ) from exc


class FeatureStream:
    """Turns 1280-sample steps of 16 kHz int16 audio into 96-dim speech embeddings."""

    def __init__(self, melspectrogram: Path | None, embedding: Path) -> None:
        """`melspectrogram` is not opened: `MelSpectrogram` computes what that model does (its
        file is still fetched and verified as the reference, see tests/wake/test_melspec.py)."""
        self._mel = MelSpectrogram()
        self._emb = open_session(embedding)
        self._initial = self._prime()
        self.reset()

    def _prime(self) -> np.ndarray:
        """The embeddings AudioFeatures starts from (fixed seed here, so runs repeat).

        One window per run, not openWakeWord's batch of ~40: onnxruntime's arena keeps the
        largest run's buffers for the life of the session, and the batch left ~25 MB there
        (the embedding of each window does not depend on the batch, so the result is equal).
        """
        noise = np.random.default_rng(0).integers(-1000, 1000, 16000 * _INIT_NOISE_S)
        spec = self._melspectrogram(noise.astype(np.int16))
        starts = range(0, len(spec) - _MEL_WINDOW + 1, 8)
        return np.concatenate([self._embed(spec[i : i + _MEL_WINDOW][None]) for i in starts])

    def reset(self) -> None:
        """Forget the audio heard so far (e.g. after a turn)."""
        self._raw_tail = np.zeros(0, np.int16)
        self._mel_buffer = np.ones((_MEL_WINDOW, 32), np.float32)
        self.embeddings = self._initial.copy()

    def _melspectrogram(self, pcm: np.ndarray) -> np.ndarray:
        spec: np.ndarray = self._mel(pcm) / 10 + 2
        return spec

    def _embed(self, windows: np.ndarray) -> np.ndarray:
        out = self._emb.run(None, {"input_1": windows[..., None].astype(np.float32)})[0]
        flat: np.ndarray = out.reshape(len(windows), -1)
        return flat

    def step(self, pcm: np.ndarray) -> np.ndarray:
        """Add one 1280-sample step; returns the newest embedding (96,)."""
        audio = np.concatenate((self._raw_tail, pcm))
        self._raw_tail = audio[-MEL_CONTEXT_SAMPLES:]
        mel = self._melspectrogram(audio)
        self._mel_buffer = np.concatenate((self._mel_buffer, mel))[-_MEL_WINDOW:]
        embedding = self._embed(self._mel_buffer[None])
        self.embeddings = np.concatenate((self.embeddings, embedding))[-_FEATURES_KEPT:]
        newest: np.ndarray = embedding[0]
        return newest

    def window(self, n_frames: int) -> np.ndarray:
        """The last n embeddings as a (1, n, 96) model input."""
        window: np.ndarray = self.embeddings[-n_frames:][None].astype(np.float32)
        return window


class VadStream:
    """Silero VAD over each 80 ms step (two 40 ms chunks, averaged), as openWakeWord runs it."""

    def __init__(self, path: Path, history: int = 125) -> None:
        self._session = open_session(path)
        self._sr = np.array(16000, np.int64)
        self._history = history
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((2, 1, 64), np.float32)
        self._c = np.zeros((2, 1, 64), np.float32)
        self.scores: list[float] = []

    def chunk_scores(self, pcm: np.ndarray) -> np.ndarray:
        """Score each whole 640-sample (40 ms) chunk of `pcm`, continuing the current state."""
        scores = np.zeros(len(pcm) // 640, np.float32)
        for i in range(len(scores)):
            chunk = (pcm[i * 640 : (i + 1) * 640] / 32767).astype(np.float32)[None, :]
            feed = {"input": chunk, "h": self._h, "c": self._c, "sr": self._sr}
            out, self._h, self._c = self._session.run(None, feed)
            scores[i] = float(out[0][0])
        return scores

    def step(self, pcm: np.ndarray) -> float:
        """Score one step: the probability that it holds speech."""
        score = float(np.mean(self.chunk_scores(pcm)))
        self.scores = [*self.scores[-self._history + 1 :], score]
        return score
