"""Shared fixtures for the wake-word tests: verified models and espeak-ng speech (never committed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edge_agent.config import WakeConfig
from edge_agent.sim.speech import speak
from edge_agent.wake.detector import WakeDetector
from edge_agent.wake.models import ModelPaths, fetch_models

RATE_HZ = 16000


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$EDGE_AGENT_MODELS_DIR (set by scripts/test.sh), else a fresh verified copy."""
    env = os.environ.get("EDGE_AGENT_MODELS_DIR")
    dest = Path(env) if env else tmp_path_factory.mktemp("models")
    fetch_models(dest)
    return dest


@pytest.fixture(scope="session")
def model_paths(models_dir: Path) -> ModelPaths:
    return ModelPaths(
        melspectrogram=models_dir / "melspectrogram.onnx",
        embedding=models_dir / "embedding_model.onnx",
        wake={"hey_jarvis": models_dir / "hey_jarvis_v0.1.onnx"},
        vad=models_dir / "silero_vad.onnx",
    )


@pytest.fixture
def detector(model_paths: ModelPaths) -> WakeDetector:
    return WakeDetector(WakeConfig(), model_paths)


def say(text: str, voice: str = "en-us", speed_wpm: int = 150) -> np.ndarray:
    """16 kHz espeak-ng speech (cached under the git-ignored cache dir)."""
    return speak(text, voice, speed_wpm, RATE_HZ)


def speech_end(pcm: np.ndarray, level: int = 300) -> int:
    """Index just after the last sample louder than `level` (espeak pads with silence)."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > level)
    return int(loud[-1]) + 1 if len(loud) else 0


@pytest.fixture(scope="session")
def micro_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Verified copies of pymicro-wakeword's built-in models (a package dependency: no network)."""
    from edge_agent.wake.micro_models import fetch_micro_models

    dest = tmp_path_factory.mktemp("micro-models")
    fetch_micro_models(dest)
    return dest
