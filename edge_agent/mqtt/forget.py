"""Clearing the device from Home Assistant: an empty retained message on every topic it used.

Home Assistant removes an entity whose discovery config topic gets an empty retained payload
(and the broker then forgets the retained message). Used by `edge-agent mqtt forget` and by
the daemon itself when it starts without an enabled [mqtt] section but its record
(`edge_agent.mqtt.record`) says it announced itself before: removing the section clears the
device. Either way the record is deleted once the broker took the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt

from edge_agent.config import Config
from edge_agent.mqtt import record
from edge_agent.mqtt.connect import client_for
from edge_agent.mqtt.discovery import DeviceInfo, configs
from edge_agent.mqtt.topics import topics_for

__all__ = ["ForgetOnStart", "clear", "configured_broker"]

log = logging.getLogger(__name__)


def configured_broker(cfg: Config, hostname: str | None = None) -> record.Announced:
    """The broker and every retained topic of the device [mqtt] describes."""
    t = topics_for(cfg.mqtt, hostname)
    info = DeviceInfo("", "", "", "")
    topics = (*configs(t, info, max_volume_pct=100), t.availability, t.state, t.info)
    return record.Announced.of(cfg.mqtt, cfg.mqtt.client_id or t.node_id, tuple(topics))


def _password(broker: record.Announced) -> str:
    if not broker.password_file:
        return ""
    return Path(broker.password_file).read_text(encoding="utf-8").strip()


async def clear(
    broker: record.Announced, password: str | None = None, *, timeout_s: float = 10.0
) -> int:
    """Publish an empty retained payload on each of `broker.topics`; returns how many.

    `password` None: read it from the record's password file. Raises aiomqtt.MqttError,
    OSError (an unreadable password file) or TimeoutError.
    """
    if password is None:
        password = await asyncio.to_thread(_password, broker)
    cleared = replace_id(broker)
    async with asyncio.timeout(timeout_s):
        async with await client_for(cleared, password, timeout_s=timeout_s) as client:
            for topic in broker.topics:
                await client.publish(topic, b"", qos=1, retain=True)
    return len(broker.topics)


def replace_id(broker: record.Announced) -> record.Announced:
    """A client id of its own: clearing must not kick a running daemon off the broker."""
    from dataclasses import replace

    return replace(broker, client_id=f"{broker.client_id or 'edge-agent'}-forget"[:64])


class ForgetOnStart:
    """App component: without [mqtt], clear what the record says was announced (in the
    background, once; a broker that cannot be reached leaves the record and logs the hint)."""

    name = "mqtt-forget"

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._task: asyncio.Task[None] | None = None

    async def start(self, post: Callable[[Any], None]) -> None:
        announced = await asyncio.to_thread(record.load, self.cfg.state_dir)
        if announced is None:
            return
        self._task = asyncio.create_task(self._clear(announced), name="mqtt-forget")

    async def _clear(self, announced: record.Announced) -> None:
        where = f"{announced.host}:{announced.port}"
        try:
            n = await clear(announced)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            log.warning(
                "mqtt: [mqtt] is gone but this device is still announced on %s and it could not "
                "be cleared (%s); run `edge-agent mqtt forget` once the broker is back",
                where,
                exc,
                extra={"ERROR_CODE": "mqtt", "SOURCE": "mqtt"},
            )
            return
        await asyncio.to_thread(record.delete, self.cfg.state_dir)
        log.info(
            "mqtt: [mqtt] is gone: cleared %d retained topic(s) on %s; the device leaves "
            "Home Assistant",
            n,
            where,
            extra={"SOURCE": "mqtt"},
        )

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        return {}

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
