"""Streaming through the ALSA file-backed fake mic and real PyAudio into the detector.

The capture runs in a child process so that its private ALSA config ($XDG_CONFIG_HOME) is the
only one PortAudio ever loads there (ALSA caches its config per process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from edge_agent.sim.speech import concat
from tests.wake.conftest import RATE_HZ, say, speech_end

REPO = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path
    import numpy as np
    import pyaudio
    from edge_agent.config import WakeConfig
    from edge_agent.wake.detector import WakeDetector
    from edge_agent.wake.models import ModelPaths

    models, n_samples = Path(sys.argv[1]), int(sys.argv[2])
    paths = ModelPaths(models / "melspectrogram.onnx", models / "embedding_model.onnx",
                       {"hey_jarvis": models / "hey_jarvis_v0.1.onnx"}, models / "silero_vad.onnx")
    detector = WakeDetector(WakeConfig(), paths)
    pa = pyaudio.PyAudio()
    stream = pa.open(format=pyaudio.paInt16, channels=1, rate=16000, input=True,
                     frames_per_buffer=320)
    got, digest, detections = 0, hashlib.sha256(), []
    while got < n_samples:
        data = stream.read(min(320, n_samples - got), exception_on_overflow=False)
        digest.update(data)
        got += len(data) // 2
        for d in detector.process(np.frombuffer(data, np.int16)):
            detections.append({"model": d.model, "score": d.score, "sample_16k": d.sample_16k})
    stream.stop_stream(); stream.close(); pa.terminate()
    print(json.dumps({"samples": got, "sha256": digest.hexdigest(), "detections": detections}))
    """
)


def write_asoundrc(folder: Path, infile: Path) -> None:
    """The fake-mic ALSA config of /work/shared/test-rig.md."""
    (folder / "alsa").mkdir(parents=True, exist_ok=True)
    (folder / "alsa" / "asoundrc").write_text(
        f'pcm.fakemic {{ type file; slave.pcm "null"; file "/dev/null"; infile "{infile}"; '
        'format "raw" }\n'
        f'pcm.fakespk {{ type file; slave.pcm "null"; file "{folder}/out.raw"; format "raw" }}\n'
        'pcm.duplex { type asym; playback.pcm "fakespk"; capture.pcm "fakemic" }\n'
        'pcm.!default { type plug; slave.pcm "duplex" }\n'
    )


def test_fake_mic_pyaudio_detector(tmp_path: Path, models_dir: Path) -> None:
    import hashlib

    word = say("hey jarvis")
    lead_s = 2.0
    audio = concat(lead_s, word, 1.0, say("what time is it"), 2.0, rate_hz=RATE_HZ)
    infile = tmp_path / "in.raw"
    # Past EOF the fake mic returns stale data: pad well beyond what the child reads.
    infile.write_bytes(concat(audio, 5.0, rate_hz=RATE_HZ).astype("<i2").tobytes())
    write_asoundrc(tmp_path, infile)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(models_dir), str(len(audio))],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["samples"] == len(audio)
    assert result["sha256"] == hashlib.sha256(audio.astype("<i2").tobytes()).hexdigest()
    (detection,) = result["detections"]
    assert detection["model"] == "hey_jarvis"
    end_16k = round(lead_s * RATE_HZ) + speech_end(word)
    assert abs(detection["sample_16k"] - end_16k) <= 0.5 * RATE_HZ
    assert np.isfinite(detection["score"])
