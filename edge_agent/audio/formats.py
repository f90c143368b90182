"""Format negotiation: which sample rate and channel count to open a sound device at.

Owns: the policy (pure: a table of what the device accepts in, a `FormatChoice` with its reason
out) and the probe that builds that table from PortAudio's `is_format_supported`.
Must not: open streams for audio (the probe only asks PortAudio, which test-opens the PCM).

The pipeline always sees 24 kHz mono int16. A `plughw:`/`default`/PulseAudio device accepts
that and converts in ALSA; a bare `hw:` device (many USB mics: 48 kHz stereo only, or 16 kHz
only; HDMI and some DACs: 44.1/48 kHz stereo) does not, and then we open the nearest format it
offers and convert in-process (`edge_agent.audio.convert`: soxr for the rate, downmix or one
chosen channel for capture, duplicate for playback).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from edge_agent.errors import AudioDeviceError, AudioFormatError

__all__ = [
    "CANDIDATE_RATES_HZ",
    "TARGET_RATE_HZ",
    "FormatChoice",
    "candidate_formats",
    "choose_format",
    "describe_formats",
    "open_error",
    "probe_formats",
]

TARGET_RATE_HZ = 24000
# rates a device is asked about, most useful first (24 kHz is the Realtime API's rate)
CANDIDATE_RATES_HZ = (24000, 48000, 16000, 44100, 32000, 22050, 96000, 8000)
_CHANNEL_COUNTS = (1, 2, 4, 6, 8)
Kind = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class FormatChoice:
    """What to open the device at, and why (shown by `audio test` and `doctor`)."""

    rate_hz: int
    channels: int
    input_channel: int | None  # capture: the one channel kept (None: the mean of all)
    reason: str

    @property
    def native(self) -> bool:
        """True if no conversion is needed (24 kHz mono)."""
        return self.rate_hz == TARGET_RATE_HZ and self.channels == 1

    def describe(self) -> str:
        """e.g. '48000 Hz, 2 channels'."""
        ch = "mono" if self.channels == 1 else f"{self.channels} channels"
        return f"{self.rate_hz} Hz {ch}"


def _rate_order(rate: int) -> tuple[int, int]:
    # at or above 24 kHz first (nothing of the band is lost), nearest first; then lower rates
    return (0 if rate >= TARGET_RATE_HZ else 1, abs(rate - TARGET_RATE_HZ))


def describe_formats(supported: Collection[tuple[int, int]]) -> str:
    """'16000, 48000 Hz x 1-2 ch' style summary for listings ('none' if empty)."""
    if not supported:
        return "none of the usual formats"
    rates = sorted({r for r, _ in supported})
    parts = []
    for rate in rates:
        chans = sorted(c for r, c in supported if r == rate)
        parts.append(f"{rate}/{','.join(str(c) for c in chans)}ch")
    return " ".join(parts)


def choose_format(
    supported: Collection[tuple[int, int]],
    kind: Kind,
    *,
    device: str = "the device",
    input_channel: int | None = None,
) -> FormatChoice:
    """Pick (rate, channels) from `supported` (pairs the device accepts at 16-bit).

    Rate: 24 kHz if offered, else the nearest rate at or above it, else the nearest below.
    Channels: mono if offered at that rate, else the fewest it offers (capture: that still
    includes `input_channel`, when set).

    Raises:
        AudioFormatError: nothing usable is offered; the message says what to do instead.
    """
    pairs = {(int(r), int(c)) for r, c in supported if r > 0 and c > 0}
    need = 1 if input_channel is None or kind == "output" else input_channel + 1
    usable = {(r, c) for r, c in pairs if c >= need}
    what = "capture" if kind == "input" else "playback"
    if not usable:
        if pairs and input_channel is not None:
            raise AudioFormatError(
                f"{what} device {device!r} has no channel {input_channel} (it offers "
                f"{describe_formats(pairs)}); set audio.input_channel to 0.."
                f"{max(c for _, c in pairs) - 1} or remove it"
            )
        raise AudioFormatError(
            f"{what} device {device!r} accepts none of the 16-bit formats tried "
            f"({', '.join(str(r) for r in CANDIDATE_RATES_HZ)} Hz, 1-8 channels): it is a format "
            "problem, not a missing device; use its 'plughw:' or 'default' name, which converts "
            "in ALSA (`edge-agent audio list`)"
        )
    rate = min({r for r, _ in usable}, key=_rate_order)
    channels = min(c for r, c in usable if r == rate)
    reasons = []
    if rate == TARGET_RATE_HZ:
        reasons.append("24000 Hz offered")
    else:
        offered = ", ".join(str(r) for r in sorted({r for r, _ in usable}))
        reasons.append(f"24000 Hz not offered (offers {offered}): resampled in-process with soxr")
    if channels == 1:
        reasons.append("mono offered")
    elif kind == "output":
        reasons.append(f"mono not offered: the reply is copied to all {channels} channels")
    elif input_channel is not None:
        reasons.append(f"audio.input_channel = {input_channel} of {channels}")
    else:
        reasons.append(f"mono not offered: the {channels} channels are averaged")
    return FormatChoice(
        rate_hz=rate,
        channels=channels,
        input_channel=input_channel if kind == "input" and channels > 1 else None,
        reason="; ".join(reasons),
    )


def candidate_formats(max_channels: int, input_channel: int | None = None) -> list[tuple[int, int]]:
    """The (rate, channels) pairs worth asking a device about."""
    counts = {c for c in _CHANNEL_COUNTS if c <= max_channels}
    if input_channel is not None and input_channel < max_channels:
        counts.add(input_channel + 1)
    return [(r, c) for r in CANDIDATE_RATES_HZ for c in sorted(counts)]


def probe_formats(
    is_supported: Callable[[int, int], bool],
    candidates: Iterable[tuple[int, int]],
    *,
    stop_at_native: bool = True,
) -> frozenset[tuple[int, int]]:
    """The candidates `is_supported(rate, channels)` accepts (blocking: it test-opens the PCM).

    With `stop_at_native`, stops at 24 kHz mono: if that works nothing else matters.
    """
    found = set()
    for rate, channels in candidates:
        if is_supported(rate, channels):
            found.add((rate, channels))
            if stop_at_native and (rate, channels) == (TARGET_RATE_HZ, 1):
                break
    return frozenset(found)


_FORMAT_WORDS = ("sample rate", "number of channels", "sample format", "invalid device")


def open_error(
    what: Literal["capture", "playback"], device: str, choice: FormatChoice, exc: BaseException
) -> AudioDeviceError:
    """The error for a stream that did not open, saying which kind of problem it is."""
    text = str(exc)
    low = text.lower()
    fmt = choice.describe()
    if any(word in low for word in _FORMAT_WORDS):
        return AudioFormatError(
            f"cannot open {what} device {device!r} at {fmt}: {text}; this is a format problem "
            f"(chosen because {choice.reason}); use its 'plughw:' or 'default' name, which "
            "converts in ALSA, and see `edge-agent audio list` for what it offers"
        )
    if "busy" in low or "unavailable" in low:
        return AudioDeviceError(
            f"cannot open {what} device {device!r} at {fmt}: {text}; another program holds it: "
            "stop it, or use a shared device (dsnoop/dmix, 'default' under PulseAudio/PipeWire)"
        )
    return AudioDeviceError(
        f"cannot open {what} device {device!r} at {fmt}: {text}; check it is plugged in "
        "(`edge-agent audio list`)"
    )
