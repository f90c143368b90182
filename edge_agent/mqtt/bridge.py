"""The MQTT bridge: the speaker as a Home Assistant device, as an App component.

`start` only launches a background task, so the daemon starts, listens and answers whether or
not the broker is there. The task connects (last will: ``offline`` on the availability topic,
retained), subscribes to the command topics and Home Assistant's status topic, publishes the
discovery configs, the diagnostics, ``online`` and the state (all retained), then reads
commands. A lost or refused connection is retried with backoff and jitter (capped), forever.

Commands become the very core events the buttons post: mute = `MuteToggle` (only when the
switch asks for the other state), start conversation = `TalkPressed`, announcements =
`Announce` (queued by the turn core behind a turn in progress; the model is told to say exactly
the text; the mic opens afterwards only for ``start_conversation``). Volume goes through the
assistant's `VolumeControl`, as the voice tool does. Every command is logged with
``SOURCE=mqtt``; a rejected payload is logged (rate-limited) and changes nothing.

State comes from the actions the core emits (`StateChanged`, `Ring`, `EndTurn`); a change is
published at once when connected, and everything again after each reconnect and whenever Home
Assistant says ``online`` (its restart forgets nothing retained, but this is its documented
wish). Closing publishes ``offline`` before disconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiomqtt

from edge_agent.app import Handlers
from edge_agent.config import Config
from edge_agent.mqtt import record
from edge_agent.mqtt.commands import (
    AnnouncementGate,
    Rejected,
    SetMute,
    SetVolume,
    Speak,
    StartConversation,
    parse,
)
from edge_agent.mqtt.connect import client_for
from edge_agent.mqtt.discovery import OFFLINE, ONLINE, DeviceInfo, configs, encode, info_payload
from edge_agent.mqtt.topics import Topics, topics_for
from edge_agent.mqtt.values import DeviceValues, state_payload
from edge_agent.realtime.protocol import backoff
from edge_agent.states import EndTurn, Event, MuteToggle, State, TalkPressed
from edge_agent.turn.actions import Ring, StateChanged
from edge_agent.turn.events import Announce

if TYPE_CHECKING:
    from edge_agent.assistant.service import TimerService
    from edge_agent.assistant.volume import VolumeControl
    from edge_agent.turn.turnlog import TurnLog
    from edge_agent.usage.ledger import UsageLedger

__all__ = ["MqttBridge"]

log = logging.getLogger(__name__)

_REFRESH_S: Final = 30.0  # today's cost and the timers are re-read this often
_COST_AFTER_TURN_S: Final = 2.0  # the ledger records a response asynchronously
_REJECT_LOGS_PER_MIN: Final = 5
_REANNOUNCE_MIN_S: Final = 10.0  # a flood of "online" on the status topic re-announces once
_MAX_QUEUED_IN: Final = 200  # a flood of messages is dropped by the client, not queued forever


class MqttBridge:
    """The device in Home Assistant; see the module docstring."""

    name = "mqtt"

    def __init__(
        self,
        cfg: Config,
        *,
        volume: VolumeControl | None = None,
        timers: TimerService | None = None,
        ledger: Callable[[], UsageLedger | None] | None = None,
        turns: TurnLog | None = None,
        hostname: str | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """
        Args:
            volume: the assistant's `VolumeControl` (None: no volume entity commands).
            timers: the assistant's `TimerService` (its book lists the running timers).
            ledger: returns the usage ledger, or None while it is not open.
            turns: the `TurnLog` (the last finished turn's latency).
        """
        self.cfg = cfg
        m = cfg.mqtt
        self.topics: Topics = topics_for(m, hostname)
        self.client_id = m.client_id or self.topics.node_id
        self.broker = record.Announced.of(m, self.client_id, ())
        self.volume = volume
        self.timers = timers
        self.ledger = ledger or (lambda: None)
        self.turns = turns
        self.clock = clock
        self._backoff = (backoff_initial_s, backoff_max_s)
        from edge_agent import __version__

        self.info = DeviceInfo(
            name=m.device_name or f"Edge agent {self.topics.node_id}",
            version=__version__,
            wake_word=_wake_word(cfg),
            model=cfg.realtime.model,
        )
        self.max_volume_pct = cfg.volume.max_pct
        self.configs = configs(self.topics, self.info, max_volume_pct=self.max_volume_pct)
        self.values = DeviceValues(volume_pct=volume.percent if volume is not None else None)
        self.gate = AnnouncementGate(m.announce_per_minute)
        self.connected = asyncio.Event()
        self.connects = 0  # successful connections so far (tests watch reconnects)
        self.commands_done = 0
        self.rejected = 0
        self._post: Callable[[Event], None] = lambda e: None
        self._client: aiomqtt.Client | None = None
        self._changed = asyncio.Event()
        self._published = b""  # the state document as last published
        self._announced_at = -_REANNOUNCE_MIN_S  # when Home Assistant's "online" was last answered
        self._mute_target: bool | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reject_window: list[float] = []
        self._suppressed = 0
        self._closing = False

    # -- Component -----------------------------------------------------------------------------
    async def start(self, post: Callable[[Event], None]) -> None:
        self._post = post
        self._task = asyncio.create_task(self._run(), name="mqtt")

    def handlers(self) -> Handlers:
        return {StateChanged: self._on_state, Ring: self._on_ring, EndTurn: self._on_end_turn}

    def is_healthy(self) -> bool:
        return True  # the broker being away is not a reason for systemd to restart us

    async def aclose(self) -> None:
        self._closing = True
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError, OSError):
                async with asyncio.timeout(2.0):
                    await client.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
        for task in [*self._tasks, *([self._task] if self._task else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    # -- core actions (loop thread, never block) -----------------------------------------------
    def _on_state(self, action: StateChanged) -> None:
        self._mute_target = None
        self._set(state=action.new)

    def _on_ring(self, action: Ring) -> None:
        self._set(ringing=action.on)

    def _on_end_turn(self, action: EndTurn) -> None:
        finished = self.turns.finished if self.turns is not None else []
        if finished:
            latency = finished[-1].latency_ms
            if latency is not None:
                self._set(latency_ms=latency)
        self._spawn(self._refresh_later(_COST_AFTER_TURN_S))

    def _set(self, **changes: Any) -> None:
        new = replace(self.values, **changes)
        if new != self.values:
            self.values = new
            self._changed.set()

    # -- the connection ------------------------------------------------------------------------
    async def _run(self) -> None:
        delays: Iterator[float] = backoff(*self._backoff)
        failures = 0
        m = self.cfg.mqtt
        where = f"{m.host}:{m.port}"
        while not self._closing:
            try:
                client = await client_for(
                    self.broker,
                    m.password.reveal(),
                    will=aiomqtt.Will(self.topics.availability, OFFLINE, qos=1, retain=True),
                    keepalive_s=m.keepalive_s,
                    max_queued_incoming=_MAX_QUEUED_IN,
                )
                async with client:
                    self._client = client
                    failures = 0
                    delays = backoff(*self._backoff)
                    await self._connected(client, where)
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                level = logging.WARNING if failures == 0 else logging.DEBUG
                if failures in (3, 10, 100):
                    level = logging.WARNING
                log.log(
                    level,
                    "mqtt: broker %s %s: %s; retrying (the daemon carries on)",
                    where,
                    "lost" if self.connected.is_set() else "unavailable",
                    exc,
                    extra={"ERROR_CODE": "mqtt", "SOURCE": "mqtt"},
                )
                failures += 1
            except (OSError, ValueError) as exc:  # a CA file gone, a bad TLS setting
                log.warning(
                    "mqtt: cannot connect to %s: %s", where, exc, extra={"ERROR_CODE": "mqtt"}
                )
                failures += 1
            except Exception:  # a bug must not end the bridge for good: log it, go on
                log.exception("mqtt: the bridge failed; retrying", extra={"ERROR_CODE": "mqtt"})
                failures += 1
            finally:
                self._client = None
                self.connected.clear()
            if self._closing:
                return
            await asyncio.sleep(next(delays))

    async def _connected(self, client: aiomqtt.Client, where: str) -> None:
        """Subscribe, remember the broker (before announcing: whatever gets announced can be
        cleared later), announce, and only then count as connected."""
        await client.subscribe([(t, 1) for t in (*self.topics.commands, self.topics.ha_status)])
        topics = (*self.configs, self.topics.availability, self.topics.state, self.topics.info)
        broker = replace(self.broker, topics=tuple(topics))
        try:
            await asyncio.to_thread(record.save, self.cfg.state_dir, broker)
        except OSError as exc:
            log.warning("mqtt: cannot write %s: %s", record.RECORD_NAME, exc)
        await self._publish_all(client)
        self.connects += 1
        self.connected.set()
        log.info(
            "mqtt: connected to %s as %s; announced to Home Assistant under %s/",
            where,
            self.client_id,
            self.topics.prefix,
            extra={"SOURCE": "mqtt"},
        )

    async def _publish_all(self, client: aiomqtt.Client) -> None:
        await self._refresh()
        for topic, payload in self.configs.items():
            await client.publish(topic, encode(payload), qos=1, retain=True)
        await client.publish(self.topics.info, info_payload(self.info), qos=1, retain=True)
        await client.publish(self.topics.availability, ONLINE, qos=1, retain=True)
        self._published = state_payload(self.values)
        await client.publish(self.topics.state, self._published, qos=1, retain=True)

    async def _serve(self, client: aiomqtt.Client) -> None:
        helpers = [
            asyncio.create_task(self._writer(client), name="mqtt-writer"),
            asyncio.create_task(self._refresher(), name="mqtt-refresh"),
        ]
        try:
            async for message in client.messages:
                await self._on_message(client, message)
            raise aiomqtt.MqttError("the message stream ended")
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _writer(self, client: aiomqtt.Client) -> None:
        """Publish the state whenever it differs from what was published last (a change
        that came between the announcement and this task's start included)."""
        while True:
            payload = state_payload(self.values)
            if payload != self._published:
                self._published = payload
                await client.publish(self.topics.state, payload, qos=1, retain=True)
            await self._changed.wait()
            self._changed.clear()

    async def _refresher(self) -> None:
        while True:
            await asyncio.sleep(_REFRESH_S)
            await self._refresh()

    async def _refresh_later(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self._refresh()

    async def _refresh(self) -> None:
        """Re-read what no action reports: today's cost, the running timers, the volume."""
        changes: dict[str, Any] = {}
        ledger = self.ledger()
        if ledger is not None:
            try:
                totals = await ledger.totals(dt.datetime.now(dt.UTC))
                changes["cost_today_usd"] = totals.day_usd
            except Exception:  # a locked or closed ledger: keep the last figure
                log.debug("mqtt: ledger unreadable", exc_info=True)
        if self.timers is not None:
            changes["timers"] = _running_timers(self.timers)
        if self.volume is not None:
            changes["volume_pct"] = self.volume.percent
        self._set(**changes)

    # -- commands ------------------------------------------------------------------------------
    async def _on_message(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else b""
        if topic == self.topics.ha_status:
            now = self.clock()
            if payload.strip() == b"online" and now - self._announced_at >= _REANNOUNCE_MIN_S:
                self._announced_at = now
                log.info(
                    "mqtt: Home Assistant is online; announcing again", extra={"SOURCE": "mqtt"}
                )
                await self._publish_all(client)
            return
        if message.retain:
            self._reject(topic, "a retained command (stale; commands must not be retained)")
            return
        cmd = parse(
            self.topics,
            topic,
            payload,
            max_volume_pct=self.max_volume_pct,
            max_chars=self.cfg.mqtt.announce_max_chars,
        )
        if isinstance(cmd, Rejected):
            self._reject(topic, cmd.reason)
            return
        self.commands_done += 1
        fields = {"SOURCE": "mqtt"}
        match cmd:
            case SetMute(on=on):
                muted = (
                    self._mute_target
                    if self._mute_target is not None
                    else (self.values.state is State.MUTED)
                )
                log.info("mqtt: mute %s", "on" if on else "off", extra=fields)
                if muted != on:
                    self._mute_target = on
                    self._post(MuteToggle())
                else:
                    self._changed.set()  # confirm the state Home Assistant may have guessed
            case SetVolume(percent=percent):
                log.info("mqtt: volume %d %%", percent, extra=fields)
                self._spawn(self._set_volume(percent))
            case StartConversation():
                log.info("mqtt: start conversation", extra=fields)
                self._post(TalkPressed())
            case Speak(text=text, start_conversation=listen):
                if not self.gate.allow(self.clock()):
                    self._reject(
                        topic, f"announcement dropped: more than {self.gate.per_minute} a minute"
                    )
                    return
                log.info(
                    "mqtt: announcement (%d characters)%s",
                    len(text),
                    ", then listening" if listen else "",
                    extra=fields,
                )
                self._post(Announce(text, "mqtt", start_conversation=listen))

    async def _set_volume(self, percent: int) -> None:
        if self.volume is None:
            return
        try:
            await self.volume.set(percent=percent)
        except Exception as exc:
            log.warning("mqtt: volume not set: %s", exc, extra={"ERROR_CODE": "mqtt"})
        self._set(volume_pct=self.volume.percent)

    def _reject(self, topic: str, reason: str) -> None:
        """Log a rejected command, at most a few a minute (a flood must not flood the journal)."""
        self.rejected += 1
        now = self.clock()
        self._reject_window = [t for t in self._reject_window if now - t < 60.0]
        if len(self._reject_window) >= _REJECT_LOGS_PER_MIN:
            self._suppressed += 1
            return
        self._reject_window.append(now)
        more = f" ({self._suppressed} more ignored before this)" if self._suppressed else ""
        self._suppressed = 0
        log.warning(
            "mqtt: ignored a message on %s: %s%s",
            topic[:120],
            reason,
            more,
            extra={"SOURCE": "mqtt", "ERROR_CODE": "bad_command"},
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _wake_word(cfg: Config) -> str:
    """The wake models by name (a custom model's path shows as its file name)."""
    names = [Path(m).stem if "/" in m else m for m in cfg.wake.models]
    return f"{', '.join(names)} ({cfg.wake.engine})"


def _running_timers(timers: TimerService) -> tuple[tuple[str, str, str], ...]:
    """(label, kind, local due time) of each timer and alarm, soonest first."""
    from edge_agent.tools.sanitize import clean_text

    zone = timers.book.zone
    return tuple(
        (
            clean_text(e.label, 40),
            e.kind,
            dt.datetime.fromtimestamp(e.due_at_s, zone).isoformat(timespec="seconds"),
        )
        for e in timers.book.entries  # a property: soonest first
    )
