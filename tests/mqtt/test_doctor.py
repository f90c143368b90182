"""`doctor`'s MQTT line against a real mosquitto: connected, credentials refused, nothing
listening, an empty discovery prefix, and our own device once announced."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from edge_agent.config import Secret
from edge_agent.doctor import Status
from edge_agent.probes.mqtt import mqtt
from edge_agent.probes.runner import DoctorOptions, run_checks

from .conftest import Broker, free_port
from .test_bridge import mqtt_config, running


async def test_empty_broker_warns_about_the_prefix(tmp_path: Path, broker: Broker) -> None:
    r = await mqtt(mqtt_config(broker, tmp_path), 3.0)
    assert r.status is Status.WARN and "nothing is announced under 'homeassistant/'" in r.detail
    assert "discovery_prefix" in r.hint


async def test_our_device_once_announced(tmp_path: Path, broker: Broker) -> None:
    cfg = mqtt_config(broker, tmp_path)
    async with running(cfg) as (_app, bridge):
        await asyncio.wait_for(bridge.connected.wait(), 10)
        r = await mqtt(cfg, 3.0)
        assert bridge.connected.is_set()  # the probe's own client id did not kick the daemon
    assert r.status is Status.OK, r
    assert f"{len(bridge.configs)} discovery config(s)" in r.detail
    assert "this device announced" in r.detail


async def test_wrong_password_is_a_credentials_failure(tmp_path: Path, broker: Broker) -> None:
    cfg = mqtt_config(broker, tmp_path)
    bad = dataclasses.replace(cfg, mqtt=dataclasses.replace(cfg.mqtt, password=Secret("nope")))
    r = await mqtt(bad, 3.0)
    assert r.status is Status.FAIL and "credentials refused" in r.detail
    assert "mqtt.username" in r.hint and "nope" not in r.detail


async def test_nothing_listening_is_refused(tmp_path: Path, broker: Broker) -> None:
    cfg = mqtt_config(broker, tmp_path)
    closed = dataclasses.replace(cfg, mqtt=dataclasses.replace(cfg.mqtt, port=free_port()))
    r = await mqtt(closed, 3.0)
    assert r.status is Status.FAIL and "connection refused" in r.detail
    assert "mqtt.port" in r.hint


async def test_the_report_never_shows_the_password(tmp_path: Path, broker: Broker) -> None:
    cfg = mqtt_config(broker, tmp_path)
    opts = DoctorOptions(
        config=cfg,
        env={},
        skip=frozenset({"audio", "network", "realtime", "model", "wake", "gpio", "devices"}),
    )
    results = await run_checks(opts)
    [line] = [r for r in results if r.check == "mqtt"]
    assert line.status is Status.WARN  # connected; nothing announced yet
    assert all(broker.password not in (r.detail + r.hint) for r in results)
