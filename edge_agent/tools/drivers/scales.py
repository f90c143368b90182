"""Unit conversions at the driver boundary: percent ↔ device levels, kelvin ↔ mired, colours.

Pure functions, no I/O. The tools speak brightness in percent, colour temperature in kelvin and
colour as sRGB; each family's native scale is converted here (devices.md §8.7).
"""

from __future__ import annotations

import colorsys
import math

__all__ = [
    "hs_to_rgb",
    "kelvin_to_mired",
    "kelvin_to_rgb",
    "level_to_pct",
    "mired_to_kelvin",
    "pct_to_level",
    "rgb_to_xy",
    "xy_to_rgb",
]


def pct_to_level(pct: int, top: int, bottom: int = 1) -> int:
    """Percent 1–100 to a device scale `bottom..top` (WLED/ESPHome 0–255 → top 255, Hue 1–254)."""
    pct = max(0, min(100, pct))
    return max(bottom, min(top, round(pct * top / 100)))


def level_to_pct(level: float, top: int) -> int:
    """A device level 0..top back to percent (a lit light never reads as 0 %)."""
    if level <= 0:
        return 0
    return max(1, min(100, round(level * 100 / top)))


def kelvin_to_mired(kelvin: int, lo: int = 153, hi: int = 500) -> int:
    """Kelvin to mired (10⁶/K), clamped to the lamp range (Hue ≈153–500)."""
    return max(lo, min(hi, round(1_000_000 / max(kelvin, 1))))


def mired_to_kelvin(mired: float) -> int:
    """Mired to kelvin, rounded to 10 K so a round trip reads back as spoken."""
    return round(1_000_000 / max(mired, 1) / 10) * 10


def kelvin_to_rgb(kelvin: int) -> tuple[int, int, int]:
    """Approximate the sRGB of a black body (Tanner Helland's fit), for RGB-only strips."""
    t = max(1000, min(40000, kelvin)) / 100
    if t <= 66:
        r = 255.0
        g = 99.4708025861 * math.log(t) - 161.1195681661
        b = 0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307
    else:
        r = 329.698727446 * (t - 60) ** -0.1332047592
        g = 288.1221695283 * (t - 60) ** -0.0755148492
        b = 255.0
    return (_byte(r), _byte(g), _byte(b))


def rgb_to_xy(rgb: tuple[int, int, int]) -> tuple[float, float]:
    """sRGB to CIE xy with the wide-gamut matrix Philips documents for Hue."""
    r, g, b = (_linear(c / 255) for c in rgb)
    x = r * 0.664511 + g * 0.154324 + b * 0.162028
    y = r * 0.283881 + g * 0.668433 + b * 0.047685
    z = r * 0.000088 + g * 0.072310 + b * 0.986039
    total = x + y + z
    if total == 0:
        return (0.3227, 0.329)  # white point: black has no chromaticity
    return (round(x / total, 4), round(y / total, 4))


def xy_to_rgb(xy: tuple[float, float]) -> tuple[int, int, int]:
    """CIE xy (at full brightness) back to sRGB, the inverse of `rgb_to_xy`."""
    x, y = xy
    if y <= 0:
        return (255, 255, 255)
    big_y = 1.0
    big_x = big_y / y * x
    big_z = big_y / y * (1 - x - y)
    r = big_x * 1.656492 - big_y * 0.354851 - big_z * 0.255038
    g = -big_x * 0.707196 + big_y * 1.655397 + big_z * 0.036152
    b = big_x * 0.051713 - big_y * 0.121364 + big_z * 1.011530
    top = max(r, g, b, 1e-9)
    return tuple(_byte(_gamma(max(0.0, c / top)) * 255) for c in (r, g, b))  # type: ignore[return-value]


def hs_to_rgb(hue: int, sat: int) -> tuple[int, int, int]:
    """Hue's hue 0–65535 and sat 0–254 to sRGB at full value."""
    r, g, b = colorsys.hsv_to_rgb(hue / 65535, sat / 254, 1.0)
    return (_byte(r * 255), _byte(g * 255), _byte(b * 255))


def _linear(c: float) -> float:
    return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92


def _gamma(c: float) -> float:
    return 1.055 * c ** (1 / 2.4) - 0.055 if c > 0.0031308 else 12.92 * c


def _byte(v: float) -> int:
    return max(0, min(255, round(v)))
