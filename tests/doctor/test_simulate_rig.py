"""The doctor next to the running daemon in `edge-agent simulate`'s rig (`PipelineRig`): the
paced PulseAudio sound card, the Realtime emulator and the device fleet all pass, and the GPIO
pins the daemon holds are reported busy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge_agent.config import parse_config
from edge_agent.doctor import Status, exit_code
from edge_agent.probes import DoctorOptions, run_checks
from edge_agent.sim.journald import JournalSink
from edge_agent.sim.pipeline_rig import PipelineRig

from .conftest import noise

SOURCE = """
[status.led]
type = "rgb"
red_pin = "GPIO5"
green_pin = "GPIO6"
blue_pin = "GPIO13"

[status.buttons]
talk_pin = "GPIO27"

[[devices]]
name = "kitchen light"
family = "shelly_gen1"
host = "kitchen.lan"
kind = "light"

[[devices]]
name = "tv strip"
family = "wled"
host = "tv.lan"
kind = "light"
"""


async def test_all_ok_next_to_the_running_daemon(
    tmp_path: Path, models_dir: Path, journal: JournalSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE_AGENT_MODELS_DIR", str(models_dir))
    daemon_pins = MockFactory(pin_class=MockPWMPin)
    source = parse_config(SOURCE, source="simulate.toml", require_api_key=False)
    async with PipelineRig(source, pin_factory=daemon_pins) as rig:
        assert rig.config is not None
        rig.feed(noise(10.0))  # someone talks in the room (random noise never wakes it)
        opts = DoctorOptions(
            config=dataclasses.replace(rig.config, source="simulate"),
            env={},
            journal_socket=journal.path,
            models_dir=models_dir,
            pin_factory=MockFactory(pin_class=MockPWMPin),  # a machine where the pins are free
        )
        results = await run_checks(opts)
        busy = await run_checks(dataclasses.replace(opts, pin_factory=daemon_pins))
        assert rig.app_task.done() is False  # the doctor did not disturb the daemon
    got = {r.check: r for r in results}
    unconfigured = {r.check for r in results if r.status is Status.SKIP}
    assert unconfigured == {"homeassistant", "mcp", "mqtt"}, results  # the rig configures none
    assert [r.check for r in results if r.status not in (Status.OK, Status.SKIP)] == [
        "service user"
    ], results
    assert exit_code(results) == 0
    assert "vmic" in got["mic"].detail or rig.config.audio.input_device in got["mic"].detail
    assert "device 'kitchen light'" in got and "device 'tv strip'" in got
    gpio = {r.check: r for r in busy}["gpio"]
    assert gpio.status is Status.FAIL and "is busy" in gpio.detail
    assert "stop the daemon first" in gpio.hint
