"""The doctor's MQTT line from what the probe saw. Pure.

The probe (`edge_agent.probes.mqtt`) reports a code — "" (connected), ``refused``,
``unreachable``, ``dns``, ``tls``, ``auth``, ``timeout``, ``error`` — and, once connected, how
many retained discovery configs it saw under the prefix within a short wait and whether this
device's own are among them. Home Assistant's MQTT integration keeps every device's config
retained under its prefix, so an empty prefix on a broker means a wrong prefix or a broker Home
Assistant does not use.
"""

from __future__ import annotations

from typing import Final

from edge_agent.doctor import CheckResult, fail, ok, warn

__all__ = ["CHECK", "mqtt_result"]

CHECK: Final = "mqtt"

_HINTS: Final = {
    "refused": "nothing listens there: check mqtt.host and mqtt.port (1883, or 8883 with TLS) "
    "and that the broker runs (Home Assistant: Settings → Add-ons → Mosquitto broker)",
    "unreachable": "the host cannot be reached: check mqtt.host, the network and firewalls",
    "dns": "the host name does not resolve: check mqtt.host (try its IP address)",
    "tls": "the TLS handshake failed: check mqtt.tls (ca_file of the broker's CA, the port)",
    "auth": "the broker refused the credentials: check mqtt.username and the password in "
    "mqtt.password_file (Home Assistant: a user for the Mosquitto add-on)",
    "timeout": "the broker did not answer in time: check mqtt.host/port (a TLS port without "
    "mqtt.tls.enabled hangs like this)",
}


def mqtt_result(
    where: str, code: str, detail: str, *, prefix: str, configs_seen: int, ours: bool
) -> CheckResult:
    """`where` = host:port (never a credential); `detail` = what failed, already redacted."""
    if code:
        hint = _HINTS.get(code, "see the broker's log")
        return fail(CHECK, f"{where}: {detail}", hint)
    if configs_seen == 0:
        return warn(
            CHECK,
            f"{where}: connected, but nothing is announced under '{prefix}/'",
            "check mqtt.discovery_prefix against Home Assistant's MQTT integration "
            "(Settings → Devices & services → MQTT → Configure) and that Home Assistant uses "
            "this broker; the device appears once the daemon runs",
        )
    mine = "this device announced" if ours else "this device not announced yet (start the daemon)"
    return ok(
        CHECK,
        f"{where}: connected, credentials accepted; {configs_seen} discovery config(s) under "
        f"'{prefix}/', {mine}",
    )
