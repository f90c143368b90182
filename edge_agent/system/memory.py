"""Giving freed memory back to the system: glibc's `malloc_trim`.

glibc keeps memory that was freed inside its heaps (the unit's `MALLOC_ARENA_MAX=1`: one heap
for every thread) for the next allocation, so closing an
onnxruntime session frees ~5 MB that the process's RSS still counts. `malloc_trim(0)` returns
the free pages of every arena (`madvise(MADV_DONTNEED)`): measured after Silero's session is
closed, RSS falls by the session's 4.5-5 MB plus 1-1.5 MB of older free pages. It costs a few
ms, so it is called on the rare moments something big was freed, never per frame.
Without glibc (musl) there is no such call and this does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

__all__ = ["give_back_free_memory"]

_trim: Callable[[int], int] | None = None
_looked_up = False


def _malloc_trim() -> Callable[[int], int] | None:
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            _trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols: libc's
            _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # not glibc
            _trim = None
    return _trim


def give_back_free_memory() -> bool:
    """Return the heaps' free pages to the system; False where libc cannot (not glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
