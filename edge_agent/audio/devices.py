"""ALSA device listing and selection by name, through PyAudio's ALSA host API.

Owns: turning a configured name ("default", an exact name, a unique substring) into a PyAudio
device index, and opening PyAudio without ALSA's enumeration noise on stderr.
Must not: open streams or keep a PyAudio instance of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from edge_agent.errors import AudioDeviceError, DeviceNotFound

if TYPE_CHECKING:
    import pyaudio  # type: ignore[import-untyped]

__all__ = [
    "AudioDevice",
    "find_device",
    "format_checker",
    "free_alsa_config",
    "list_devices",
    "open_pyaudio",
    "prune_alsa_probe",
    "quiet_stderr",
]

Kind = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class AudioDevice:
    """One ALSA PCM as PortAudio sees it."""

    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_rate_hz: int

    def has(self, kind: Kind) -> bool:
        """True if the device can capture (`input`) or play (`output`)."""
        channels = self.max_input_channels if kind == "input" else self.max_output_channels
        return channels > 0

    def describe(self) -> str:
        """One line for listings: index, name, channels in/out, default rate."""
        return (
            f"{self.index:3d}  {self.name}  (in {self.max_input_channels}, "
            f"out {self.max_output_channels}, {self.default_rate_hz} Hz)"
        )


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send fd 2 to /dev/null for the block: PortAudio's ALSA enumeration prints dozens of
    harmless 'unknown PCM' errors there, which would bury a CLI's output."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# alsa-lib plugin types (libasound2-plugins' alsa.conf.d) whose PCMs PortAudio's probe opens,
# loading their modules and libraries (libjack, libavcodec, libx265, librsvg...), although the
# daemon plays and records through none of them unless configured by name. Several of those
# libraries cannot be unloaded again (-3.1 MB RSS on the rig when they are skipped).
_PROBE_SKIPPED_TYPES: Final = frozenset(
    {"jack", "a52", "upmix", "vdownmix", "usb_stream", "oss", "speex", "rate"}
)


def open_pyaudio(keep: Sequence[tuple[str, Kind]] = ()) -> pyaudio.PyAudio:
    """A new PyAudio instance, created with stderr silenced (blocking: call it off the loop).

    PortAudio's start-up opens every PCM the ALSA configuration defines to list them, which
    loads every alsa-lib plugin (a52 pulls in libavcodec, jack, pulse, upmix...); they stay
    mapped for the life of the process. Freeing alsa-lib's global configuration afterwards
    unloads them again (-11 MB RSS measured on the rig); the next `snd_pcm_open` re-reads the
    configuration and loads only the plugin it needs. PortAudio keeps its device list.

    `keep` ((device spec, kind) pairs: what the caller will open): the probe then skips the PCMs of
    the plugin types in `_PROBE_SKIPPED_TYPES` whose names do not contain a spec. If a spec
    then does not resolve as it must (`find_device`; "default" only to ALSA's own `default`),
    the probe is redone in full, so the device chosen is the one a full probe would give.
    """
    import pyaudio

    if keep:
        skipped = prune_alsa_probe(keep)
        with quiet_stderr():
            pa = pyaudio.PyAudio()
        free_alsa_config()
        if not skipped or _resolves(pa, keep):
            return pa
        pa.terminate()
    with quiet_stderr():
        pa = pyaudio.PyAudio()
    free_alsa_config()
    return pa


def _resolves(pa: pyaudio.PyAudio, keep: Sequence[tuple[str, Kind]]) -> bool:
    try:
        found = [(spec, find_device(pa, spec, kind)) for spec, kind in keep]
    except (DeviceNotFound, AudioDeviceError):
        return False
    return all(spec != "default" or d.name == "default" for spec, d in found)


def prune_alsa_probe(keep: Sequence[tuple[str, Kind]]) -> list[str]:
    """Drop the `_PROBE_SKIPPED_TYPES` PCMs not named by a spec of `keep` from alsa-lib's
    loaded configuration (PortAudio lists that one); returns their names. The files are not
    touched: `free_alsa_config` (or any change to them) brings every PCM back."""
    try:
        lib = ctypes.CDLL("libasound.so.2")
    except OSError:
        return []
    vp = ctypes.c_void_p
    lib.snd_config_update.restype = ctypes.c_int
    lib.snd_config_search.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(vp)]
    for name in ("first", "next", "end", "entry"):
        fn = getattr(lib, f"snd_config_iterator_{name}")
        fn.restype, fn.argtypes = vp, [vp]
    for name in ("get_id", "get_string"):
        fn = getattr(lib, f"snd_config_{name}")
        fn.argtypes = [vp, ctypes.POINTER(ctypes.c_char_p)]
    lib.snd_config_delete.argtypes = [vp]
    if lib.snd_config_update() < 0:
        return []
    pcms = vp()
    if lib.snd_config_search(vp.in_dll(lib, "snd_config"), b"pcm", ctypes.byref(pcms)) < 0:
        return []
    specs = [spec.lower() for spec, _ in keep]
    dropped = []
    it, end = lib.snd_config_iterator_first(pcms), lib.snd_config_iterator_end(pcms)
    while it != end:
        node, it = lib.snd_config_iterator_entry(it), lib.snd_config_iterator_next(it)
        ident, kind, type_node = ctypes.c_char_p(), ctypes.c_char_p(), vp()
        if lib.snd_config_get_id(node, ctypes.byref(ident)) < 0 or not ident.value:
            continue
        if lib.snd_config_search(node, b"type", ctypes.byref(type_node)) < 0:
            continue
        if lib.snd_config_get_string(type_node, ctypes.byref(kind)) < 0 or not kind.value:
            continue
        name = ident.value.decode(errors="replace")
        if kind.value.decode(errors="replace") not in _PROBE_SKIPPED_TYPES:
            continue
        if any(spec in name.lower() for spec in specs):
            continue
        if lib.snd_config_delete(node) == 0:
            dropped.append(name)
    return dropped


def free_alsa_config() -> bool:
    """`snd_config_update_free_global()`: drop alsa-lib's cached configuration and the plugin
    modules it loaded. False when libasound is not there (nothing to free)."""
    try:
        lib = ctypes.CDLL("libasound.so.2")  # PortAudio has loaded it: no search
    except OSError:
        return False
    return int(lib.snd_config_update_free_global()) == 0


def list_devices(pa: pyaudio.PyAudio) -> list[AudioDevice]:
    """Every device of PyAudio's ALSA host API, in PortAudio's order.

    Raises:
        AudioDeviceError: PortAudio was built without ALSA.
    """
    import pyaudio

    try:
        api = pa.get_host_api_info_by_type(pyaudio.paALSA)
    except OSError as exc:
        raise AudioDeviceError(
            "portaudio has no alsa host api: install portaudio19 with alsa"
        ) from exc
    devices = []
    for i in range(int(api["deviceCount"])):
        info = pa.get_device_info_by_host_api_device_index(int(api["index"]), i)
        devices.append(
            AudioDevice(
                index=int(info["index"]),
                name=str(info["name"]),
                max_input_channels=int(info["maxInputChannels"]),
                max_output_channels=int(info["maxOutputChannels"]),
                default_rate_hz=int(info["defaultSampleRate"]),
            )
        )
    return devices


def find_device(pa: pyaudio.PyAudio, spec: str, kind: Kind) -> AudioDevice:
    """The device named by `spec`: an exact name, else a unique substring (case-insensitive).

    "default" means ALSA's `default` PCM if listed, else the first device of that kind.

    Raises:
        DeviceNotFound: nothing or several devices match; the message lists what exists.
    """
    candidates = [d for d in list_devices(pa) if d.has(kind)]
    exact = [d for d in candidates if d.name == spec]
    if exact:
        return exact[0]
    if spec == "default" and candidates:
        return candidates[0]
    matches = [d for d in candidates if spec.lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(repr(d.name) for d in candidates) or "none"
    what = "capture" if kind == "input" else "playback"
    if matches:
        raise DeviceNotFound(
            f"{what} device {spec!r} is ambiguous: it matches "
            f"{', '.join(repr(d.name) for d in matches)}; use the exact name"
        )
    raise DeviceNotFound(
        f"no {what} device matches {spec!r}; {what} devices: {names} "
        "(set audio.input_device/output_device, see `edge-agent audio list`)"
    )


def format_checker(
    pa: pyaudio.PyAudio, device: AudioDevice, kind: Kind
) -> Callable[[int, int], bool]:
    """`(rate, channels) -> bool` over PortAudio's is_format_supported, 16-bit (blocking)."""
    import pyaudio

    def check(rate: int, channels: int) -> bool:
        if kind == "input":
            kw = {"input_device": device.index, "input_channels": channels,
                  "input_format": pyaudio.paInt16}  # fmt: skip
        else:
            kw = {"output_device": device.index, "output_channels": channels,
                  "output_format": pyaudio.paInt16}  # fmt: skip
        try:
            with quiet_stderr():
                return bool(pa.is_format_supported(rate, **kw))
        except ValueError:  # PortAudio says "invalid sample rate/number of channels/..."
            return False

    return check
