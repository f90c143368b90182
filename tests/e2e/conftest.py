"""End-to-end rigs: the real daemon on the virtual sound card, emulators, mock GPIO pins.

Everything real but the hardware and the cloud: PyAudio on ALSA devices (the real-time
PulseAudio rig behind the ALSA ``pulse`` plugin), the openWakeWord detector, the Realtime client
over a WebSocket to the emulator, the tools over HTTP to device emulators, gpiozero mock pins.
Timings are short (VAD silence, follow-up window) to keep the suite fast.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge_agent.config import (
    AudioConfig,
    ButtonsConfig,
    Config,
    ConversationConfig,
    DeviceConfig,
    EarconsConfig,
    LedConfig,
    RealtimeConfig,
    StatusConfig,
    WakeConfig,
)
from edge_agent.wake.models import fetch_models

LED_PINS = ("GPIO17", "GPIO27", "GPIO22")
# steady colours, one per state, so the pin history tells the states apart
COLOURS = {
    (0.0, 0.0, 0.0): "idle",
    (0.0, 0.0, 1.0): "listening",
    (1.0, 1.0, 0.0): "thinking",
    (0.0, 1.0, 0.0): "speaking",
    (1.0, 0.0, 0.0): "error",
}


MODELS_DIR = Path(
    os.environ.get("EDGE_AGENT_MODELS_DIR")
    or Path(tempfile.gettempdir()) / f"edge-agent-e2e-models-{os.getuid()}"
)


@pytest.fixture(scope="session", autouse=True)
def models_dir() -> Path:
    """$EDGE_AGENT_MODELS_DIR (scripts/test.sh), else a verified copy; given to the daemon by
    `wake.models_dir` (the environment of other tests is left alone)."""
    fetch_models(MODELS_DIR)
    return MODELS_DIR


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()


def e2e_config(*, follow_up_s: float = 0.6, devices: tuple[DeviceConfig, ...] = ()) -> Config:
    """A config with short timings and an RGB status LED whose colours name the states."""
    led = LedConfig(
        type="rgb",
        red_pin=LED_PINS[0],
        green_pin=LED_PINS[1],
        blue_pin=LED_PINS[2],
        idle="off",
        listening="on blue",
        thinking="on yellow",
        speaking="on green",
        error="on red",
    )
    return Config(
        wake=WakeConfig(models_dir=str(MODELS_DIR)),
        audio=AudioConfig(reopen_interval_s=0.3, playback_start_ms=200),
        earcons=EarconsConfig(volume=0.3),
        realtime=RealtimeConfig(silence_duration_ms=400, connect_timeout_s=5.0),
        conversation=ConversationConfig(
            follow_up_s=follow_up_s, no_speech_timeout_s=2.0, max_turn_s=20.0
        ),
        status=StatusConfig(led=led, buttons=ButtonsConfig(talk_pin="GPIO5", mute_pin="GPIO6")),
        devices=devices,
    )


def led_states(
    factory: MockFactory, colours: dict[tuple[float, float, float], str] | None = None
) -> list[str]:
    """The state names the RGB LED showed, in order (pin changes within 5 ms are one change);
    `colours` names more colours than `COLOURS` (e.g. a test's budget or ringing pattern)."""
    colours = colours or COLOURS
    changes: list[tuple[float, int, float]] = []
    for channel, name in enumerate(LED_PINS):
        pin = factory.pin(int(name.removeprefix("GPIO")))
        at = 0.0
        for change in pin.states:  # each timestamp is the time since the pin's previous change
            at += change.timestamp
            changes.append((at, channel, float(change.state)))
    changes.sort()
    colour = [0.0, 0.0, 0.0]
    shown: list[tuple[float, tuple[float, ...]]] = []
    for at, channel, value in changes:
        colour[channel] = round(value, 2)
        if shown and at - shown[-1][0] < 0.005:
            shown[-1] = (shown[-1][0], tuple(colour))
        else:
            shown.append((at, tuple(colour)))
    names = [colours.get(c, str(c)) for _, c in shown]
    return [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
