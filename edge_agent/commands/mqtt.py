"""`edge-agent mqtt`: the device's topics, and clearing it from Home Assistant."""

from __future__ import annotations

import argparse
import sys

from edge_agent.commands.common import add_common

ORDER = 14

DESCRIPTION = """\
The speaker as a device in Home Assistant over MQTT discovery ([mqtt], docs/mqtt.md).

  topics   print this device's topics: the command topics an automation can publish to
           (mute ON/OFF, volume 0..max, start conversation PRESS, notify text, announce
           JSON) and where its discovery configs, state and availability are retained.
  forget   remove the device from Home Assistant: publish an empty retained message on
           every discovery config, state and availability topic it announced, so Home
           Assistant deletes its entities. With [mqtt] in the config it uses that broker;
           without it, the broker remembered in <daemon.state_dir>/mqtt-announced.json from
           the last announcement. The daemon does the same by itself when it starts without
           an enabled [mqtt] section (if the broker can be reached then).

Run forget as the service user (sudo -u edge-agent edge-agent mqtt forget) and stop the daemon
first if [mqtt] is still enabled, or it announces the device again at its next connect.
Exit codes: 0 done, 1 nothing to clear, 69 the broker could not be reached or refused us.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "mqtt",
        help="the device in Home Assistant over MQTT: its topics, or forget it",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(parser)
    parser.add_argument("action", choices=("topics", "forget"), help="what to do (see above)")
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=10.0,
        metavar="S",
        help="cap on connecting and clearing, s (default: 10.0)",
    )
    parser.set_defaults(func=_mqtt)


def _mqtt(args: argparse.Namespace) -> int:
    from edge_agent.commands.common import load

    cfg = load(args)
    if args.action == "topics":
        return _topics(cfg)
    return _forget(cfg, args.timeout_s)


def _topics(cfg: object) -> int:
    from edge_agent.config import Config
    from edge_agent.mqtt.forget import configured_broker
    from edge_agent.mqtt.topics import topics_for

    assert isinstance(cfg, Config)
    if not cfg.mqtt.enabled:
        print("[mqtt] is not enabled in the config (docs/mqtt.md)", file=sys.stderr)
        return 1
    t = topics_for(cfg.mqtt)
    print(f"device id        {t.node_id}")
    print(f"mute             {t.mute_set}  (ON / OFF)")
    print(f"volume           {t.volume_set}  (0..{cfg.volume.max_pct})")
    print(f"start talking    {t.conversation_press}  (PRESS)")
    print(f"notify           {t.notify}  (the text to say)")
    print(f'announce         {t.announce}  ({{"text": "...", "start_conversation": true}})')
    print(f"state            {t.state}  (retained JSON)")
    print(f"availability     {t.availability}  (online / offline)")
    for topic in configured_broker(cfg).topics:
        if topic.endswith("/config"):
            print(f"discovery        {topic}")
    return 0


def _forget(cfg: object, timeout_s: float) -> int:
    import asyncio
    from dataclasses import replace

    import aiomqtt

    from edge_agent.config import Config
    from edge_agent.mqtt import record
    from edge_agent.mqtt.forget import clear, configured_broker

    assert isinstance(cfg, Config)
    remembered = record.load(cfg.state_dir)
    if cfg.mqtt.host:
        broker = configured_broker(cfg)
        # enabled = false leaves the password file unread by the config parser: read it here
        password = cfg.mqtt.password.reveal() if cfg.mqtt.enabled else None
        if remembered is not None:  # what it announced last, too (e.g. another client id)
            extra = tuple(t for t in remembered.topics if t not in broker.topics)
            broker = replace(broker, topics=broker.topics + extra)
    elif remembered is not None:
        broker, password = remembered, None
    else:
        print(
            "nothing to forget: no [mqtt] host in the config and no record of an announcement "
            f"in {cfg.state_dir / record.RECORD_NAME}",
            file=sys.stderr,
        )
        return 1
    where = f"{broker.host}:{broker.port}"
    try:
        n = asyncio.run(clear(broker, password, timeout_s=timeout_s))
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        print(
            f"error: cannot clear the device on {where}: {exc or type(exc).__name__}",
            file=sys.stderr,
        )
        return 69
    record.delete(cfg.state_dir)
    print(f"cleared {n} retained topic(s) on {where}: Home Assistant removes the device")
    return 0
