"""A thin ctypes binding over Debian's libspeexdsp1: the MDF echo canceller and its preprocessor.

Why our own: no maintained Python wheel wraps speexdsp's AEC, and its C API (speex_echo.h,
speex_preprocess.h) has been stable since 2008. Only what the echo canceller needs is bound:
echo state init/destroy/cancellation/ctl, preprocess init/destroy/run/ctl.
Owns: the library handle and one pair of C states per `SpeexAec`; int16 frames in and out.
Not thread-safe: one caller (the event loop) per instance.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Final

import numpy as np

from edge_agent.errors import AudioDeviceError

__all__ = ["SpeexAec", "load_speexdsp"]

_SET_SAMPLING_RATE: Final = 24  # SPEEX_ECHO_SET_SAMPLING_RATE
_PP_SET_DENOISE: Final = 0
_PP_SET_NOISE_SUPPRESS: Final = 18
_PP_SET_ECHO_SUPPRESS: Final = 20
_PP_SET_ECHO_SUPPRESS_ACTIVE: Final = 22
_PP_SET_ECHO_STATE: Final = 24

_lib: ctypes.CDLL | None = None
_I16P = ctypes.POINTER(ctypes.c_int16)


def load_speexdsp() -> ctypes.CDLL:
    """libspeexdsp.so.1, with the prototypes set (once per process).

    Raises:
        AudioDeviceError: the library is not installed (the message says which package).
    """
    global _lib
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise AudioDeviceError(
            f"audio.echo_cancel = 'speex' needs libspeexdsp ({exc}): "
            "`sudo apt-get install libspeexdsp1`, or set audio.echo_cancel = 'off'"
        ) from exc
    vp = ctypes.c_void_p
    lib.speex_echo_state_init.restype = vp
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_state_destroy.argtypes = [vp]
    lib.speex_echo_state_reset.argtypes = [vp]
    lib.speex_echo_cancellation.argtypes = [vp, _I16P, _I16P, _I16P]
    lib.speex_echo_ctl.argtypes = [vp, ctypes.c_int, vp]
    lib.speex_preprocess_state_init.restype = vp
    lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_preprocess_state_destroy.argtypes = [vp]
    lib.speex_preprocess_run.argtypes = [vp, _I16P]
    lib.speex_preprocess_run.restype = ctypes.c_int
    lib.speex_preprocess_ctl.argtypes = [vp, ctypes.c_int, vp]
    _lib = lib
    return lib


class SpeexAec:
    """speexdsp's MDF echo canceller, plus (optionally) its residual-echo suppressor.

    `frame` samples of mic and of the aligned reference in, `frame` echo-cancelled samples out.
    `suppress_db` (e.g. -40): the preprocessor's extra attenuation of residual echo (it also
    damps the talker during double talk); None runs the linear filter only.
    """

    def __init__(
        self, frame: int, filter_length: int, rate_hz: int, *, suppress_db: int | None = None
    ) -> None:
        self._lib = lib = load_speexdsp()
        self.frame = frame
        self._echo = lib.speex_echo_state_init(frame, filter_length)
        if not self._echo:
            raise AudioDeviceError("speex_echo_state_init failed (out of memory?)")
        rate = ctypes.c_int(rate_hz)
        lib.speex_echo_ctl(self._echo, _SET_SAMPLING_RATE, ctypes.byref(rate))
        self._pp: int | None = None
        if suppress_db is not None:
            self._pp = lib.speex_preprocess_state_init(frame, rate_hz)
            # speexdsp applies its gains (residual echo included) only with denoise on; keep
            # its noise suppression mild: the wake model and the server want the room as is
            self._ctl(_PP_SET_DENOISE, 1)
            self._ctl(_PP_SET_NOISE_SUPPRESS, -6)
            self._ctl(_PP_SET_ECHO_SUPPRESS, suppress_db)
            self._ctl(_PP_SET_ECHO_SUPPRESS_ACTIVE, suppress_db // 3)
            lib.speex_preprocess_ctl(self._pp, _PP_SET_ECHO_STATE, ctypes.c_void_p(self._echo))

    def _ctl(self, request: int, value: int) -> None:
        v = ctypes.c_int(value)
        self._lib.speex_preprocess_ctl(self._pp, request, ctypes.byref(v))

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """One frame: the mic minus the estimated echo of `ref` (both int16, `frame` long)."""
        m = np.ascontiguousarray(mic, np.int16)
        r = np.ascontiguousarray(ref, np.int16)
        if len(m) != self.frame or len(r) != self.frame:
            raise ValueError(f"frames must be {self.frame} samples, got {len(m)} and {len(r)}")
        out = np.empty(self.frame, np.int16)
        self._lib.speex_echo_cancellation(
            self._echo, m.ctypes.data_as(_I16P), r.ctypes.data_as(_I16P), out.ctypes.data_as(_I16P)
        )
        if self._pp is not None:
            self._lib.speex_preprocess_run(self._pp, out.ctypes.data_as(_I16P))
        return out

    def reset(self) -> None:
        """Forget the learnt echo path (the room or the delay changed)."""
        self._lib.speex_echo_state_reset(self._echo)

    def close(self) -> None:
        if self._pp is not None:
            self._lib.speex_preprocess_state_destroy(self._pp)
            self._pp = None
        if self._echo:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None

    def __del__(self) -> None:
        self.close()
