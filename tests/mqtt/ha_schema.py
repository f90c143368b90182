"""The keys Home Assistant documents for MQTT discovery configs, per component.

From Home Assistant's MQTT integration pages (www.home-assistant.io/integrations/mqtt/ for the
discovery payload, `device` and `origin` maps; sensor.mqtt, switch.mqtt, number.mqtt,
button.mqtt, notify.mqtt for each component's configuration variables) and its platform
schemas (homeassistant/components/mqtt/{sensor,switch,number,button,notify}.py: the
`PLATFORM_SCHEMA_MODERN` / `DISCOVERY_SCHEMA` keys). A key not listed here is one Home
Assistant would reject or ignore.
"""

from __future__ import annotations

from typing import Final

ENTITY: Final = frozenset(
    {
        "availability", "availability_mode", "availability_template", "availability_topic",
        "payload_available", "payload_not_available", "device", "enabled_by_default",
        "encoding", "entity_category", "entity_picture", "icon", "json_attributes_template",
        "json_attributes_topic", "name", "object_id", "default_entity_id", "qos", "unique_id",
        "origin",
    }
)  # fmt: skip

DEVICE: Final = frozenset(
    {
        "configuration_url", "connections", "hw_version", "identifiers", "manufacturer",
        "model", "model_id", "name", "serial_number", "suggested_area", "sw_version",
        "via_device",
    }
)  # fmt: skip

ORIGIN: Final = frozenset({"name", "sw_version", "support_url"})

COMPONENT: Final = {
    "sensor": frozenset(
        {
            "device_class", "expire_after", "force_update", "last_reset_value_template",
            "options", "state_class", "state_topic", "suggested_display_precision",
            "unit_of_measurement", "value_template",
        }
    ),
    "switch": frozenset(
        {
            "command_template", "command_topic", "device_class", "optimistic", "payload_off",
            "payload_on", "retain", "state_off", "state_on", "state_topic", "value_template",
        }
    ),
    "number": frozenset(
        {
            "command_template", "command_topic", "device_class", "max", "min", "mode",
            "optimistic", "payload_reset", "retain", "state_topic", "step",
            "unit_of_measurement", "value_template",
        }
    ),
    "button": frozenset(
        {"command_template", "command_topic", "device_class", "payload_press", "retain"}
    ),
    "notify": frozenset({"command_template", "command_topic", "retain"}),
}  # fmt: skip

REQUIRED: Final = {
    "sensor": {"state_topic"},
    "switch": {"command_topic"},
    "number": {"command_topic"},
    "button": {"command_topic"},
    "notify": {"command_topic"},
}

SENSOR_STATE_CLASSES: Final = frozenset({"measurement", "total", "total_increasing"})
DURATION_UNITS: Final = frozenset({"d", "h", "min", "s", "ms"})
NUMBER_MODES: Final = frozenset({"auto", "box", "slider"})
ENTITY_CATEGORIES: Final = frozenset({"config", "diagnostic"})
