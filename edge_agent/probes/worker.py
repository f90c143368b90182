"""Blocking work off the event loop, in daemon threads, and short reasons for errors.

A probe that calls PyAudio, onnxruntime, gpiozero or NSS may wedge in a driver. `in_thread`
runs it in a daemon thread: the check's timeout still fires and the process can still exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["in_thread", "why"]

T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in a new daemon thread and await its result.

    Unlike `asyncio.to_thread`, a call that never returns (a wedged sound driver) leaves only
    a daemon thread behind: the check times out and the process can still exit.
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(value)

    def run() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = fn(*args)
        except BaseException as exc:  # handed to the awaiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=run, name=f"doctor-{fn.__name__}", daemon=True).start()
    return await fut


def why(exc: BaseException, timeout_s: float) -> str:
    """A short lowercase reason for a failed network or socket call (never a secret)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls certificate not accepted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"tls failed: {exc.reason or exc}".lower()
    if isinstance(exc, OSError) and exc.errno and not isinstance(exc, socket.gaierror):
        return os.strerror(exc.errno).lower()  # asyncio's strerror is "connect call failed (...)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
