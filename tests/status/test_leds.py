"""StatusLeds on gpiozero mock pins: each state's pattern, state sequences, no GPIO, busy pins."""

from __future__ import annotations

import asyncio
import itertools
import logging
import statistics
import time
from collections.abc import Sequence

import pytest
from gpiozero import LED, Device
from gpiozero.pins.mock import MockFactory

from edge_agent.config import LedConfig, StatusConfig
from edge_agent.errors import GpioError
from edge_agent.states import (
    MuteToggle,
    ReplyDone,
    ReplyStarted,
    SpeechStopped,
    State,
    StateMachine,
    WakeDetected,
)
from edge_agent.status.leds import StatusLeds
from edge_agent.status.patterns import DIM_LEVEL, Frame

from .conftest import SCALE, SETTLE_S, eventually

RGB = {"red_pin": "GPIO17", "green_pin": "GPIO27", "blue_pin": "GPIO22"}


def status(**led: object) -> StatusConfig:
    return StatusConfig(led=LedConfig(**led))  # type: ignore[arg-type]


def history(factory: MockFactory, pin: str, seconds: float) -> list[tuple[float, float]]:
    """(time since the first recorded change, value) of `pin` over the next `seconds`."""
    time.sleep(SETTLE_S)
    factory.pin(pin).clear_states()
    time.sleep(seconds * SCALE)
    out, t = [], 0.0
    for s in factory.pin(pin).states:
        t += s.timestamp
        out.append((t, float(s.state)))
    return out


def values(factory: MockFactory, pin: str, seconds: float) -> list[float]:
    return [v for _, v in history(factory, pin, seconds)]


def test_pwm_led_shows_each_state(factory: MockFactory) -> None:
    leds = StatusLeds(status(type="pwm", pin="GPIO18", brightness=0.8), pin_factory=factory)
    pin = factory.pin("GPIO18")
    try:
        leds.show(State.IDLE)
        assert values(factory, "GPIO18", 0.3) == [0.0]
        leds.show(State.LISTENING)
        eventually(lambda: pin.state, pytest.approx(0.8))
        assert values(factory, "GPIO18", 0.3) == [pytest.approx(0.8)]  # steady: no writes
        leds.show(State.THINKING)
        blink = history(factory, "GPIO18", 1.6)
        assert {round(v, 6) for _, v in blink} == {0.0, 0.8}
        changes = [t for t, _ in blink[1:]]
        assert len(changes) >= 2  # half a second on, half a second off
        gaps = [b - a for a, b in itertools.pairwise(changes)]
        assert statistics.median(gaps) == pytest.approx(0.5, abs=0.1 * SCALE)
        leds.show(State.SPEAKING)
        levels = values(factory, "GPIO18", 1.0)
        assert len({round(v, 2) for v in levels}) > 8  # a fade through many levels
        assert max(levels) <= 0.8 + 1e-9
        leds.show(State.MUTED)
        eventually(lambda: pin.state, pytest.approx(DIM_LEVEL * 0.8))
        leds.show(State.ERROR)
        fast = values(factory, "GPIO18", 1.0)
        assert fast.count(0.0) >= 3  # five blinks a second
    finally:
        leds.close()
    assert pin.state == 0


def test_single_led_shows_each_state_with_on_off_only(factory: MockFactory) -> None:
    leds = StatusLeds(status(type="single", pin="GPIO17"), pin_factory=factory)
    pin = factory.pin("GPIO17")
    seen: dict[State, list[tuple[float, float]]] = {}
    for state in State:
        leds.show(state)
        seen[state] = history(factory, "GPIO17", 0.7 if state is not State.IDLE else 0.1)
    leds.close()
    assert all({v for _, v in h} <= {0.0, 1.0} for h in seen.values())
    assert [v for _, v in seen[State.IDLE]] == [0.0]
    assert [v for _, v in seen[State.LISTENING]] == [1.0]
    assert len(seen[State.ERROR]) > len(seen[State.THINKING]) >= 2  # fast blink is faster
    assert seen[State.SPEAKING][0][1] == 1.0  # pulse on an on/off LED starts with a long "on"
    speaking = [f[0] for f in leds.frames_for(State.SPEAKING)]
    assert speaking.count(1.0) == 3 * speaking.count(0.0)  # long on, short off (1.2 s / 0.4 s)
    assert pin.state == 0


def test_rgb_led_colours_and_brightness(factory: MockFactory) -> None:
    leds = StatusLeds(status(type="rgb", brightness=0.5, **RGB), pin_factory=factory)
    r, g, b = (factory.pin(RGB[k]) for k in ("red_pin", "green_pin", "blue_pin"))
    leds.show(State.LISTENING)  # "on blue"
    eventually(lambda: (r.state, g.state, b.state), (0, 0, pytest.approx(0.5)))
    leds.show(State.MUTED)  # "dim red"
    eventually(lambda: (r.state, g.state, b.state), (pytest.approx(DIM_LEVEL * 0.5), 0, 0))
    leds.show(State.SPEAKING)  # "pulse green"
    greens = values(factory, "GPIO27", 1.0)
    assert len({round(v, 2) for v in greens}) > 8 and max(greens) <= 0.5 + 1e-9
    assert r.state == 0 and b.state == 0
    leds.close()


def test_rgb_common_anode_inverts_the_pins(factory: MockFactory) -> None:
    leds = StatusLeds(
        status(type="rgb", active_high=False, listening="on #ff00ff", **RGB), pin_factory=factory
    )
    leds.show(State.LISTENING)
    pins = [factory.pin(RGB[k]) for k in ("red_pin", "green_pin", "blue_pin")]
    # common anode: low lights red and blue, green stays dark (high)
    eventually(lambda: tuple(p.state for p in pins), (0, 1, 0))
    leds.close()


def test_state_sequence_follows_the_state_machine(factory: MockFactory) -> None:
    leds = StatusLeds(
        status(type="rgb", thinking="on cyan", speaking="on green", **RGB), pin_factory=factory
    )
    machine = StateMachine()
    pins = [factory.pin(RGB[k]) for k in ("red_pin", "green_pin", "blue_pin")]
    expected = [
        (State.LISTENING, (0, 0, 1)),
        (State.THINKING, (0, 1, 1)),
        (State.SPEAKING, (0, 1, 0)),
        (State.LISTENING, (0, 0, 1)),  # the default follow-up window
        (State.MUTED, (pytest.approx(DIM_LEVEL), 0, 0)),
    ]
    leds.show(machine.state)
    eventually(lambda: tuple(p.state for p in pins), (0, 0, 0))
    events = (WakeDetected(), SpeechStopped(), ReplyStarted(), ReplyDone(), MuteToggle())
    for event, (state, colour) in zip(events, expected, strict=True):
        machine.handle(event)
        leds.show(machine.state)
        assert machine.state is state and leds.state is state
        eventually(lambda: tuple(p.state for p in pins), colour)
    leds.close()


def test_sequence_back_to_idle_without_follow_up(factory: MockFactory) -> None:
    from edge_agent.states import Policy

    leds = StatusLeds(status(type="pwm", pin="GPIO18", speaking="on"), pin_factory=factory)
    machine = StateMachine(Policy(follow_up_s=0))
    pin = factory.pin("GPIO18")
    expected = [(State.LISTENING, 1), (State.THINKING, 1), (State.SPEAKING, 1), (State.IDLE, 0)]
    events = (WakeDetected(), SpeechStopped(), ReplyStarted(), ReplyDone())
    for event, (state, level) in zip(events, expected, strict=True):
        machine.handle(event)
        leds.show(machine.state)
        assert machine.state is state and leds.state is state
        if state is not State.THINKING:  # thinking blinks
            eventually(lambda: pin.state, level)
    leds.close()


class RecordingRing:
    """An LedBackend as an LED ring would be: records what it is asked to play."""

    is_dimmable = True
    has_colour = True

    def __init__(self) -> None:
        self.played: list[tuple[Frame, ...]] = []
        self.closed = False

    def play(self, frames: Sequence[Frame], tick_s: float) -> None:
        self.played.append(tuple(frames))

    def close(self) -> None:
        self.closed = True


def test_another_backend_plugs_in() -> None:
    ring = RecordingRing()
    leds = StatusLeds(StatusConfig(), backend=ring)
    for state in State:
        leds.show(state)
    leds.show(State.ERROR)  # same state again: nothing new to play
    leds.close()
    assert len(ring.played) == len(State) and len(set(ring.played)) == len(State)
    assert ring.played[1] == ((0.0, 0.0, 1.0),) and ring.closed


def test_no_led_configured_is_a_quiet_no_op(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "edge_agent.status")
    leds = StatusLeds(StatusConfig())
    for state in State:
        leds.show(state)
    leds.close()
    assert not leds.is_enabled and leds.error is None
    assert "status led: none configured" in caplog.text


def test_no_gpio_on_this_machine_keeps_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """gpiozero finds no pin factory (as on a PC): a warning, then nothing is shown."""
    monkeypatch.setattr(Device, "pin_factory", None)  # gpiozero's global: make it pick again
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    leds = StatusLeds(status(type="single", pin="GPIO17"))
    leds.show(State.LISTENING)
    leds.close()
    assert not leds.is_enabled
    assert leds.error is not None and "no gpio on this machine" in str(leds.error)
    [record] = [r for r in caplog.records if r.name == "edge_agent.status.leds"]
    assert record.levelno == logging.WARNING and "status led off: no gpio" in record.getMessage()
    with pytest.raises(GpioError, match="no gpio on this machine"):
        StatusLeds(status(type="single", pin="GPIO17"), strict=True)


def test_busy_pin_is_an_error_naming_the_pin(
    factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    holder = LED("GPIO17", pin_factory=factory)
    with pytest.raises(GpioError) as info:
        StatusLeds(status(type="pwm", pin="GPIO17"), pin_factory=factory, strict=True)
    assert info.value.pin == "GPIO17" and info.value.key == "status.led.pin"
    assert str(info.value).startswith("gpio pin 'GPIO17' (status.led.pin) is busy")
    leds = StatusLeds(status(type="pwm", pin="GPIO17"), pin_factory=factory)
    assert not leds.is_enabled
    leds.show(State.LISTENING)
    assert factory.pin("GPIO17").state == 0  # the other device's pin was left alone
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "'GPIO17' (status.led.pin) is busy" in record.getMessage()
    assert record.DEVICE == "GPIO17"  # type: ignore[attr-defined]
    holder.close()


def test_busy_rgb_pin_names_its_key_and_frees_the_others(factory: MockFactory) -> None:
    holder = LED("GPIO27", pin_factory=factory)
    with pytest.raises(GpioError, match=r"'GPIO27' \(status.led.green_pin\) is busy"):
        StatusLeds(status(type="rgb", **RGB), pin_factory=factory, strict=True)
    LED("GPIO17", pin_factory=factory).close()  # red was opened, then released
    holder.close()


def test_unknown_pin_names_the_pin(factory: MockFactory) -> None:
    with pytest.raises(GpioError, match=r"gpio pin 'GPIO99' \(status.led.pin\) does not exist"):
        StatusLeds(status(type="single", pin="GPIO99"), pin_factory=factory, strict=True)


async def test_led_patterns_never_block_the_loop(factory: MockFactory) -> None:
    """Switch patterns every 20 ms for 1.5 s while a ticker measures the loop's lateness."""
    leds = StatusLeds(status(type="rgb", **RGB), pin_factory=factory)
    lateness: list[float] = []
    show_s: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            lateness.append(time.perf_counter() - start - 0.005)

    task = asyncio.create_task(ticker())
    states = [State.THINKING, State.SPEAKING, State.ERROR, State.LISTENING, State.MUTED]
    for i in range(75):
        start = time.perf_counter()
        leds.show(states[i % len(states)])
        show_s.append(time.perf_counter() - start)
        await asyncio.sleep(0.02)
    stop.set()
    await task
    leds.close()
    assert len(lateness) > 100
    assert max(show_s) < 0.01 * SCALE, f"show() took up to {max(show_s) * 1000:.1f} ms"
    assert max(lateness) < 0.05 * SCALE, f"the loop was late by up to {max(lateness) * 1000:.1f} ms"
    assert len(factory.pin("GPIO27").states) > 20  # the patterns really ran meanwhile


def test_budget_reached_replaces_idle_only() -> None:
    ring = RecordingRing()
    leds = StatusLeds(status(idle="off", budget="dim yellow"), backend=ring)
    leds.show(State.IDLE)
    leds.set_budget_reached(True)  # while idle: switches at once
    leds.set_budget_reached(True)  # no change: nothing new
    leds.show(State.LISTENING)  # other states keep their patterns
    leds.show(State.IDLE)
    leds.set_budget_reached(False)  # the day rolled over
    leds.close()
    off, dim_yellow, blue = ((0.0, 0.0, 0.0),), ((0.1, 0.1, 0.0),), ((0.0, 0.0, 1.0),)
    assert [p[:1] for p in ring.played] == [off, dim_yellow, blue, dim_yellow, off]
