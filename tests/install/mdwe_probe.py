"""Load what the daemon loads under MemoryDenyWriteExecute=, as systemd enforces it.

Run as ``python mdwe_probe.py {prctl,seccomp} MODELS_DIR`` (a subprocess: the restriction can't
be lifted). ``prctl`` is PR_SET_MDWE, what systemd >= 253 (Trixie) uses; ``seccomp`` is the
filter systemd 252 (Bookworm) installs: mmap(PROT_WRITE|PROT_EXEC), mprotect(PROT_EXEC),
pkey_mprotect(PROT_EXEC) and shmat(SHM_EXEC) fail with EPERM. Prints one line per check.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import sys
from pathlib import Path

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO_EPERM = 0x00050000 | 1
SCMP_CMP_MASKED_EQ = 7
SHM_EXEC = 0o100000


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _deny_with_prctl() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE) failed")


def _deny_with_seccomp() -> None:
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    rules = [
        (b"mmap", mmap.PROT_EXEC | mmap.PROT_WRITE),
        (b"mprotect", mmap.PROT_EXEC),
        (b"pkey_mprotect", mmap.PROT_EXEC),
        (b"shmat", SHM_EXEC),
    ]
    for name, mask in rules:
        nr = lib.seccomp_syscall_resolve_name(name)
        cmp = _ArgCmp(2, SCMP_CMP_MASKED_EQ, mask, mask)
        if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO_EPERM, nr, 1, ctypes.byref(cmp)) != 0:
            raise OSError(f"seccomp rule for {name!r} failed")
    if lib.seccomp_load(ctx) != 0:
        raise OSError("seccomp_load failed")


def main(mode: str, models_dir: str) -> int:
    (_deny_with_prctl if mode == "prctl" else _deny_with_seccomp)()
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        print("wx-mapping allowed")
    except OSError:
        print("wx-mapping refused")

    import numpy as np
    import onnxruntime as ort
    import pyaudio
    import soxr

    from systemd import daemon, journal  # noqa: F401

    def session(name: str) -> ort.InferenceSession:
        return ort.InferenceSession(
            str(Path(models_dir) / name), providers=["CPUExecutionProvider"]
        )

    mel = session("melspectrogram.onnx")
    out = mel.run(None, {mel.get_inputs()[0].name: np.zeros((1, 1280), np.float32)})[0]
    print(f"melspectrogram {out.shape}")
    for path in sorted(Path(models_dir).glob("*.onnx")):
        session(path.name)
        print(f"loaded {path.name}")
    print(f"soxr {soxr.resample(np.zeros(2400, np.float32), 24000, 16000).shape[0]}")
    pa = pyaudio.PyAudio()
    pa.terminate()
    print("pyaudio ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
