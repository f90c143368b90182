"""The microWakeWord engine: pymicro-wakeword's streaming TFLite models (10 ms features, one
inference per `stride` features), scored per 80 ms step so the shared decision rule applies.

A step's score for a model is the highest sliding-window mean of its probabilities computed
during the step — the value pymicro-wakeword compares with the model's `probability_cutoff` —
so "score >= cutoff in a step" fires at most 80 ms after upstream would. The cutoff and window
come from each model's JSON manifest (upstream's per-model defaults) unless configured.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from edge_agent.errors import WakeModelError
from edge_agent.wake.micro_models import MicroManifest, load_manifest, tflite_library

__all__ = ["MicroScorer"]

_TEN_MS = 160


def _check_loads(library: Path, model: Path) -> None:
    """pymicro-wakeword does not check that TFLite parsed the file (a NULL model would crash
    the process in the interpreter); ask the library first."""
    lib = ctypes.CDLL(str(library))
    lib.TfLiteModelCreateFromFile.argtypes = [ctypes.c_char_p]
    lib.TfLiteModelCreateFromFile.restype = ctypes.c_void_p
    lib.TfLiteModelDelete.argtypes = [ctypes.c_void_p]
    handle = lib.TfLiteModelCreateFromFile(str(model).encode())
    if not handle:
        raise WakeModelError(
            f"cannot load model {str(model)!r}: not a TFLite model; "
            "run `edge-agent models fetch` or check the custom model file"
        )
    lib.TfLiteModelDelete(handle)


class MicroScorer:
    """Scores 1280-sample steps for each configured microWakeWord model."""

    def __init__(
        self, manifests: Mapping[str, Path], *, cutoff: float = 0.0, window: int = 0
    ) -> None:
        """Load the models their manifests name.

        Args:
            manifests: detection name -> JSON manifest (its .tflite beside it).
            cutoff: overrides every manifest's probability_cutoff (0: keep them).
            window: overrides every manifest's sliding_window_size (0: keep them).
        """
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures

        library = tflite_library()
        self.manifests: dict[str, MicroManifest] = {}
        self._models = {}
        for name, path in manifests.items():
            manifest = load_manifest(path)
            _check_loads(library, manifest.model)
            self.manifests[name] = manifest
            self._models[name] = MicroWakeWord(
                name,
                wake_word=manifest.wake_word,
                tflite_model=manifest.model,
                probability_cutoff=cutoff or manifest.probability_cutoff,
                sliding_window_size=window or manifest.sliding_window_size,
                trained_languages=list(manifest.languages),
                libtensorflowlite_c_path=library,
            )
        self.thresholds = {n: m.probability_cutoff for n, m in self._models.items()}
        self._features = MicroWakeWordFeatures()

    @property
    def names(self) -> list[str]:
        return list(self._models)

    def reset(self) -> None:
        self._features.reset()
        for model in self._models.values():
            model.reset()

    def step(self, pcm: np.ndarray) -> dict[str, float]:
        best = dict.fromkeys(self._models, 0.0)
        for features in self._features.process_streaming(np.asarray(pcm, np.int16).tobytes()):
            for name, model in self._models.items():
                prob = model.process_streaming_prob(features)
                if prob is not None and prob > best[name]:
                    best[name] = float(prob)
        return best
