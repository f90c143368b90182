"""Audio I/O: ALSA device selection, capture with pre-roll, resampling, playback, earcons.

Submodules are imported directly (``from edge_agent.audio.capture import Capture``) so that
importing the package does not load PyAudio.
"""

__all__: list[str] = []
