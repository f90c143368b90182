"""Voice activity for the wake word's gate and end estimate: Silero VAD or microVAD.

Both give a speech probability per 40 ms chunk (`VAD_CHUNK`), scored from a fresh state over the
audio the detector kept. Silero VAD (an ONNX model run with onnxruntime, as openWakeWord runs it)
is what the openWakeWord engine already pays for; microVAD (`pymicro-vad`, a 160 kB native
library with microWakeWord's architecture, 10 ms steps) keeps onnxruntime — ~20 MB of library
plus ~17 MB for the Silero session — out of a daemon that runs microWakeWord.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edge_agent.errors import WakeModelError
from edge_agent.system.memory import give_back_free_memory
from edge_agent.wake.endpoint import VAD_CHUNK

if TYPE_CHECKING:
    from edge_agent.wake.features import VadStream

__all__ = ["MicroVad", "SileroVad", "Vad"]

_TEN_MS = 160


class Vad(Protocol):
    """Speech probabilities per 40 ms chunk."""

    def reset(self) -> None:
        """Forget the audio scored so far."""

    def release(self) -> bool:
        """Give back what scoring holds until the next scores (True: something was freed)."""

    def chunk_scores(self, pcm: np.ndarray) -> np.ndarray:
        """The probability of each whole 640-sample chunk of `pcm`, continuing the state."""


class SileroVad:
    """Silero VAD (openWakeWord's copy), one run per 640-sample chunk.

    Its onnxruntime session is opened at the first scores, not here: the detector runs the VAD
    only on a step that would otherwise fire, from a fresh state each time, so the scores are
    the same, and a daemon that has heard no such step yet keeps ~4 MB less (docs/pipeline.md,
    "Idle memory"). The first candidate pays the opening once (~17 ms on x86-64). The file's
    checksum is verified at start (`wake.models.resolve_models`), so a bad file fails there.
    """

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise WakeModelError(
                f"VAD model {str(path)!r} is missing; run `edge-agent models fetch`"
            )
        self._path = path
        self._stream: VadStream | None = None

    @property
    def is_open(self) -> bool:
        """Whether the session is open (a step was scored since the last `release`)."""
        return self._stream is not None

    def reset(self) -> None:
        if self._stream is not None:
            self._stream.reset()

    def release(self) -> bool:
        """Close the session and hand its ~5 MB back to the system; the next scores open it
        again (the same scores: each run starts from a fresh state). The detector calls this
        after a quiet spell (`VAD_RELEASE_S`), so an idle daemon does not keep the session its
        last wake word opened (docs/pipeline.md, "Idle memory")."""
        if self._stream is None:
            return False
        self._stream = None
        give_back_free_memory()
        return True

    def chunk_scores(self, pcm: np.ndarray) -> np.ndarray:
        if self._stream is None:
            from edge_agent.wake.features import VadStream

            self._stream = VadStream(self._path)  # starts from a fresh state, as after reset()
        return self._stream.chunk_scores(pcm)


class MicroVad:
    """microVAD: a probability per 10 ms; a chunk's score is the mean of its four (the first
    ~30 ms, while it fills its window, count as 0)."""

    def __init__(self) -> None:
        try:
            from pymicro_vad import MicroVad as _MicroVad  # type: ignore[import-untyped]
        except ImportError as exc:  # a runtime dependency: only a broken install lacks it
            raise WakeModelError(
                "wake.vad_model 'micro' needs the pymicro-vad package; reinstall edge-agent"
            ) from exc
        self._vad = _MicroVad()

    def reset(self) -> None:
        self._vad.reset()

    def release(self) -> bool:
        return False  # 160 kB of native state: nothing worth giving back

    def chunk_scores(self, pcm: np.ndarray) -> np.ndarray:
        pcm16 = np.asarray(pcm, np.int16).reshape(-1)
        n = len(pcm16) // _TEN_MS
        probs = np.array(
            [
                self._vad.process_10ms(pcm16[i * _TEN_MS : (i + 1) * _TEN_MS].tobytes())
                for i in range(n)
            ],
            np.float32,
        )
        per_chunk = VAD_CHUNK // _TEN_MS
        whole = len(pcm16) // VAD_CHUNK
        probs = np.clip(probs[: whole * per_chunk], 0.0, 1.0)
        scores: np.ndarray = probs.reshape(whole, per_chunk).mean(axis=1)
        return scores
