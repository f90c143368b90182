"""Doctor probe for [mqtt]: connect with the configured credentials, then look under the
discovery prefix for retained configs (Home Assistant's and other devices') and for ours.

Connects once with its own client id (never the daemon's: the broker would drop the running
daemon's connection), subscribes for a moment, disconnects. The verdict is
`edge_agent.mqtt.verdict`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Final

from edge_agent.config import Config
from edge_agent.doctor import CheckResult, skip

__all__ = ["mqtt"]

LISTEN_S: Final = 1.0  # retained messages arrive right after the subscription


async def mqtt(cfg: Config, timeout_s: float) -> CheckResult:
    if not cfg.mqtt.enabled:
        return skip("mqtt", "not configured ([mqtt] enabled)")
    import aiomqtt

    from edge_agent.mqtt.connect import client_for
    from edge_agent.mqtt.forget import configured_broker, replace_id
    from edge_agent.mqtt.verdict import mqtt_result

    m = cfg.mqtt
    where = f"{m.host}:{m.port}"
    broker = configured_broker(cfg)
    ours = {t for t in broker.topics if t.endswith("/config")}
    seen: set[str] = set()
    code, detail = "", ""
    try:
        async with asyncio.timeout(timeout_s + LISTEN_S + 1.0):
            probe = replace_id(broker)
            client = await client_for(probe, m.password.reveal(), timeout_s=timeout_s)
            async with client:
                for pattern in ("+/+/config", "+/+/+/config"):
                    await client.subscribe(f"{m.discovery_prefix}/{pattern}", qos=0)
                try:
                    async with asyncio.timeout(LISTEN_S):
                        async for message in client.messages:
                            if message.retain and message.payload:
                                seen.add(message.topic.value)
                except TimeoutError:
                    pass
    except aiomqtt.MqttCodeError as exc:
        code, detail = _classify_code(exc)
    except aiomqtt.MqttError as exc:
        code, detail = _classify(exc)
    except TimeoutError:
        code, detail = "timeout", f"no answer in {timeout_s:g} s"
    except OSError as exc:  # the CA file
        code, detail = "tls", f"{type(exc).__name__}: {exc}"
    return mqtt_result(
        where,
        code,
        detail,
        prefix=m.discovery_prefix,
        configs_seen=len(seen),
        ours=bool(seen & ours),
    )


def _classify_code(exc: Exception) -> tuple[str, str]:
    rc = getattr(exc, "rc", None)
    value = getattr(rc, "value", rc)
    if value in (4, 5, 134, 135):  # bad user name or password / not authorised (3.1.1, 5)
        return "auth", f"credentials refused ({exc})"
    return "error", f"refused the connection ({exc})"


def _classify(exc: Exception) -> tuple[str, str]:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if isinstance(cause, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(cause, socket.gaierror):
        return "dns", f"cannot resolve the host ({cause.strerror or cause})"
    if isinstance(cause, ssl.SSLError):
        return "tls", f"TLS failed: {cause.reason or cause}"
    if isinstance(cause, TimeoutError) or "timed out" in text.lower():
        return "timeout", "no answer (timed out)"
    if isinstance(cause, OSError):
        return "unreachable", f"{cause.strerror or cause}"
    if "not authori" in text.lower() or "bad user" in text.lower():
        return "auth", f"credentials refused ({text})"
    return "error", text
