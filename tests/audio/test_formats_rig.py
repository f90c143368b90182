"""A mic that offers only 48 kHz stereo, on the paced PulseAudio rig, still gives 24 kHz mono.

No rig here can make PortAudio *refuse* 24 kHz mono (the ALSA `pulse` plugin accepts every
rate and channel count; `multi`/`share` over it fail with "no configurations available";
there is no kernel sound module for `hw:` restrictions), so the device's format table is the
one a 48 kHz-only stereo USB mic answers, injected as the checker, while the stream really
runs at 48 kHz stereo on a rig whose sinks are 48 kHz stereo (PulseAudio converts nothing).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr  # type: ignore[import-untyped]

from edge_agent.audio.capture import Capture
from edge_agent.audio.convert import downmix
from edge_agent.audio.devices import AudioDevice
from edge_agent.audio.resample import Resampler
from edge_agent.config import AudioConfig, WakeConfig
from edge_agent.sim.pulse_rig import PulseRig
from edge_agent.sim.speech import concat, speak
from edge_agent.wake.detector import WakeDetector
from edge_agent.wake.models import ModelPaths, fetch_models

USB_MIC_48K_STEREO = {(48000, 2)}


def only(
    table: set[tuple[int, int]],
) -> Callable[[Any, AudioDevice, str], Callable[[int, int], bool]]:
    return lambda pa, device, kind: lambda rate, ch: (rate, ch) in table


@pytest.fixture
def rig48() -> Iterator[PulseRig]:
    with PulseRig(rate_hz=48000, channels=2) as rig, rig.activate():
        yield rig


def _snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref = ref.astype(np.float64)
    err = got.astype(np.float64) - ref
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-9)))


def _best_match(ref: np.ndarray, got: np.ndarray) -> tuple[int, float]:
    """Offset of `ref` in `got` by cross-correlation, and the SNR there."""
    tpl = ref[9600:19200].astype(np.float64)  # inside the speech (it starts after 0.3 s)
    corr = np.correlate(got.astype(np.float64), tpl, "valid")
    off = int(np.argmax(corr)) - 9600
    if off < 0:
        return off, float("-inf")
    n = min(len(ref), len(got) - off) - 1200  # the last 50 ms may still sit in the filter
    return off, _snr_db(ref[:n], got[off : off + n])


async def test_48k_stereo_only_mic_delivers_24k_mono_and_the_wake_word_fires(
    rig48: PulseRig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    speech24 = concat(0.3, speak("hey jarvis, what's the weather in Toronto"), 0.3)
    left = soxr.resample(speech24, 24000, 48000)
    right = (left.astype(np.int32) // 2).astype(np.int16)
    stereo = np.column_stack([left, right]).ravel()
    cap = Capture(AudioConfig(input_device="vmic"), checker=only(USB_MIC_48K_STEREO))
    await cap.start()
    try:
        assert cap.format is not None and (cap.format.rate_hz, cap.format.channels) == (48000, 2)
        reader = cap.reader()
        feeder = rig48.feed(np.concatenate([stereo, np.zeros(48000, np.int16)]), latency_ms=200)
        parts = []
        async with asyncio.timeout(30):
            async for chunk in reader:
                parts.append(chunk)
                if sum(map(len, parts)) >= len(speech24) + 24000:
                    break
        await asyncio.to_thread(feeder.wait, 10)
    finally:
        await cap.aclose()
    got = np.concatenate(parts)
    mono48 = downmix(stereo, 2, None)
    # the stream's 2:1 decimation phase depends on where the feed landed: try both
    results = [_best_match(soxr.resample(mono48[k:], 48000, 24000), got) for k in (0, 1)]
    _, snr = max(results, key=lambda r: r[1])
    assert snr >= 40, results  # one dropped or repeated block anywhere would fall far below
    assert cap.overflows == 0
    models = Path(os.environ.get("EDGE_AGENT_MODELS_DIR") or tmp_path_factory.mktemp("models"))
    fetch_models(models)
    det = WakeDetector(
        WakeConfig(),
        ModelPaths(
            models / "melspectrogram.onnx",
            models / "embedding_model.onnx",
            {"hey_jarvis": models / "hey_jarvis_v0.1.onnx"},
            models / "silero_vad.onnx",
        ),
    )
    hits = det.process(Resampler(24000, 16000).process(got))
    assert [d.model for d in hits] == ["hey_jarvis"]
