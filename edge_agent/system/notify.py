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
        from systemd import daemon  # type: ignore[import-untyped]

        # sd_notify(3) reads $NOTIFY_SOCKET itself; under systemd it already holds our socket,
        # so the environment is only touched (and restored) when it was given differently.
        old = os.environ.get("NOTIFY_SOCKET")
        if old != self.socket:
            os.environ["NOTIFY_SOCKET"] = self.socket
        try:
            daemon.notify(message)
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc, extra={"ERROR_CODE": "sd_notify"})
        finally:
            if old is None:
                os.environ.pop("NOTIFY_SOCKET", None)
            elif old != self.socket:
                os.environ["NOTIFY_SOCKET"] = old

    def ready(self, status: str = "") -> None:
        """Tell systemd start-up is complete (and, optionally, the first status)."""
        if status:
            self._last_status = status
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        """Show `text` in `systemctl status`; repeats are not sent."""
        if text != self._last_status:
            self._last_status = text
            self._send(f"STATUS={text}")

    def stopping(self) -> None:
        """Tell systemd we are shutting down on purpose."""
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        """One keep-alive ping; `run_watchdog` sends them while healthy."""
        self._send("WATCHDOG=1")

    async def run_watchdog(self, is_healthy: Callable[[], bool]) -> None:
        """Ping the watchdog every third of its interval while `is_healthy()` holds.

        A predicate that raises counts as unhealthy. Returns at once when systemd set no
        watchdog; otherwise runs until cancelled.
        """
        if not self.socket or not self.watchdog_interval_s:
            return
        period = self.watchdog_interval_s / 3
        was_healthy = True
        while True:
            try:
                healthy = bool(is_healthy())
            except Exception:
                log.exception("health check raised", extra={"ERROR_CODE": "health_check"})
                healthy = False
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
