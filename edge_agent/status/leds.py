"""The status LED: shows the daemon's state with the pattern configured for it.

`StatusLeds.show(state)` returns at once: it queues the state's frames for the LED's thread,
which makes a steady pattern one pin write and hands a moving one (blink, pulse) to gpiozero as
a ``source`` of frames, played on gpiozero's own background thread. Nothing touches a pin,
starts or joins a thread on the event loop.

Hardware sits behind `LedBackend` (play a loop of frames, close). `GpioLed` drives a single,
PWM or RGB LED through gpiozero. gpiozero has no APA102/ReSpeaker LED ring class, so a ring is
not built in; it fits as another `LedBackend` (e.g. on ``spidev``) passed as ``backend=``.

When there is no LED configured, no GPIO on the machine, or a pin is busy, `StatusLeds` logs one
clear line and shows nothing; the daemon keeps running. With ``strict=True`` (`edge-agent leds
test`) the `GpioError` is raised instead.
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from edge_agent.config import LedConfig, StatusConfig
from edge_agent.errors import ConfigError, GpioError
from edge_agent.states import State
from edge_agent.status.patterns import (
    TICK_S,
    Frame,
    Pattern,
    PatternError,
    frames,
    led_patterns,
    parse_pattern,
)

if TYPE_CHECKING:
    from gpiozero import Factory  # type: ignore[import-untyped]

__all__ = ["GpioLed", "LedBackend", "NullLed", "StatusLeds"]

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S: Final = 2.0
_Request = tuple[list[Any], float]
"""Pin values of one period and the tick between them."""


class LedBackend(Protocol):
    """Something that lights up: one LED, an RGB LED, or (as an extension) an LED ring."""

    is_dimmable: bool
    """Takes levels between 0 and 1; else only off and on."""
    has_colour: bool
    """Shows colours; else every frame is shown by its brightest channel."""

    def play(self, frames: Sequence[Frame], tick_s: float) -> None:
        """Show `frames` in a loop, `tick_s` apart, in the background; one frame = steady.

        Must return at once: it is called on the event loop.
        """

    def close(self) -> None:
        """Turn the light off and release its pins."""


class NullLed:
    """No LED: shows nothing (no LED configured, no GPIO, or a pin is busy)."""

    is_dimmable = True
    has_colour = True

    def play(self, frames: Sequence[Frame], tick_s: float) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to release."""


class GpioLed:
    """A single, PWM or RGB LED on GPIO pins, driven by gpiozero."""

    def __init__(self, led: LedConfig, *, pin_factory: Factory | None = None) -> None:
        """Open the pins.

        Raises:
            GpioError: a pin is busy or invalid, or there is no GPIO; names the pin and key.
        """
        from gpiozero import LED, PWMLED, CompositeOutputDevice

        from edge_agent.status.gpio import open_device

        self.is_dimmable = led.type in ("pwm", "rgb")
        self.has_colour = led.type == "rgb"
        self._device: Any
        if led.type == "rgb":
            parts: list[Any] = []
            try:
                for key in ("red_pin", "green_pin", "blue_pin"):
                    pin = getattr(led, key).strip()
                    make = functools.partial(
                        PWMLED, pin, active_high=led.active_high, pin_factory=pin_factory
                    )
                    parts.append(open_device(make, pin=pin, key=f"status.led.{key}"))
            except GpioError:
                for part in parts:
                    part.close()
                raise
            self._device = CompositeOutputDevice(*parts, pin_factory=pin_factory)
        else:
            cls = PWMLED if led.type == "pwm" else LED
            pin = led.pin.strip()
            self._device = open_device(
                lambda: cls(pin, active_high=led.active_high, pin_factory=pin_factory),
                pin=pin,
                key="status.led.pin",
            )
        self._device.source_delay = TICK_S
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._run, name="status-led", daemon=True)
        self._worker.start()

    def play(self, frames: Sequence[Frame], tick_s: float) -> None:
        """Runs on the loop: queue the frames for the LED thread and return."""
        if self._worker.is_alive():
            self._requests.put(([self._value(f) for f in frames], tick_s))

    def close(self) -> None:
        """Stop the pattern, turn off and release the pins (waits for the LED thread)."""
        if self._worker.is_alive():
            self._requests.put(None)
            self._worker.join(timeout=CLOSE_TIMEOUT_S)

    def _run(self) -> None:
        """Runs on the LED thread: apply the newest request; gpiozero's thread plays patterns.

        Starting and stopping gpiozero's source thread takes milliseconds (GIL hand-overs), so
        it happens here rather than on the event loop.
        """
        try:
            while (request := self._newest(self._requests.get())) is not None:
                values, tick_s = request
                self._device.source = None  # stops the previous pattern within a tick
                if len(set(values)) == 1:
                    self._device.value = values[0]
                else:
                    self._device.source_delay = tick_s
                    self._device.source = itertools.cycle(values)
        except Exception:  # a pin driver failed mid-run: say so once, keep the daemon alive
            log.exception("status led stopped", extra={"ERROR_CODE": "gpio"})
        finally:
            self._device.source = None
            self._device.close()

    def _newest(self, request: _Request | None) -> _Request | None:
        """Skip requests that a newer one already replaced; None (close) wins."""
        while request is not None:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return request
        return None

    def _value(self, frame: Frame) -> Any:
        if self.has_colour:
            return frame
        level = max(frame)
        return level if self.is_dimmable else int(level > 0)


class StatusLeds:
    """Shows each daemon state on the status LED with the pattern `[status.led]` gives it."""

    def __init__(
        self,
        cfg: StatusConfig,
        *,
        pin_factory: Factory | None = None,
        backend: LedBackend | None = None,
        strict: bool = False,
    ) -> None:
        """Open the LED named by `cfg.led` (or use `backend`).

        Args:
            pin_factory: gpiozero pin factory (tests pass a MockFactory); None = gpiozero's choice.
            backend: another LED (e.g. a ring); `cfg.led.type` and pins are then ignored.
            strict: raise `GpioError` instead of logging it and showing nothing.

        Raises:
            ConfigError: a pattern is invalid (config checking catches this first).
            GpioError: only with `strict`: a pin is busy or invalid, or there is no GPIO.
        """
        self.error: GpioError | None = None
        self.state: State | None = None
        led = cfg.led
        try:
            self.patterns: dict[State, Pattern] = {
                State(k): p for k, p in led_patterns(led).items()
            }
        except PatternError as exc:
            raise ConfigError(str(exc)) from None
        self._backend: LedBackend = backend or self._open(led, pin_factory, strict)
        self._frames = {
            state: frames(
                pattern,
                dimmable=self._backend.is_dimmable,
                colour=self._backend.has_colour,
                brightness=led.brightness,
            )
            for state, pattern in self.patterns.items()
        }
        try:
            self.budget_pattern = parse_pattern(led.budget)
        except PatternError as exc:
            raise ConfigError(f"status.led.budget = {led.budget!r}: {exc}") from None
        self._budget_frames = frames(
            self.budget_pattern,
            dimmable=self._backend.is_dimmable,
            colour=self._backend.has_colour,
            brightness=led.brightness,
        )
        self.budget_reached = False
        try:
            ringing = parse_pattern(led.ringing)
        except PatternError as exc:
            raise ConfigError(f"status.led.ringing = {led.ringing!r}: {exc}") from None
        self._ringing_frames = frames(
            ringing,
            dimmable=self._backend.is_dimmable,
            colour=self._backend.has_colour,
            brightness=led.brightness,
        )
        self.is_ringing = False

    @property
    def is_enabled(self) -> bool:
        """An LED is there to show states."""
        return not isinstance(self._backend, NullLed)

    def frames_for(self, state: State) -> tuple[Frame, ...]:
        """The frames `state` shows on this LED (one period)."""
        return self._frames[state]

    def show(self, state: State) -> None:
        """Show `state`'s pattern; returns at once (gpiozero's thread runs blinks and pulses)."""
        if state is self.state:
            return
        self.state = state
        if self.is_ringing:
            return  # the ringing pattern stays until the ringing stops
        budget = state is State.IDLE and self.budget_reached
        self._backend.play(self._budget_frames if budget else self._frames[state], TICK_S)
        log.debug(
            "status led: %s = %s",
            state.value,
            self.budget_pattern if budget else self.patterns[state],
            extra={"STATE": state.value},
        )

    def set_budget_reached(self, reached: bool) -> None:
        """While a ``[budget]`` limit bites (verdict 'use_model' or 'refuse'), idle shows
        ``status.led.budget`` instead of ``status.led.idle``; other states are unchanged."""
        if reached == self.budget_reached:
            return
        self.budget_reached = reached
        if self.state is State.IDLE:
            self.state = None
            self.show(State.IDLE)

    def set_ringing(self, on: bool) -> None:
        """While a timer or alarm rings, show ``status.led.ringing`` whatever the state."""
        if on == self.is_ringing:
            return
        self.is_ringing = on
        if on:
            self._backend.play(self._ringing_frames, TICK_S)
        elif self.state is not None:
            state, self.state = self.state, None
            self.show(state)

    def close(self) -> None:
        """Turn the LED off and release its pins."""
        self._backend.close()
        self.state = None

    def _open(self, led: LedConfig, pin_factory: Factory | None, strict: bool) -> LedBackend:
        if led.type == "none":
            log.info("status led: none configured (status.led.type = 'none')")
            return NullLed()
        try:
            backend = GpioLed(led, pin_factory=pin_factory)
        except GpioError as exc:
            if strict:
                raise
            self.error = exc
            level = logging.ERROR if exc.pin else logging.WARNING  # busy pin vs no gpio here
            log.log(
                level, "status led off: %s", exc, extra={"ERROR_CODE": "gpio", "DEVICE": exc.pin}
            )
            return NullLed()
        log.info("status led: %s on %s", led.type, _pins_text(led))
        return backend


def _pins_text(led: LedConfig) -> str:
    if led.type == "rgb":
        return f"red={led.red_pin} green={led.green_pin} blue={led.blue_pin}"
    return led.pin
