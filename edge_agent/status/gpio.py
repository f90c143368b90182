"""Opening gpiozero devices: gpiozero's and the pin drivers' errors become `GpioError`.

The one place that knows which third-party exceptions mean "this pin is busy", "this pin does
not exist" or "this machine has no GPIO", so `leds.py` and `buttons.py` report them the same way:
a message naming the pin and its config key, and the fix.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import TypeVar

from gpiozero.exc import (  # type: ignore[import-untyped]
    BadPinFactory,
    GPIOPinInUse,
    PinFactoryFallback,
    PinInvalidPin,
    PinPWMUnsupported,
)

from edge_agent.errors import GpioError

__all__ = ["open_device"]

T = TypeVar("T")

log = logging.getLogger(__name__)


def open_device(make: Callable[[], T], *, pin: str, key: str) -> T:
    """Call `make()` (a gpiozero constructor) and translate its errors.

    Raises:
        GpioError: naming `pin` and `key`, or saying there is no GPIO on this machine.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PinFactoryFallback)
            device = make()
        _log_fallbacks(caught)
        return device
    except BadPinFactory as exc:
        raise GpioError(
            "no gpio on this machine (not a raspberry pi, or no pin library such as lgpio "
            f"installed): {exc}; on a pi, install lgpio, or set GPIOZERO_PIN_FACTORY",
            key=key,
        ) from exc
    except GPIOPinInUse as exc:
        raise _busy(pin, key, exc) from exc
    except PinInvalidPin as exc:
        raise GpioError(
            f"gpio pin {pin!r} ({key}) does not exist: {exc}; "
            "use a name gpiozero accepts, e.g. 'GPIO17', 'BOARD11' or '17'",
            pin=pin,
            key=key,
        ) from exc
    except PinPWMUnsupported as exc:
        raise GpioError(
            f"gpio pin {pin!r} ({key}) cannot do pwm with this pin factory; "
            "use status.led.type = 'single', or the lgpio pin factory",
            pin=pin,
            key=key,
        ) from exc
    except Exception as exc:  # pin drivers raise their own types (lgpio.error: 'GPIO busy')
        if "busy" in str(exc).lower():
            raise _busy(pin, key, exc) from exc
        raise GpioError(
            f"gpio pin {pin!r} ({key}) cannot be opened: {type(exc).__name__}: {exc}; "
            "check that the user is in the 'gpio' group and the pin name is right",
            pin=pin,
            key=key,
        ) from exc


def _log_fallbacks(caught: list[warnings.WarningMessage]) -> None:
    """gpiozero warns for each pin library it could not load before the one it uses."""
    for warning in caught:
        if issubclass(warning.category, PinFactoryFallback):
            log.debug("gpio: %s", warning.message)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _busy(pin: str, key: str, exc: Exception) -> GpioError:
    return GpioError(
        f"gpio pin {pin!r} ({key}) is busy: {exc}; another device or process uses it "
        "(check other services and `pinctrl get`), or choose another pin",
        pin=pin,
        key=key,
    )
