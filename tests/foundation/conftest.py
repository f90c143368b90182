"""`edge-agent run` now opens the real pipeline: give the daemon processes a sound card and models.

The virtual sound card is the real-time PulseAudio rig (its `default` ALSA device is the rig's
mic and speaker); models come from $EDGE_AGENT_MODELS_DIR (scripts/test.sh) or a verified copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.sim.pulse_rig import PulseRig
from edge_agent.wake.models import fetch_models


@pytest.fixture(scope="module")
def daemon_sound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseRig]:
    """Environment for daemon subprocesses: a virtual sound card and the wake models."""
    models = os.environ.get("EDGE_AGENT_MODELS_DIR") or str(tmp_path_factory.mktemp("models"))
    fetch_models(Path(models))
    with PulseRig(tmp_path_factory.mktemp("sound")) as rig, pytest.MonkeyPatch.context() as mp:
        for key, value in rig.env.items():
            mp.setenv(key, value)
        mp.setenv("EDGE_AGENT_MODELS_DIR", models)
        yield rig


def with_state_dir(config: str, state_dir: Path) -> str:
    """`config` with daemon.state_dir set (memories must not land in /var/lib in tests) and,
    unless it names one, realtime.url on a closed local port (the start-up model lookup must
    not reach the internet)."""
    config = _local_realtime(config)
    line = f"state_dir = {str(state_dir)!r}\n"
    if "[daemon]\n" in config:
        return config.replace("[daemon]\n", "[daemon]\n" + line, 1)
    return "[daemon]\n" + line + config


OFFLINE_URL = "ws://127.0.0.1:9/v1/realtime"


def _local_realtime(config: str) -> str:
    if "\nurl = " in "\n" + config.split("[realtime]\n", 1)[-1].split("\n[", 1)[0]:
        return config
    line = f"url = {OFFLINE_URL!r}\n"
    if "[realtime]\n" in config:
        return config.replace("[realtime]\n", "[realtime]\n" + line, 1)
    return config + "\n[realtime]\n" + line
