"""systemd supervision: READY, STATUS, WATCHDOG and STOPPING via sd_notify.

A no-op without ``$NOTIFY_SOCKET`` (run from a terminal). The watchdog is pinged at a third of
``$WATCHDOG_USEC`` and only while a health predicate holds (the audio pipeline is moving), so a
wedged audio thread gets the service restarted instead of silently deaf.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages to the socket systemd gave us."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.socket = env.get("NOTIFY_SOCKET", "")
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        owned = not pid or pid == str(os.getpid())
        self.watchdog_interval_s = int(usec) / 1e6 if usec.isdigit() and owned else 0.0
        self._last_status = ""

    @property
    def is_enabled(self) -> bool:
        return bool(self.socket)

    def _send(self, message: str) -> None:
        if not self.socket:
            return
        from systemd import daemon

        old = os.environ.get("NOTIFY_SOCKET")
        os.environ["NOTIFY_SOCKET"] = self.socket  # sd_notify reads the variable itself
        try:
            daemon.notify(message)
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc)
        finally:
            if old is None:
                os.environ.pop("NOTIFY_SOCKET", None)

    def ready(self, status: str = "") -> None:
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        if text != self._last_status:
            self._last_status = text
            self._send(f"STATUS={text}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    async def run_watchdog(self, is_healthy: Callable[[], bool]) -> None:
        """Ping the watchdog every third of its interval while `is_healthy()` holds."""
        if not self.socket or not self.watchdog_interval_s:
            return
        period = self.watchdog_interval_s / 3
        was_healthy = True
        while True:
            healthy = is_healthy()
            if healthy:
                self.watchdog()
                if not was_healthy:
                    log.info("health check passes again; watchdog pings resume")
            elif was_healthy:
                log.error(
                    "health check failed; withholding watchdog pings so systemd restarts us",
                    extra={"ERROR_CODE": "unhealthy"},
                )
            was_healthy = healthy
            await asyncio.sleep(period)
