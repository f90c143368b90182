"""ALSA file-backed fake mic and speaker (test-rig.md), for tests and `edge-agent simulate`.

`AlsaFileRig` writes a private asoundrc into a temp dir:

- ``fakemic`` reads ``in.raw`` (S16_LE, mono, any rate you open it at) byte for byte;
- ``fakespk`` writes what is played to ``out.raw``, padded with silence to a period boundary;
- ``default`` is a plug over both.

Neither side is paced: capture produces samples as fast as they are read (tens of millions per
second), playback swallows them as fast. Use `edge_agent.sim.pulse_rig` for anything timed.
After ``in.raw`` ends, capture keeps returning stale data, so `write_input` pads with silence.

ALSA reads its configuration once per process into a global cache (``snd_config``); what we
found (alsa-lib 1.2.8, PortAudio 19.6, PyAudio 0.2.14):

- ``pyaudio.PyAudio()`` initialises PortAudio, which enumerates devices through that cache.
- PortAudio is reference-counted: while *any* PyAudio instance is alive in the process, a new
  ``PyAudio()`` does not re-enumerate and keeps the old device list, even after
  ``XDG_CONFIG_HOME`` changed.
- Once every instance is ``terminate()``-d, the next ``PyAudio()`` re-reads the configuration
  from the current ``XDG_CONFIG_HOME`` (checked with two rigs with different PCM names in one
  process). Calling alsa-lib's ``snd_config_update_free_global()`` also drops the cache; we call
  it in `activate()` as well, which is harmless when nothing is open.

So: call `activate()` (or set ``XDG_CONFIG_HOME`` from `env`) before creating PyAudio, and
terminate every PyAudio instance between rigs. Subprocesses simply get `env`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_agent.audio.devices import free_alsa_config

__all__ = ["AlsaFileRig", "free_alsa_config"]

MIC = "fakemic"
SPEAKER = "fakespk"


class AlsaFileRig:
    """A private ALSA config with a file-backed mic (`in.raw`) and speaker (`out.raw`)."""

    mic_name = MIC
    speaker_name = SPEAKER

    def __init__(self, root: str | Path | None = None) -> None:
        self._own_dir = root is None
        self.dir = Path(tempfile.mkdtemp(prefix="ea-alsa-") if root is None else root)
        (self.dir / "alsa").mkdir(parents=True, exist_ok=True)
        self.in_path = self.dir / "in.raw"
        self.out_path = self.dir / "out.raw"
        self.in_path.write_bytes(b"")
        (self.dir / "alsa" / "asoundrc").write_text(
            f'pcm.{MIC} {{ type file; slave.pcm "null"; file "/dev/null"; '
            f'infile "{self.in_path}"; format "raw" }}\n'
            f'pcm.{SPEAKER} {{ type file; slave.pcm "null"; file "{self.out_path}"; format "raw" }}\n'
            f'pcm.duplex {{ type asym; playback.pcm "{SPEAKER}"; capture.pcm "{MIC}" }}\n'
            'pcm.!default { type plug; slave.pcm "duplex" }\n'
        )

    @property
    def env(self) -> dict[str, str]:
        """Environment a process needs to see these devices."""
        return {"XDG_CONFIG_HOME": str(self.dir)}

    def write_input(self, samples: np.ndarray | bytes, *, pad_samples: int = 24000 * 10) -> None:
        """Make `samples` (int16) the mic's content, followed by `pad_samples` of silence."""
        data = np.frombuffer(samples, dtype=np.int16) if isinstance(samples, bytes) else samples
        pad = np.zeros(pad_samples, dtype=np.int16)
        self.in_path.write_bytes(np.concatenate((data.astype(np.int16), pad)).tobytes())

    def read_output(self) -> np.ndarray:
        """Everything the speaker received so far, as int16 (empty if nothing was played)."""
        if not self.out_path.exists():
            return np.zeros(0, dtype=np.int16)
        raw = self.out_path.read_bytes()
        return np.frombuffer(raw[: len(raw) // 2 * 2], dtype=np.int16).copy()

    def clear_output(self) -> None:
        self.out_path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def activate(self) -> Iterator[AlsaFileRig]:
        """Point this process's ALSA at the rig (before any PyAudio()); restores on exit."""
        old = os.environ.get("XDG_CONFIG_HOME")
        os.environ.update(self.env)
        free_alsa_config()
        try:
            yield self
        finally:
            if old is None:
                os.environ.pop("XDG_CONFIG_HOME", None)
            else:
                os.environ["XDG_CONFIG_HOME"] = old
            free_alsa_config()

    def close(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> AlsaFileRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
