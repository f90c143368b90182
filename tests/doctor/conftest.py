"""The doctor's rigs: ALSA fake devices, the Realtime emulator, device emulators, verified wake
models, gpiozero mock pins and a journald socket, plus a config writer that points at them."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge_agent.sim.alsa import AlsaFileRig
from edge_agent.sim.devices import emulator_class
from edge_agent.sim.http import EmulatedHttpService
from edge_agent.sim.journald import JournalSink
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.wake.models import fetch_models

GOOD_KEY = "sk-doctor-good-0123456789abcdef"
BAD_KEY = "sk-doctor-WRONG-9876543210fedcba"
SCALE = float(os.environ.get("EDGE_AGENT_TEST_TIME_SCALE", "1"))


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$EDGE_AGENT_MODELS_DIR (set by scripts/test.sh), else a fresh verified copy."""
    env = os.environ.get("EDGE_AGENT_MODELS_DIR")
    dest = Path(env) if env else tmp_path_factory.mktemp("models")
    fetch_models(dest)
    return dest


def noise(seconds: float, amplitude: int = 3000, seed: int = 1) -> np.ndarray:
    """Non-silent int16 mic input (about -23 dBFS at the default amplitude)."""
    rng = np.random.default_rng(seed)
    return rng.integers(-amplitude, amplitude, int(24000 * seconds), dtype=np.int16)


@pytest.fixture
def alsa() -> Iterator[AlsaFileRig]:
    """The ALSA file rig, active in this process, with a loud (non-silent) mic."""
    with AlsaFileRig() as rig, rig.activate():
        rig.write_input(noise(5.0))
        yield rig


@pytest.fixture
async def realtime() -> AsyncIterator[RealtimeEmulator]:
    async with RealtimeEmulator(api_keys=[GOOD_KEY]) as emu:
        yield emu


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[JournalSink]:
    sink = JournalSink(str(tmp_path / "journal" / "socket"))
    yield sink
    sink.close()


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()


@dataclass
class Device:
    name: str
    family: str
    port: int
    extra: str = ""


@pytest.fixture
def devices() -> Iterator[list[Device]]:
    """A Shelly Gen1 light, a Tasmota plug and a WLED strip, each on its own emulator."""
    specs = [
        ("kitchen light", "shelly_gen1", "light"),
        ("desk plug", "tasmota", "outlet"),
        ("shelf strip", "wled", "light"),
    ]
    started: list[EmulatedHttpService] = []
    out = []
    from edge_agent.config import DeviceConfig

    for name, family, kind in specs:
        dev = DeviceConfig(name=name, family=family, host="127.0.0.1", kind=kind)  # type: ignore[arg-type]
        emu = emulator_class(family).for_device(dev).start()  # type: ignore[attr-defined]
        started.append(emu)
        out.append(Device(name, family, emu.port, f'kind = "{kind}"'))
    yield out
    for emu in started:
        emu.stop()


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RigConfig:
    """What `write` puts into config.toml; every field points at a rig piece by default."""

    realtime_url: str
    devices: list[Device] = field(default_factory=list)
    input_device: str = "fakemic"
    output_device: str = "fakespk"
    models: str = '["hey_jarvis"]'
    led: str = 'type = "pwm"\npin = "GPIO17"'
    buttons: str = 'mute_pin = "GPIO22"\ntalk_pin = "GPIO27"'
    extra: str = ""

    def write(self, path: Path) -> Path:
        devs = "".join(
            f'\n[[devices]]\nname = "{d.name}"\nfamily = "{d.family}"\nhost = "127.0.0.1"\n'
            f"port = {d.port}\n{d.extra}\n"
            for d in self.devices
        )
        path.write_text(
            f'[audio]\ninput_device = "{self.input_device}"\n'
            f'output_device = "{self.output_device}"\n\n'
            f"[wake]\nmodels = {self.models}\n\n"
            f'[realtime]\nurl = "{self.realtime_url}"\n{self.extra}\n\n'
            f"[status.led]\n{self.led}\n\n[status.buttons]\n{self.buttons}\n{devs}"
        )
        return path
