"""Builds the daemon: the real components wired together in start order, inside one `App`.

Start order (and the order components hear about each transition): speaker, mic + wake word,
tools, dialogue, streamer, status LEDs/buttons. The speaker goes first so a barge-in silences
it before the dialogue truncates; the dialogue before the streamer so a cancelled turn's input
is cleared before the new turn streams. `edge-agent run` and `edge-agent simulate` both call
`build_app`; they differ only in the config (devices, URLs) and injected backends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from edge_agent.app import App, Component
from edge_agent.audio.devices import open_pyaudio
from edge_agent.config import Config
from edge_agent.errors import EdgeAgentError
from edge_agent.pipeline.dialogue import Dialogue
from edge_agent.pipeline.listener import Listener
from edge_agent.pipeline.speaker import Speaker
from edge_agent.pipeline.status import StatusPanel
from edge_agent.pipeline.streamer import Streamer
from edge_agent.pipeline.turnlog import TurnLog
from edge_agent.realtime.client import RealtimeClient
from edge_agent.states import Action, Event, State
from edge_agent.system.notify import Notifier
from edge_agent.tools.registry import ToolRegistry
from edge_agent.wake.models import ModelPaths

__all__ = ["Pipeline", "ToolBox", "build_app", "run_daemon"]


class ToolBox:
    """The tool registry and its shared HTTP client as a component (closed after the dialogue)."""

    name = "tools"

    def __init__(self, registry: ToolRegistry, http: httpx.AsyncClient) -> None:
        self.registry = registry
        self.http = http

    async def start(self, post: Callable[[Event], None]) -> None:
        pass

    def handle(self, state: State, actions: Sequence[Action]) -> None:
        pass

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        try:
            await self.registry.aclose()
        finally:
            await self.http.aclose()


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The built parts, for tests and `simulate` to look at."""

    app: App
    speaker: Speaker
    listener: Listener
    toolbox: ToolBox
    dialogue: Dialogue
    streamer: Streamer
    status: StatusPanel
    client: RealtimeClient
    turns: TurnLog


def build_app(
    cfg: Config,
    *,
    notifier: Notifier | None = None,
    log_level: str | None = None,
    handle_signals: bool = True,
    pa_factory: Callable[[], Any] = open_pyaudio,
    pin_factory: Any = None,
    model_paths: ModelPaths | None = None,
    extra_components: Sequence[Component] = (),
    client_options: dict[str, Any] | None = None,
) -> Pipeline:
    """The daemon for `cfg` with real components; `await pipeline.app.run()` runs it.

    Args:
        pa_factory: makes PyAudio instances (the default silences ALSA's enumeration noise).
        pin_factory: gpiozero pin factory for LEDs and buttons (None: gpiozero's choice).
        model_paths: wake model files (default: resolved from the config, verified).
        extra_components: appended after the built ones (e.g. a timeline recorder).
        client_options: extra `RealtimeClient` keyword arguments (e.g. backoff in tests).
    """
    from edge_agent.tools.home import build_registry
    from edge_agent.tools.http import make_http_client

    turns = TurnLog()
    http = make_http_client(cfg.tools)
    registry = build_registry(cfg, http)

    def instructions() -> str:
        return "\n\n".join(t for t in (cfg.realtime.instructions, registry.instructions()) if t)

    client = RealtimeClient(
        cfg.realtime,
        cfg.api_key,
        tools=registry.specs(),
        instructions=instructions,
        **(client_options or {}),
    )
    speaker = Speaker(cfg.audio, cfg.earcons, pa_factory=pa_factory)
    listener = Listener(cfg, model_paths=model_paths, pa_factory=pa_factory)
    toolbox = ToolBox(registry, http)
    app_ref: list[App] = []

    def on_fatal(exc: EdgeAgentError) -> None:
        app_ref[0].fail(exc)

    dialogue = Dialogue(client, speaker, turns, registry=registry, on_fatal=on_fatal)
    streamer = Streamer(cfg.audio, listener, client, turns)
    status = StatusPanel(cfg.status, pin_factory=pin_factory)
    app = App(
        cfg,
        components=[speaker, listener, toolbox, dialogue, streamer, status, *extra_components],
        notifier=notifier,
        log_level=log_level,
        handle_signals=handle_signals,
        turns=turns,
    )
    app_ref.append(app)
    return Pipeline(app, speaker, listener, toolbox, dialogue, streamer, status, client, turns)


async def run_daemon(cfg: Config, *, log_level: str | None) -> int:
    """`edge-agent run`: the real pipeline until SIGTERM; returns the exit code."""
    pipeline = build_app(cfg, log_level=log_level)
    return await pipeline.app.run()
