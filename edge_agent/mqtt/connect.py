"""One way to open an aiomqtt client from the [mqtt] settings (daemon, forget, doctor).

The password comes from `MqttConfig.password` (read from ``password_file`` by the config
parser) and only goes to the client; nothing here logs. The TLS context is built off the loop
(it reads CA files).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any, Final

import aiomqtt

from edge_agent.mqtt.record import Announced

__all__ = ["CLIENT_LOG", "client_for", "tls_context"]

_PER_MINUTE: Final = 5


class _Sparse(logging.Filter):
    """At most a few records a minute: a flood of incoming messages makes aiomqtt log one
    "Message queue is full. Discarding message." per message dropped."""

    def __init__(self) -> None:
        super().__init__()
        self._times: list[float] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        now = time.monotonic()
        self._times = [t for t in self._times if now - t < 60.0]
        if len(self._times) >= _PER_MINUTE:
            return False
        self._times.append(now)
        return True


CLIENT_LOG: Final = logging.getLogger("edge_agent.mqtt.client")
CLIENT_LOG.addFilter(_Sparse())


def tls_context(ca_file: str, verify: bool) -> ssl.SSLContext:
    """The system's CAs (or `ca_file`); `verify` False skips the certificate and name checks."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def client_for(
    broker: Announced,
    password: str,
    *,
    will: aiomqtt.Will | None = None,
    keepalive_s: int = 30,
    timeout_s: float = 10.0,
    max_queued_incoming: int = 0,
) -> aiomqtt.Client:
    """An unconnected client (`async with` connects) for the broker in `broker`."""
    options: dict[str, Any] = {}
    if broker.tls:
        options["tls_context"] = await asyncio.to_thread(tls_context, broker.ca_file, broker.verify)
        options["tls_insecure"] = not broker.verify
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=broker.username or None,
        password=password or None,
        identifier=broker.client_id or None,
        will=will,
        keepalive=keepalive_s,
        timeout=timeout_s,
        max_queued_incoming_messages=max_queued_incoming,
        logger=CLIENT_LOG,
        **options,
    )
