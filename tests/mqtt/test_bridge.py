"""The bridge inside a real App (the real turn core) against a real mosquitto: what the broker
holds after it announced, commands turned into core events, reconnects, clearing."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.app import App
from edge_agent.config import Config, DaemonConfig, MqttConfig, Secret
from edge_agent.mqtt import record
from edge_agent.mqtt.bridge import MqttBridge
from edge_agent.mqtt.forget import ForgetOnStart
from edge_agent.states import State, TalkPressed
from edge_agent.system.notify import Notifier

from .conftest import Broker, wait_until


def mqtt_config(broker: Broker, tmp_path: Path, **kw: object) -> Config:
    m = MqttConfig(
        enabled=True,
        host=broker.host,
        port=broker.port,
        username=broker.user,
        password_file=str(broker.password_file),
        client_id="test-speaker",
        **kw,  # type: ignore[arg-type]
    )
    m = dataclasses.replace(m, password=Secret(broker.password))
    return Config(
        mqtt=m, daemon=DaemonConfig(state_dir=str(tmp_path / "state"), cache_dir=str(tmp_path))
    )


@contextlib.asynccontextmanager
async def running(cfg: Config, **kw: object) -> AsyncIterator[tuple[App, MqttBridge]]:
    bridge = MqttBridge(cfg, hostname="pi", **kw)  # type: ignore[arg-type]
    app = App(cfg, components=[bridge], notifier=Notifier(env={}), handle_signals=False)
    task = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        yield app, bridge
    finally:
        app.stop("test over")
        assert await asyncio.wait_for(task, 10) == 0


async def state_doc(broker: Broker, bridge: MqttBridge) -> dict:  # type: ignore[type-arg]
    got = await broker.retained(bridge.topics.state, 0.3)
    return json.loads(got[bridge.topics.state])


async def test_start_never_waits_for_the_broker(tmp_path: Path, broker: Broker) -> None:
    broker.stop()
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (app, bridge):
        assert app.ready.is_set() and not bridge.connected.is_set()
        assert app.is_healthy()
        broker.start()  # the broker comes later: the bridge finds it
        await asyncio.wait_for(bridge.connected.wait(), 15)
        held = await broker.retained("#")
        assert held[bridge.topics.availability] == b"online"


async def test_announces_the_device_retained(tmp_path: Path, broker: Broker) -> None:
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (_app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        held = await broker.retained("#")
        for topic, payload in bridge.configs.items():
            assert json.loads(held[topic]) == payload  # what Home Assistant will read
        assert held[bridge.topics.availability] == b"online"
        info = json.loads(held[bridge.topics.info])
        assert set(info) == {"version", "wake_word", "model"} and info["model"]
        assert json.loads(held[bridge.topics.state])["state"] == "idle"
        announced = record.load(cfg.state_dir)
        assert announced is not None and announced.host == broker.host
        assert set(announced.topics) >= set(bridge.configs)
        text = (cfg.state_dir / record.RECORD_NAME).read_text()
        assert broker.password not in text  # the path of the file, never the password
    held = await broker.retained(bridge.topics.availability)
    assert held[bridge.topics.availability] == b"offline"  # said on the way out


async def test_mute_switch_is_the_mute_button(tmp_path: Path, broker: Broker) -> None:
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        await broker.publish(bridge.topics.mute_set, "ON")
        await wait_until(lambda: app.state is State.MUTED, 5, "muted")
        await broker.publish(bridge.topics.mute_set, "ON")  # already on: no second toggle
        await asyncio.sleep(0.3)
        assert app.state is State.MUTED
        doc = await state_doc(broker, bridge)
        assert (doc["state"], doc["muted"]) == ("muted", "ON")
        await broker.publish(bridge.topics.mute_set, "OFF")
        await wait_until(lambda: app.state is State.IDLE, 5, "unmuted")
        await wait_until(lambda: bridge.values.state is State.IDLE, 5, "idle published")
        await asyncio.sleep(0.2)
        assert (await state_doc(broker, bridge))["muted"] == "OFF"


async def test_a_retained_command_is_not_obeyed(tmp_path: Path, broker: Broker) -> None:
    cfg = mqtt_config(broker, tmp_path)
    probe = MqttBridge(cfg, hostname="pi")
    await broker.publish(probe.topics.mute_set, "ON", retain=True)  # a stale command
    async with running(cfg) as (app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        await wait_until(lambda: bridge.rejected >= 1, 5, "the retained command rejected")
        assert app.state is State.IDLE and bridge.commands_done == 0


async def test_home_assistant_online_gets_the_discovery_again(
    tmp_path: Path, broker: Broker
) -> None:
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (_app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        topic = next(iter(bridge.configs))
        got: list[bytes] = []
        async with broker.client() as c:
            await c.subscribe(topic, qos=1)
            await c.publish(bridge.topics.ha_status, "online", qos=1)
            async with asyncio.timeout(5):
                async for m in c.messages:
                    got.append(bytes(m.payload))  # type: ignore[arg-type]
                    if not m.retain:  # the fresh copy, not the retained one
                        break
        assert json.loads(got[-1]) == bridge.configs[topic]


async def test_broker_restart_reconnects_and_publishes_again(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        await broker.publish(bridge.topics.mute_set, "ON")
        await wait_until(lambda: app.state is State.MUTED, 5, "muted")
        broker.stop()  # persistence off: every retained message is gone with it
        await wait_until(lambda: not bridge.connected.is_set(), 10, "the loss noticed")
        assert app.is_healthy() and app.state is State.MUTED
        await asyncio.sleep(1.0)  # a few failed attempts
        broker.start()
        await wait_until(lambda: bridge.connects == 2, 20, "a reconnect")
        held = await broker.retained("#")
        assert held[bridge.topics.availability] == b"online"
        assert json.loads(held[bridge.topics.state])["state"] == "muted"
        assert set(bridge.configs) <= set(held)
        await broker.publish(bridge.topics.mute_set, "OFF")  # commands work again
        await wait_until(lambda: app.state is State.IDLE, 5, "unmuted")
    warnings = [r for r in caplog.records if "mqtt: broker" in r.getMessage()]
    assert warnings and len(warnings) <= 3  # the retries are not a flood
    assert broker.password not in caplog.text


async def test_volume_goes_through_the_volume_control(tmp_path: Path, broker: Broker) -> None:
    from edge_agent.assistant.assembly import build_assistant

    cfg = mqtt_config(broker, tmp_path)
    assistant = build_assistant(cfg, None)
    gains: list[float] = []
    assistant.volume.on_change(gains.append)
    try:
        async with running(cfg, volume=assistant.volume, timers=assistant.timers) as (_app, bridge):
            await asyncio.wait_for(bridge.connected.wait(), 10)
            await broker.publish(bridge.topics.volume_set, "35")
            await wait_until(lambda: assistant.volume.percent == 35, 5, "the volume set")
            assert gains[-1] == pytest.approx(0.35)
            await wait_until(lambda: bridge.values.volume_pct == 35, 5, "volume published")
            await asyncio.sleep(0.2)
            assert (await state_doc(broker, bridge))["volume"] == 35
            await broker.publish(bridge.topics.volume_set, "250")  # out of range: ignored
            await asyncio.sleep(0.3)
            assert assistant.volume.percent == 35
    finally:
        await assistant.aclose()
    # saved like a spoken "volume 35": a new assistant reads it back
    again = build_assistant(cfg, None)
    try:
        await again.volume.load()
        assert again.volume.percent == 35
    finally:
        await again.aclose()


async def test_forget_clears_every_retained_topic(tmp_path: Path, broker: Broker) -> None:
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (_app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
    ours = f"{bridge.topics.prefix}/+/{bridge.topics.node_id}/+/config"
    assert len(await broker.retained(ours)) == len(bridge.configs)
    from edge_agent.cli import main

    path = tmp_path / "config.toml"
    path.write_text(
        f"[daemon]\nstate_dir = '{cfg.state_dir}'\n"
        f"[mqtt]\nenabled = true\nhost = '{broker.host}'\nport = {broker.port}\n"
        f"username = '{broker.user}'\npassword_file = '{broker.password_file}'\n"
        "client_id = 'test-speaker'\n"
    )
    code = await asyncio.to_thread(main, ["mqtt", "forget", "--config", str(path)])
    assert code == 0
    assert await broker.retained(ours) == {}
    held = await broker.retained(f"{bridge.topics.base}/#")
    assert held == {}
    assert record.load(cfg.state_dir) is None


async def test_without_mqtt_the_daemon_clears_what_it_announced(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
    caplog.set_level(logging.INFO)
    plain = Config(daemon=cfg.daemon)  # the [mqtt] section removed
    forget = ForgetOnStart(plain)
    app = App(plain, components=[forget], notifier=Notifier(env={}), handle_signals=False)
    task = asyncio.create_task(app.run())
    await asyncio.wait_for(app.ready.wait(), 10)
    await wait_until(lambda: record.load(cfg.state_dir) is None, 10, "the record removed")
    app.stop("test over")
    assert await task == 0
    assert await broker.retained(f"{bridge.topics.prefix}/#") == {}
    assert any("cleared" in r.getMessage() for r in caplog.records)


async def test_garbage_breaks_nothing(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        posted: list[object] = []
        real_post = app.post

        def spy(event: object) -> None:
            posted.append(event)
            real_post(event)  # type: ignore[arg-type]

        bridge._post = spy
        from .garbage import flood

        await flood(broker, bridge, 1000)
        assert bridge.rejected == 1000
        assert bridge.commands_done == 0 and posted == []
        assert app.state is State.IDLE
        await broker.publish(bridge.topics.mute_set, "ON")  # still obeys a real command
        await wait_until(lambda: app.state is State.MUTED, 5, "muted after the garbage")
    noise = [r for r in caplog.records if r.name.startswith("edge_agent.mqtt") and r.levelno >= 30]
    assert 1 <= len(noise) <= 10, [r.getMessage() for r in noise]  # logged, but no flood


async def test_a_ringing_timer_shows_as_ringing(tmp_path: Path, broker: Broker) -> None:
    from edge_agent.assistant.timers import TimerFired
    from edge_agent.config import TimersConfig

    cfg = dataclasses.replace(mqtt_config(broker, tmp_path), timers=TimersConfig(speak_label=False))
    async with running(cfg) as (app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        app.post(TimerFired(1, "timer", "tea", due_at_s=0.0))
        await wait_until(lambda: bridge.values.ringing, 5, "ringing")
        await asyncio.sleep(0.2)
        assert (await state_doc(broker, bridge))["state"] == "ringing"
        app.post(TalkPressed())  # the talk button stops the ring and opens no turn
        await wait_until(lambda: not bridge.values.ringing, 5, "the ring stopped")
        await asyncio.sleep(0.2)
        assert (await state_doc(broker, bridge))["state"] == "idle"


def test_build_app_wires_the_bridge_after_the_assistant(tmp_path: Path, broker: Broker) -> None:
    from edge_agent.pipeline.build import build_app

    cfg = mqtt_config(broker, tmp_path)
    pipeline = build_app(cfg, handle_signals=False)
    names = [c.name for c in pipeline.app.components]
    assert isinstance(pipeline.mqtt, MqttBridge)
    assert names.index("mqtt") == names.index("assistant") + 1
    assert pipeline.mqtt.volume is not None and pipeline.mqtt.timers is not None

    plain = Config(daemon=cfg.daemon)  # no [mqtt], nothing announced before: nothing added
    names = [c.name for c in build_app(plain, handle_signals=False).app.components]
    assert "mqtt" not in names and "mqtt-forget" not in names
    record.save(cfg.state_dir, record.Announced(broker.host, broker.port, topics=("a/b",)))
    pipeline = build_app(plain, handle_signals=False)
    assert pipeline.mqtt is None
    assert "mqtt-forget" in [c.name for c in pipeline.app.components]


async def test_forget_without_mqtt_uses_the_record(tmp_path: Path, broker: Broker) -> None:
    from edge_agent.cli import main

    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (_app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
    path = tmp_path / "plain.toml"
    path.write_text(f"[daemon]\nstate_dir = '{cfg.state_dir}'\n")  # [mqtt] removed
    broker.stop()
    code = await asyncio.to_thread(
        main, ["mqtt", "forget", "--config", str(path), "--timeout-s", "2"]
    )
    assert code == 69 and record.load(cfg.state_dir) is not None  # kept for the next try
    broker.start()  # persistence off: put the retained configs back as they were
    async with running(cfg) as (_app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
    assert await broker.retained(f"{bridge.topics.prefix}/#") != {}
    code = await asyncio.to_thread(main, ["mqtt", "forget", "--config", str(path)])
    assert code == 0 and record.load(cfg.state_dir) is None
    assert await broker.retained("#") == {}
    code = await asyncio.to_thread(main, ["mqtt", "forget", "--config", str(path)])
    assert code == 1  # nothing left to forget


async def test_the_last_will_says_offline_when_the_link_dies(
    tmp_path: Path, broker: Broker
) -> None:
    import socket as socketlib

    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (_app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        seen: list[bytes] = []
        async with broker.client() as c:
            await c.subscribe(bridge.topics.availability, qos=1)
            assert bridge._client is not None
            sock = bridge._client._client.socket()  # paho's socket: cut it without a goodbye
            sock.shutdown(socketlib.SHUT_RDWR)
            async with asyncio.timeout(15):
                async for m in c.messages:
                    seen.append(bytes(m.payload))  # type: ignore[arg-type]
                    if seen[-2:] == [b"offline", b"online"]:
                        break
        await wait_until(lambda: bridge.connects == 2, 5, "the reconnect counted")
    assert seen[0] == b"online"  # the retained one, then the will, then the reconnect
