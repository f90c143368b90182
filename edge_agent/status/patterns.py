"""LED patterns: parse the ``[status.led]`` pattern strings and turn them into frames. Pure.

A pattern string is a shape optionally followed by a colour::

    off | dim | on | blink | fast_blink | pulse   [colour]

    "pulse blue", "on red", "blink #ff8800", "dim"

The colour is any CSS colour name or ``#rrggbb`` (parsed by colorzero, gpiozero's colour
library); it only matters on an RGB LED and is ignored on single and PWM LEDs. Without a colour an
RGB LED shows white.

`frames()` turns a pattern into one period of frames sampled every `TICK_S`: RGB triples from
0.0 to 1.0, with the brightness limit applied. A one-frame period is a steady light. What a
single (on/off) LED cannot show is mapped to something it can, so the six states stay apart:
``dim`` becomes a short flash every two seconds and ``pulse`` a long-on, short-off beat.

This module does no I/O and imports no gpiozero; `leds.py` plays the frames.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from edge_agent.config import LedConfig, StatusConfig

__all__ = [
    "DIM_LEVEL",
    "NOTICE_KEYS",
    "STATE_KEYS",
    "TICK_S",
    "Frame",
    "Pattern",
    "PatternError",
    "Shape",
    "check_status",
    "frames",
    "parse_pattern",
]

Shape = Literal["off", "dim", "on", "blink", "fast_blink", "pulse"]
SHAPES: Final[tuple[str, ...]] = typing.get_args(Shape)
Frame = tuple[float, float, float]
"""One LED colour, (red, green, blue), each 0.0 to 1.0; a mono LED uses the brightest channel."""

TICK_S: Final = 0.05
"""Frame interval: 20 frames a second (gpiozero's own pulse uses 25): smooth enough, few wakeups."""
DIM_LEVEL: Final = 0.1
"""Level of ``dim`` on a dimmable LED, before the brightness limit."""
BLINK_S: Final = (0.5, 0.5)
FAST_BLINK_S: Final = (0.1, 0.1)
PULSE_FADE_S: Final = (1.0, 1.0)
SINGLE_DIM_S: Final = (0.1, 1.9)
"""``dim`` on an on/off LED: a short flash every two seconds."""
SINGLE_PULSE_S: Final = (1.2, 0.4)
"""``pulse`` on an on/off LED: long on, short off (unlike the even ``blink``)."""
WHITE: Final[Frame] = (1.0, 1.0, 1.0)
PURE_COLOURS: Final[dict[str, Frame]] = {"green": (0.0, 1.0, 0.0)}
"""Names whose CSS value is not what an LED user means (CSS 'green' is a dark #008000)."""
STATE_KEYS: Final = ("idle", "listening", "thinking", "speaking", "muted", "error")
"""The `LedConfig` fields holding a pattern, named after `State` values."""
NOTICE_KEYS: Final = ("budget",)
"""`LedConfig` patterns for conditions that are not states (shown instead of idle)."""


class PatternError(ValueError):
    """A pattern string is not ``SHAPE [COLOUR]``; config turns it into a `ConfigError`."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed pattern: a shape and an optional colour."""

    shape: Shape
    colour: Frame | None = None
    colour_name: str = ""
    """The colour as written (for messages and `edge-agent leds test`)."""

    def __str__(self) -> str:
        return f"{self.shape} {self.colour_name}" if self.colour_name else self.shape


def parse_pattern(text: str) -> Pattern:
    """Parse ``"SHAPE [COLOUR]"``.

    Raises:
        PatternError: unknown shape or colour, or extra words.
    """
    words = text.split(maxsplit=1)
    if not words:
        raise PatternError(f"empty pattern; expected one of {', '.join(SHAPES)}")
    shape = words[0].lower()
    if shape not in SHAPES:
        raise PatternError(
            f"unknown pattern {words[0]!r}; expected one of {', '.join(SHAPES)}, "
            "optionally followed by a colour (e.g. 'pulse blue')"
        )
    if len(words) == 1:
        return Pattern(typing.cast(Shape, shape))
    name = words[1].strip().lower()
    return Pattern(typing.cast(Shape, shape), _colour(name), name)


def _colour(name: str) -> Frame:
    if name in PURE_COLOURS:
        return PURE_COLOURS[name]
    from colorzero import Color  # type: ignore[import-untyped]  # only here: ~0.7 MB RSS

    try:
        rgb = Color(name).rgb
    except ValueError:
        raise PatternError(
            f"unknown colour {name!r}; use a colour name (red, blue, orange …) or #rrggbb"
        ) from None
    return (float(rgb.r), float(rgb.g), float(rgb.b))


def frames(
    pattern: Pattern,
    *,
    dimmable: bool = True,
    colour: bool = True,
    brightness: float = 1.0,
    tick_s: float = TICK_S,
) -> tuple[Frame, ...]:
    """One period of `pattern` as frames `tick_s` apart.

    Args:
        dimmable: the LED takes levels between 0 and 1 (PWM); else only 0 or 1.
        colour: the LED shows colours (RGB); else the colour is ignored (white).
        brightness: the limit every level is scaled by (ignored by on/off LEDs, except 0 = off).
    """
    levels = _levels(pattern.shape, dimmable, tick_s)
    rgb = (pattern.colour or WHITE) if colour else WHITE
    scale = brightness if dimmable else (1.0 if brightness > 0 else 0.0)
    return tuple(
        (round(level * scale * rgb[0], 4), round(level * scale * rgb[1], 4),
         round(level * scale * rgb[2], 4))
        for level in levels
    )  # fmt: skip


def _levels(shape: Shape, dimmable: bool, tick_s: float) -> tuple[float, ...]:
    if shape == "off":
        return (0.0,)
    if shape == "on":
        return (1.0,)
    if shape == "dim":
        return (DIM_LEVEL,) if dimmable else _square(SINGLE_DIM_S, tick_s)
    if shape == "blink":
        return _square(BLINK_S, tick_s)
    if shape == "fast_blink":
        return _square(FAST_BLINK_S, tick_s)
    if not dimmable:
        return _square(SINGLE_PULSE_S, tick_s)
    return _fade(PULSE_FADE_S, tick_s)


def _ticks(seconds: float, tick_s: float) -> int:
    return max(1, round(seconds / tick_s))


def _square(on_off_s: tuple[float, float], tick_s: float) -> tuple[float, ...]:
    on, off = (_ticks(s, tick_s) for s in on_off_s)
    return (1.0,) * on + (0.0,) * off


def _fade(in_out_s: tuple[float, float], tick_s: float) -> tuple[float, ...]:
    """A smooth rise and fall (half a cosine each way), from 0 to 1 and back."""
    up, down = (_ticks(s, tick_s) for s in in_out_s)
    rise = [(1 - math.cos(math.pi * i / up)) / 2 for i in range(up)]
    fall = [(1 + math.cos(math.pi * i / down)) / 2 for i in range(down)]
    return tuple(round(v, 4) for v in rise + fall)


def led_patterns(led: LedConfig) -> dict[str, Pattern]:
    """The parsed pattern of every state, keyed by state value.

    Raises:
        PatternError: naming the key, e.g. ``status.led.thinking = 'blnk': unknown pattern …``.
    """
    out: dict[str, Pattern] = {}
    for key in STATE_KEYS:
        text = getattr(led, key)
        try:
            out[key] = parse_pattern(text)
        except PatternError as exc:
            raise PatternError(f"status.led.{key} = {text!r}: {exc}") from None
    return out


def check_status(status: StatusConfig) -> list[str]:
    """Problems in ``[status]`` beyond types and ranges, one line each naming the key.

    `config.parse_config` calls this, so `edge-agent config check` exits 78 on them.
    """
    problems: list[str] = []
    led = status.led
    for key in (*STATE_KEYS, *NOTICE_KEYS):
        text = getattr(led, key)
        try:
            parse_pattern(text)
        except PatternError as exc:
            problems.append(f"status.led.{key} = {text!r}: {exc}")
    needed = {
        "single": ("pin",),
        "pwm": ("pin",),
        "rgb": ("red_pin", "green_pin", "blue_pin"),
    }.get(led.type, ())
    for key in needed:
        if not getattr(led, key).strip():
            problems.append(
                f"status.led.{key}: missing; a {led.type!r} LED needs it "
                "(e.g. 'GPIO17'), or set status.led.type = 'none'"
            )
    pins = [(f"status.led.{k}", getattr(led, k).strip()) for k in needed]
    buttons = status.buttons
    pins += [(f"status.buttons.{k}", getattr(buttons, k).strip()) for k in ("mute_pin", "talk_pin")]
    seen: dict[str, str] = {}
    for key, pin in pins:
        if not pin:
            continue
        if pin.upper() in seen:
            problems.append(
                f"{key} = {pin!r}: already used by {seen[pin.upper()]}; pins must differ"
            )
        seen.setdefault(pin.upper(), key)
    if buttons.pull == "up" and buttons.active == "high":
        problems.append(
            "status.buttons.active = 'high': a pull-up holds the pin high, so a button must pull "
            "it low; use active = 'low' (or 'auto'), or pull = 'down'"
        )
    if buttons.pull == "down" and buttons.active == "low":
        problems.append(
            "status.buttons.active = 'low': a pull-down holds the pin low, so a button must pull "
            "it high; use active = 'high' (or 'auto'), or pull = 'up'"
        )
    if buttons.pull == "none" and buttons.active == "auto":
        problems.append(
            "status.buttons.active = 'auto': with pull = 'none' (external resistor) say whether "
            "a pressed button reads 'low' or 'high'"
        )
    return problems
