"""Discovery configs, checked against the keys Home Assistant documents (tests/mqtt/ha_schema.py)."""

from __future__ import annotations

import json
import re

import pytest

from edge_agent.config import MqttConfig
from edge_agent.mqtt.discovery import DeviceInfo, configs, encode
from edge_agent.mqtt.topics import node_id_for, topics_for
from edge_agent.mqtt.values import STATES, DeviceValues, state_payload
from edge_agent.states import State

from . import ha_schema

T = topics_for(MqttConfig(enabled=True, host="broker"), hostname="kitchen-pi")
INFO = DeviceInfo("Kitchen speaker", "1.2.3", "hey_jarvis (openwakeword)", "gpt-realtime-2.1")
ALL = configs(T, INFO, max_volume_pct=80)


def by_object(object_id: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    [(topic, payload)] = [(t, p) for t, p in ALL.items() if t.split("/")[-2] == object_id]
    return topic.split("/")[1], payload


def test_topics_follow_home_assistants_discovery_format() -> None:
    assert T.node_id == "edge-agent-kitchen-pi" and T.base == "edge-agent/edge-agent-kitchen-pi"
    for topic in ALL:
        assert re.fullmatch(
            r"homeassistant/(sensor|switch|number|button|notify)/edge-agent-kitchen-pi/[a-z_]+/config",
            topic,
        ), topic
    assert node_id_for("", "pi.local") == "edge-agent-pi-local"
    assert node_id_for("my speaker!", "x") == "my-speaker"


def test_the_device_has_every_entity_the_issue_lists() -> None:
    kinds = {topic.split("/")[-2]: topic.split("/")[1] for topic in ALL}
    assert kinds == {
        "state": "sensor",
        "mute": "switch",
        "volume": "number",
        "start_conversation": "button",
        "announce": "notify",
        "latency": "sensor",
        "cost_today": "sensor",
        "timers": "sensor",
        "version": "sensor",
        "wake_word": "sensor",
        "model": "sensor",
    }


@pytest.mark.parametrize("topic", sorted(ALL))
def test_each_payload_uses_only_documented_keys(topic: str) -> None:
    component = topic.split("/")[1]
    payload = ALL[topic]
    allowed = ha_schema.ENTITY | ha_schema.COMPONENT[component]
    assert set(payload) <= allowed, set(payload) - allowed
    assert ha_schema.REQUIRED[component] <= set(payload)
    assert set(payload["device"]) <= ha_schema.DEVICE
    assert set(payload["origin"]) <= ha_schema.ORIGIN
    assert payload["device"]["identifiers"] == ["edge-agent-kitchen-pi"]
    assert payload["availability_topic"] == T.availability
    assert (payload["payload_available"], payload["payload_not_available"]) == ("online", "offline")
    assert payload.get("entity_category", "diagnostic") in ha_schema.ENTITY_CATEGORIES
    assert "#" not in json.dumps(payload) and "+" not in payload.get("command_topic", "")
    json.loads(encode(payload))  # plain JSON


def test_unique_ids_are_unique_and_stable() -> None:
    ids = [p["unique_id"] for p in ALL.values()]
    assert len(set(ids)) == len(ids)
    assert by_object("mute")[1]["unique_id"] == "edge-agent-kitchen-pi_mute"


def test_sensor_rules_home_assistant_enforces() -> None:
    _, state = by_object("state")
    assert state["device_class"] == "enum" and state["options"] == list(STATES)
    assert "state_class" not in state and "unit_of_measurement" not in state
    assert set(STATES) == {"idle", "listening", "thinking", "speaking", "muted", "error", "ringing"}
    _, latency = by_object("latency")
    assert latency["device_class"] == "duration" and latency["unit_of_measurement"] in (
        ha_schema.DURATION_UNITS
    )
    _, cost = by_object("cost_today")
    assert cost["device_class"] == "monetary" and cost["state_class"] == "total"
    for _, p in ALL.items():
        if "state_class" in p:
            assert p["state_class"] in ha_schema.SENSOR_STATE_CLASSES
    for object_id in ("version", "wake_word", "model"):
        assert by_object(object_id)[1]["entity_category"] == "diagnostic"
        assert by_object(object_id)[1]["state_topic"] == T.info


def test_controls_point_at_the_command_topics() -> None:
    _, mute = by_object("mute")
    assert mute["command_topic"] == T.mute_set and (mute["payload_on"], mute["payload_off"]) == (
        "ON",
        "OFF",
    )
    _, volume = by_object("volume")
    assert (volume["min"], volume["max"], volume["step"]) == (0, 80, 1)
    assert volume["mode"] in ha_schema.NUMBER_MODES and volume["command_topic"] == T.volume_set
    _, button = by_object("start_conversation")
    assert button["command_topic"] == T.conversation_press and button["payload_press"] == "PRESS"
    _, notify = by_object("announce")
    assert notify["command_topic"] == T.notify


def test_every_template_reads_a_key_the_state_document_has() -> None:
    doc = json.loads(state_payload(DeviceValues(State.MUTED, volume_pct=40, latency_ms=900)))
    info = {"version", "wake_word", "model"}
    for p in ALL.values():
        for key in ("value_template",):
            if key in p:
                [name] = re.findall(r"value_json\.(\w+)", p[key])
                assert name in doc or name in info, name
    assert doc["state"] == "muted" and doc["muted"] == "ON" and doc["volume"] == 40


def test_ringing_shows_instead_of_idle() -> None:
    doc = json.loads(state_payload(DeviceValues(State.IDLE, ringing=True)))
    assert doc["state"] == "ringing"
    doc = json.loads(state_payload(DeviceValues(State.SPEAKING, ringing=True)))
    assert doc["state"] == "speaking"  # the label being said
