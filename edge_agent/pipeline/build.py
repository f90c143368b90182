"""Builds the daemon: the real components wired together inside one `App`.

Components: speaker, echo canceller (with audio.echo_cancel), mic + wake word (listener), tool
runner, speech link (the Realtime client), streamer, status LEDs/buttons, cost keeper,
assistant, with [mqtt] the MQTT bridge (the device in Home Assistant; without it, a one-off
clearing of what an earlier one announced), the ring's speech watch and the per-turn clock.
The App's turn core decides; each component carries out the action types it declares
(`handlers()`), so the order below is only the start order (the speaker and mic first: READY
means the daemon can hear and speak) and the reverse close order.
`edge-agent run` and `edge-agent simulate` both call `build_app`; they differ only in the
config (devices, URLs) and injected backends.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edge_agent.app import App, Component
from edge_agent.audio.devices import open_pyaudio
from edge_agent.config import Config
from edge_agent.pipeline.echo import EchoControl
from edge_agent.pipeline.link import SpeechLink
from edge_agent.pipeline.listener import Listener
from edge_agent.pipeline.speaker import Speaker
from edge_agent.pipeline.status import StatusPanel
from edge_agent.pipeline.streamer import Streamer
from edge_agent.pipeline.toolrunner import ToolRunner
from edge_agent.pipeline.usage import UsageKeeper, response_cost
from edge_agent.realtime.client import RealtimeClient
from edge_agent.system.notify import Notifier
from edge_agent.turn.turnlog import TurnLog
from edge_agent.wake.models import ModelPaths

__all__ = ["Pipeline", "build_app"]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The built parts, for tests and `simulate` to look at."""

    app: App
    speaker: Speaker
    listener: Listener
    tools: ToolRunner
    link: SpeechLink
    streamer: Streamer
    status: StatusPanel
    client: RealtimeClient
    turns: TurnLog
    mqtt: Any = None  # the MqttBridge with [mqtt] enabled, else None
    echo: EchoControl | None = None  # audio.echo_cancel on


def build_app(
    cfg: Config,
    *,
    notifier: Notifier | None = None,
    log_level: str | None = None,
    handle_signals: bool = True,
    pa_factory: Callable[[], Any] | None = None,
    pin_factory: Any = None,
    model_paths: ModelPaths | None = None,
    extra_components: Sequence[Component] = (),
    client_options: dict[str, Any] | None = None,
) -> Pipeline:
    """The daemon for `cfg` with real components; `await pipeline.app.run()` runs it.

    Args:
        pa_factory: makes PyAudio instances (default: `open_pyaudio`, which silences ALSA's
            enumeration noise, probing only the plugin PCMs the configured devices may be).
        pin_factory: gpiozero pin factory for LEDs and buttons (None: gpiozero's choice).
        model_paths: wake model files (default: resolved from the config, verified).
        extra_components: appended after the built ones (e.g. a timeline recorder).
        client_options: extra `RealtimeClient` keyword arguments (e.g. backoff in tests).
    """
    from edge_agent.assistant.assembly import build_assistant
    from edge_agent.assistant.ring_stop import RingSpeechWatch
    from edge_agent.assistant.turn_clock import TurnClock
    from edge_agent.tools.home import build_registry
    from edge_agent.tools.http import make_http_client
    from edge_agent.tools.weather import WeatherService

    if pa_factory is None:
        keep = ((cfg.audio.input_device, "input"), (cfg.audio.output_device, "output"))
        pa_factory = functools.partial(open_pyaudio, keep=keep)
    turns = TurnLog()
    http = make_http_client(cfg.tools)
    weather = WeatherService(cfg.weather, http, timeout_s=cfg.tools.http_timeout_s)
    clock = "clock" in cfg.tools.enabled  # the time as a note per turn, not the get_time tool
    assistant = build_assistant(cfg, weather, turn_context=clock)  # home, timers, volume
    registry = build_registry(cfg, http, assistant=assistant)

    def instructions() -> str:
        return "\n\n".join(t for t in (cfg.realtime.instructions, registry.instructions()) if t)

    client = RealtimeClient(
        cfg.realtime,
        cfg.api_key,
        tools=registry.specs,  # read per session: tool sources list theirs once started
        instructions=instructions,
        **(client_options or {}),
    )
    speaker = Speaker(cfg.audio, cfg.earcons, pa_factory=pa_factory)
    assistant.volume.on_change(speaker.playback.set_volume)  # earcons and replies follow it
    listener = Listener(cfg, model_paths=model_paths, pa_factory=pa_factory)
    # between the mic and everything that hears it (wake word, streamer); starts before the mic
    echo = None
    if cfg.audio.echo_cancel != "off":
        echo = EchoControl(cfg.audio, speaker.playback, listener.capture)
    tools = ToolRunner(registry, http)
    link = SpeechLink(client)
    streamer = Streamer(listener, client, turns)
    status = StatusPanel(cfg.status, pin_factory=pin_factory)
    usage = UsageKeeper(cfg, http)
    mqtt = _mqtt_component(cfg, assistant, usage, turns)
    app = App(
        cfg,
        components=[
            speaker,
            *([echo] if echo else []),
            listener,
            tools,
            link,
            streamer,
            status,
            usage,
            assistant,
            *([mqtt] if mqtt is not None else []),
            RingSpeechWatch(listener.capture),  # speech heard while it rings stops the ring
            *([TurnClock(assistant.turn_context, client.add_note)] if clock else []),
            *extra_components,
        ],
        notifier=notifier,
        log_level=log_level,
        handle_signals=handle_signals,
        turns=turns,
        snapshots=[speaker.snapshot],
        cost_usd=response_cost(cfg),
    )
    link.bind(app.dispatch)
    registry.on_tools_changed(client.update_tools)
    bridge = mqtt if cfg.mqtt.enabled else None
    return Pipeline(
        app, speaker, listener, tools, link, streamer, status, client, turns, bridge, echo
    )


def _mqtt_component(
    cfg: Config,
    assistant: Any,
    usage: UsageKeeper,
    turns: TurnLog,
) -> Component | None:
    """The MQTT bridge with [mqtt] enabled; without it, the component that clears what an
    earlier [mqtt] announced (only when its record exists: `edge_agent.mqtt.record`)."""
    if not cfg.mqtt.enabled:
        from edge_agent.mqtt.record import RECORD_NAME

        if not (cfg.state_dir / RECORD_NAME).exists():
            return None  # aiomqtt is not even imported
        from edge_agent.mqtt.forget import ForgetOnStart

        return ForgetOnStart(cfg)
    from edge_agent.mqtt.bridge import MqttBridge

    return MqttBridge(
        cfg,
        volume=assistant.volume,
        timers=assistant.timers,
        ledger=lambda: usage.ledger,
        turns=turns,
    )
