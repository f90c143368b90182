"""A small verifier on openWakeWord's speech embeddings: logistic regression in numpy.

openWakeWord's own custom verifier uses scikit-learn (not a runtime dependency here). This one is
a standardised linear model over the last `n_frames` embeddings (flattened), trained with plain
gradient descent and L2, stored as a tiny .npz. It runs only on steps whose wake score already
passed the threshold, so its cost is negligible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_agent.errors import WakeModelError

__all__ = ["Verifier", "train_verifier"]


@dataclass(frozen=True)
class Verifier:
    """P(wake word | the last n_frames embeddings)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    n_frames: int = 16
    model: str = "hey_jarvis"  # the wake model whose detections it verifies

    def probability(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities for a batch of (n, n_frames, 96) windows (or one (n_frames, 96))."""
        flat = np.asarray(windows, np.float32).reshape(-1, self.mean.shape[0])
        z = ((flat - self.mean) / self.scale) @ self.weights + self.bias
        prob: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return prob

    def save(self, path: Path) -> None:
        np.savez(
            path, mean=self.mean, scale=self.scale, weights=self.weights,
            bias=np.float64(self.bias), n_frames=np.int64(self.n_frames), model=np.str_(self.model),
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> Verifier:
        """Raises WakeModelError when the file is missing or not a verifier."""
        try:
            with np.load(path) as data:
                return cls(
                    data["mean"], data["scale"], data["weights"], float(data["bias"]),
                    int(data["n_frames"]), str(data["model"]),
                )  # fmt: skip
        except (OSError, KeyError, ValueError) as exc:
            raise WakeModelError(
                f"cannot load wake verifier {str(path)!r}: {exc}; check wake.verifier_model"
            ) from exc


def train_verifier(
    positives: np.ndarray,
    negatives: np.ndarray,
    *,
    l2: float = 100.0,
    iterations: int = 300,
    learning_rate: float = 0.5,
    model: str = "hey_jarvis",
) -> Verifier:
    """Fit a class-balanced, L2-regularised logistic regression on embedding windows.

    Args:
        positives: (n, n_frames, 96) windows ending where the wake word was heard.
        negatives: (m, n_frames, 96) windows of anything else (near misses weigh most).
    """
    if len(positives) == 0 or len(negatives) == 0:
        raise ValueError("a verifier needs both positive and negative windows")
    n_frames = positives.shape[1]
    x = np.concatenate((positives, negatives)).reshape(len(positives) + len(negatives), -1)
    y = np.concatenate((np.ones(len(positives)), np.zeros(len(negatives))))
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    sample_w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w + b, -50, 50)))
        g = (p - y) * sample_w
        w -= learning_rate * (z.T @ g + l2 * w) / len(y)
        b -= learning_rate * float(g.mean())
    return Verifier(
        mean.astype(np.float32), scale.astype(np.float32), w.astype(np.float32), b, n_frames, model
    )
