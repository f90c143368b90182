"""Home Assistant's MQTT discovery configs for this device. Pure.

Each entity is one retained JSON config at ``<prefix>/<component>/<node_id>/<object_id>/config``
using only keys Home Assistant documents for that component (MQTT discovery, and the pages of
the sensor, switch, number, button and notify integrations; tests/mqtt checks the payloads
against those lists). All entities share one ``device`` (so they appear as one device), one
availability topic (``online``/``offline``, the offline sent by the broker as our last will),
and read their value from the one state topic with a ``value_template``.

An empty retained payload on a config topic removes the entity (`edge_agent.mqtt.forget`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from edge_agent.mqtt.topics import Topics
from edge_agent.mqtt.values import STATES

__all__ = ["OFFLINE", "ONLINE", "DeviceInfo", "configs", "encode", "info_payload"]

ONLINE: Final = "online"
OFFLINE: Final = "offline"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What Home Assistant shows about the device."""

    name: str
    version: str
    wake_word: str
    model: str


def _common(t: Topics, info: DeviceInfo, object_id: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "unique_id": f"{t.node_id}_{object_id}",
        "availability_topic": t.availability,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": {
            "identifiers": [t.node_id],
            "name": info.name,
            "manufacturer": "edge-agent",
            "model": "voice satellite",
            "sw_version": info.version,
        },
        "origin": {"name": "edge-agent", "sw_version": info.version},
    }


def _template(path: str) -> str:
    return "{{ value_json." + path + " }}"


def _state(path: str) -> dict[str, Any]:
    return {"state_topic": "", "value_template": _template(path)}


def configs(t: Topics, info: DeviceInfo, *, max_volume_pct: int) -> dict[str, dict[str, Any]]:
    """Every discovery config of the device: its topic → its payload."""
    out: dict[str, dict[str, Any]] = {}

    def add(component: str, object_id: str, name: str, **keys: Any) -> None:
        payload = _common(t, info, object_id, name)
        for key, value in keys.items():
            payload[key] = t.state if key == "state_topic" and value == "" else value
        out[t.discovery(component, object_id)] = payload

    add(
        "sensor",
        "state",
        "State",
        **_state("state"),
        device_class="enum",
        options=list(STATES),
        icon="mdi:account-voice",
    )
    add(
        "switch",
        "mute",
        "Mute",
        **_state("muted"),
        command_topic=t.mute_set,
        payload_on="ON",
        payload_off="OFF",
        state_on="ON",
        state_off="OFF",
        icon="mdi:microphone-off",
    )
    add(
        "number",
        "volume",
        "Volume",
        **_state("volume"),
        command_topic=t.volume_set,
        min=0,
        max=max_volume_pct,
        step=1,
        mode="slider",
        unit_of_measurement="%",
        icon="mdi:volume-high",
    )
    add(
        "button",
        "start_conversation",
        "Start conversation",
        command_topic=t.conversation_press,
        payload_press="PRESS",
        icon="mdi:microphone-message",
    )
    add("notify", "announce", "Announce", command_topic=t.notify, icon="mdi:bullhorn")
    add(
        "sensor",
        "latency",
        "Last turn latency",
        **_state("latency_ms"),
        device_class="duration",
        state_class="measurement",
        unit_of_measurement="ms",
        icon="mdi:timer-sand",
    )
    add(
        "sensor",
        "cost_today",
        "Cost today",
        **_state("cost_today_usd"),
        device_class="monetary",
        state_class="total",
        unit_of_measurement="USD",
        suggested_display_precision=2,
    )
    add(
        "sensor",
        "timers",
        "Running timers",
        **_state("timers"),
        json_attributes_topic=t.state,
        json_attributes_template="{{ {'timers': value_json.timer_list} | tojson }}",
        state_class="measurement",
        icon="mdi:timer-outline",
    )
    for object_id, name, icon in (
        ("version", "Version", "mdi:information-outline"),
        ("wake_word", "Wake word", "mdi:account-voice"),
        ("model", "Model", "mdi:brain"),
    ):
        add(
            "sensor",
            object_id,
            name,
            state_topic=t.info,
            value_template=_template(object_id),
            entity_category="diagnostic",
            icon=icon,
        )
    return out


def info_payload(info: DeviceInfo) -> bytes:
    """The retained diagnostics document the version, wake word and model sensors read."""
    return encode({"version": info.version, "wake_word": info.wake_word, "model": info.model})


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
