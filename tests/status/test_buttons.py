"""Buttons on gpiozero mock pins: presses become events on the asyncio loop's thread."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from gpiozero import LED, Device
from gpiozero.pins.mock import MockFactory

from edge_agent.config import ButtonsConfig
from edge_agent.errors import GpioError
from edge_agent.states import Cancel, Event, MuteToggle, TalkPressed
from edge_agent.status.buttons import Buttons

from .conftest import SCALE, TIMEOUT_S

MUTE, TALK = "GPIO5", "GPIO6"


class Inbox:
    """Collects events with the thread each arrived on."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Event, int]] = asyncio.Queue()

    def __call__(self, event: Event) -> None:
        self.queue.put_nowait((event, threading.get_ident()))

    async def next(self) -> Event:
        event, thread = await asyncio.wait_for(self.queue.get(), TIMEOUT_S)
        assert thread == threading.get_ident(), "on_event ran off the loop thread"
        return event

    async def nothing_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds * SCALE)
        assert self.queue.empty(), f"unexpected {self.queue.get_nowait()}"


def buttons(factory: MockFactory, inbox: Inbox, **cfg: object) -> Buttons:
    conf = ButtonsConfig(**{"mute_pin": MUTE, "talk_pin": TALK, "hold_s": 0.3, **cfg})  # type: ignore[arg-type]
    return Buttons(conf, inbox, loop=asyncio.get_running_loop(), pin_factory=factory, strict=True)


async def test_mute_press_toggles(factory: MockFactory) -> None:
    inbox = Inbox()
    btns = buttons(factory, inbox)
    pin = factory.pin(MUTE)
    for _ in range(2):
        pin.drive_low()
        assert await inbox.next() == MuteToggle()
        pin.drive_high()
        await inbox.nothing_for(0.1)  # release does nothing; holding mute does nothing
    btns.close()


async def test_talk_tap_is_talk_pressed_on_release(factory: MockFactory) -> None:
    inbox = Inbox()
    btns = buttons(factory, inbox)
    pin = factory.pin(TALK)
    pin.drive_low()
    await inbox.nothing_for(0.1)
    pin.drive_high()
    assert await inbox.next() == TalkPressed()
    await inbox.nothing_for(0.4)
    btns.close()


async def test_talk_long_press_cancels_while_held(factory: MockFactory) -> None:
    inbox = Inbox()
    btns = buttons(factory, inbox)
    pin = factory.pin(TALK)
    loop = asyncio.get_running_loop()
    start = loop.time()
    pin.drive_low()
    assert await inbox.next() == Cancel()
    assert loop.time() - start >= 0.3 - 0.01  # hold_s
    await inbox.nothing_for(0.2)  # still held: one cancel only
    pin.drive_high()
    await inbox.nothing_for(0.2)  # no TalkPressed after a long press
    btns.close()


async def test_bouncing_contacts_give_one_event(factory: MockFactory) -> None:
    inbox = Inbox()
    btns = buttons(factory, inbox, bounce_ms=50)
    pin = factory.pin(MUTE)
    for _ in range(3):  # contact bounce, ~5 ms apart, then the button stays down
        pin.drive_low()
        await asyncio.sleep(0.005)
        pin.drive_high()
        await asyncio.sleep(0.005)
    pin.drive_low()
    assert await inbox.next() == MuteToggle()
    await asyncio.sleep(0.1)
    for _ in range(3):  # and bounce on release
        pin.drive_high()
        await asyncio.sleep(0.005)
        pin.drive_low()
        await asyncio.sleep(0.005)
    pin.drive_high()
    await inbox.nothing_for(0.2)
    btns.close()


async def test_a_glitch_shorter_than_bounce_is_ignored(factory: MockFactory) -> None:
    inbox = Inbox()
    btns = buttons(factory, inbox, bounce_ms=50)
    pin = factory.pin(MUTE)
    pin.drive_low()
    await asyncio.sleep(0.01)
    pin.drive_high()
    await inbox.nothing_for(0.2)
    btns.close()


async def test_edges_from_another_thread_reach_the_loop_thread(factory: MockFactory) -> None:
    """On a Pi gpiozero calls back on its own thread; the event must still arrive on the loop."""
    inbox = Inbox()
    btns = buttons(factory, inbox, bounce_ms=0)  # no debounce timer: the edge itself decides

    def press_and_release() -> None:
        for pin in (MUTE, TALK):
            factory.pin(pin).drive_low()
            threading.Event().wait(0.05)
            factory.pin(pin).drive_high()

    worker = threading.Thread(target=press_and_release)
    worker.start()
    assert await inbox.next() == MuteToggle()  # Inbox.next checks the thread
    assert await inbox.next() == TalkPressed()
    worker.join()
    btns.close()


async def test_pull_down_and_external_resistor_levels(factory: MockFactory) -> None:
    inbox = Inbox()
    btns = buttons(factory, inbox, pull="down")
    factory.pin(MUTE).drive_high()
    assert await inbox.next() == MuteToggle()
    btns.close()
    btns = buttons(factory, inbox, pull="none", active="high")
    factory.pin(TALK).drive_low()  # an external pull-down holds it low
    await inbox.nothing_for(0.1)
    factory.pin(TALK).drive_high()
    factory.pin(TALK).drive_low()
    await inbox.nothing_for(0.01)  # a 0 ms press is shorter than the debounce
    factory.pin(TALK).drive_high()
    await asyncio.sleep(0.1)
    factory.pin(TALK).drive_low()
    assert await inbox.next() == TalkPressed()
    btns.close()


async def test_only_the_configured_buttons(factory: MockFactory) -> None:
    inbox = Inbox()
    btns = buttons(factory, inbox, mute_pin="")
    factory.pin(MUTE).drive_low()  # not ours
    await inbox.nothing_for(0.1)
    LED(MUTE, pin_factory=factory).close()  # and its pin stayed free
    btns.close()


async def test_no_buttons_configured_is_a_no_op(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "edge_agent.status")
    btns = Buttons(ButtonsConfig(), Inbox(), loop=asyncio.get_running_loop())
    assert not btns.is_enabled
    btns.close()
    assert "buttons: none configured" in caplog.text


async def test_no_gpio_keeps_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(Device, "pin_factory", None)  # gpiozero's global: make it pick again
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    btns = Buttons(ButtonsConfig(mute_pin=MUTE), Inbox(), loop=asyncio.get_running_loop())
    assert not btns.is_enabled and btns.error is not None
    assert "buttons off: no gpio on this machine" in caplog.text


async def test_busy_pin_is_an_error_naming_the_pin(
    factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    holder = LED(TALK, pin_factory=factory)
    with pytest.raises(GpioError, match=r"gpio pin 'GPIO6' \(status.buttons.talk_pin\) is busy"):
        buttons(factory, Inbox())
    LED(MUTE, pin_factory=factory).close()  # the mute button opened first was released
    inbox = Inbox()
    conf = ButtonsConfig(mute_pin=MUTE, talk_pin=TALK)
    btns = Buttons(conf, inbox, loop=asyncio.get_running_loop(), pin_factory=factory)
    assert not btns.is_enabled and btns.error is not None and btns.error.pin == TALK
    assert any(
        r.levelno == logging.ERROR and "'GPIO6' (status.buttons.talk_pin) is busy" in r.getMessage()
        for r in caplog.records
    )
    holder.close()
