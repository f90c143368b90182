"""The doctor's MQTT line, pure."""

from __future__ import annotations

from edge_agent.doctor import Status
from edge_agent.mqtt.verdict import mqtt_result


def test_connected_with_configs_is_ok() -> None:
    r = mqtt_result("b:1883", "", "", prefix="homeassistant", configs_seen=12, ours=True)
    assert r.status is Status.OK and "12 discovery config(s)" in r.detail
    assert "this device announced" in r.detail
    r = mqtt_result("b:1883", "", "", prefix="homeassistant", configs_seen=3, ours=False)
    assert r.status is Status.OK and "not announced yet" in r.detail


def test_an_empty_prefix_warns_about_the_prefix() -> None:
    r = mqtt_result("b:1883", "", "", prefix="hass", configs_seen=0, ours=False)
    assert r.status is Status.WARN and "'hass/'" in r.detail
    assert "mqtt.discovery_prefix" in r.hint


def test_failures_name_the_key_to_fix() -> None:
    cases = {
        "auth": "mqtt.username",
        "refused": "mqtt.port",
        "dns": "mqtt.host",
        "tls": "mqtt.tls",
        "timeout": "mqtt.tls.enabled",
        "unreachable": "mqtt.host",
    }
    for code, key in cases.items():
        r = mqtt_result(
            "b:1883", code, "detail", prefix="homeassistant", configs_seen=0, ours=False
        )
        assert r.status is Status.FAIL and key in r.hint, code
        assert r.detail == "b:1883: detail"
