"""The daemon's shell: owns start-up and shutdown order and moves events and actions around.

`App` feeds events from one `asyncio.Queue` into the pure `StateMachine`, carries out the
timer actions itself, hands every transition's actions to its components, and reports to
systemd (READY once every component started, STATUS=<state> on each change, WATCHDOG while
all components are healthy, STOPPING on SIGTERM/SIGINT). It holds no conversation rules: those
live in `edge_agent.states`.

Components (mic capture, wake detector, Realtime client, playback, LEDs, tools) are passed in
as constructor parameters; each implements the small `Component` protocol below. Start-up:
logging → components in order → READY → event loop; shutdown: STOPPING → timer and watchdog
cancelled → components closed in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from edge_agent.config import Config
from edge_agent.errors import ConfigError, EdgeAgentError, FatalRealtimeError
from edge_agent.pipeline.turnlog import TurnLog
from edge_agent.states import (
    Action,
    BeginTurn,
    CancelTimer,
    EndTurn,
    Event,
    Policy,
    StartTimer,
    State,
    StateMachine,
    Timeout,
    WakeDetected,
)
from edge_agent.system.notify import Notifier

__all__ = ["EX_UNAVAILABLE", "LOG_LEVELS", "App", "Component", "policy_from", "resolve_log_level"]

log = logging.getLogger(__name__)

LOG_LEVELS: Final = ("debug", "info", "warning", "error")
EX_UNAVAILABLE: Final = 69  # sysexits.h: a needed device or service is unavailable


class Component(Protocol):
    """A part of the pipeline the App starts, tells about transitions, and closes."""

    name: str

    async def start(self, post: Callable[[Event], None]) -> None:
        """Open resources; `post` (loop thread only) reports events to the state machine."""

    def handle(self, state: State, actions: Sequence[Action]) -> None:
        """React to one transition (new state, its actions) without blocking the loop."""

    def fail(self, exc: EdgeAgentError) -> None:
        """A component hit an error retrying cannot fix: log it once and exit 78 (or 69).

        Bad credentials or configuration exit 78 so systemd (RestartPreventExitStatus=78) does
        not restart-loop; anything else unavailable exits 69.
        """
        fatal = isinstance(exc, ConfigError | FatalRealtimeError)
        self.exit_code = 78 if fatal else EX_UNAVAILABLE
        log.error("cannot continue: %s", exc, extra={"ERROR_CODE": type(exc).__name__})
        self.stop("fatal error")

    def is_healthy(self) -> bool:
        """True while the component works (e.g. mic frames keep arriving)."""

    async def aclose(self) -> None:
        """Release resources; called once, in reverse start order, also after a failed start."""


def resolve_log_level(flag: str | None, env: Mapping[str, str], cfg: Config | None) -> str:
    """--log-level, else $EDGE_AGENT_LOG_LEVEL, else daemon.log_level, else "info".

    Raises:
        ConfigError: $EDGE_AGENT_LOG_LEVEL names no level.
    """
    if flag:
        return flag
    value = env.get("EDGE_AGENT_LOG_LEVEL", "").strip().lower()
    if value:
        if value not in LOG_LEVELS:
            raise ConfigError(
                f"$EDGE_AGENT_LOG_LEVEL = {value!r}: expected one of {', '.join(LOG_LEVELS)}"
            )
        return value
    return cfg.daemon.log_level if cfg else "info"


def policy_from(cfg: Config) -> Policy:
    """The state machine's policy from the [conversation] and [audio] sections."""
    return Policy(
        follow_up_s=cfg.conversation.follow_up_s,
        no_speech_timeout_s=cfg.conversation.no_speech_timeout_s,
        max_turn_s=cfg.conversation.max_turn_s,
        duplex=cfg.audio.duplex,
    )


@dataclass(frozen=True, slots=True)
class _TimerExpired(Event):
    """Internal: the timer of generation `gen` fired; stale generations are dropped."""

    gen: int = 0


@dataclass(frozen=True, slots=True)
class _Stop(Event):
    """Internal: leave the event loop."""


class App:
    """The running daemon; `await App(cfg).run()` returns the process exit code."""

    def __init__(
        self,
        config: Config,
        *,
        components: Sequence[Component] = (),
        notifier: Notifier | None = None,
        log_level: str | None = None,
        handle_signals: bool = True,
        turns: TurnLog | None = None,
    ) -> None:
        """
        Args:
            config: the loaded configuration.
            components: pipeline parts, started in this order and closed in reverse.
            notifier: sd_notify sender; by default from $NOTIFY_SOCKET/$WATCHDOG_USEC.
            log_level: set up logging at this level first; None leaves logging alone (tests).
            handle_signals: install SIGTERM/SIGINT handlers (off for in-process tests).
            turns: the per-turn records the components stamp; one summary is logged per turn.
        """
        self.config = config
        self.components = tuple(components)
        self.notifier = notifier or Notifier()
        self.log_level = log_level
        self.handle_signals = handle_signals
        self.machine = StateMachine(policy_from(config))
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.turn_id = ""
        self.turns = turns or TurnLog()
        self.exit_code = 0
        self.ready = asyncio.Event()  # set once READY=1 was sent (tests and simulate wait on it)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_gen = 0
        self._stopping = False

    @property
    def state(self) -> State:
        return self.machine.state

    def post(self, event: Event) -> None:
        """Queue an event (on the loop thread; other threads use loop.call_soon_threadsafe)."""
        self.events.put_nowait(event)

    def stop(self, reason: str = "stop requested") -> None:
        """Begin a clean shutdown: STOPPING=1 now, then the loop ends after queued events."""
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping: %s", reason, extra={"STATE": self.state.value})
        self.notifier.stopping()
        self.post(_Stop())

    def fail(self, exc: EdgeAgentError) -> None:
        """A component hit an error retrying cannot fix: log it once and exit 78 (or 69).

        Bad credentials or configuration exit 78 so systemd (RestartPreventExitStatus=78) does
        not restart-loop; anything else unavailable exits 69.
        """
        fatal = isinstance(exc, ConfigError | FatalRealtimeError)
        self.exit_code = 78 if fatal else EX_UNAVAILABLE
        log.error("cannot continue: %s", exc, extra={"ERROR_CODE": type(exc).__name__})
        self.stop("fatal error")

    def is_healthy(self) -> bool:
        """The watchdog's predicate: every component reports healthy."""
        return all(c.is_healthy() for c in self.components)

    async def run(self) -> int:
        """Start everything, process events until stopped, shut down; returns the exit code."""
        if self.log_level:
            from edge_agent.system.journal import setup_logging

            setup_logging(self.log_level)
        from edge_agent import __version__

        log.info("edge-agent %s starting (config %s)", __version__, self.config.source)
        log.debug(
            "policy %s; components: %s; watchdog every %.3g s",
            self.machine.policy,
            ", ".join(c.name for c in self.components) or "none",
            self.notifier.watchdog_interval_s / 3,
        )
        loop = asyncio.get_running_loop()
        if self.handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop, f"{sig.name} received")
        started: list[Component] = []
        watchdog: asyncio.Task[None] | None = None
        try:
            for component in self.components:
                if self._stopping:
                    return 0  # SIGTERM during start-up: never claim READY after STOPPING
                started.append(component)
                await component.start(self.post)
            if self._stopping:
                return 0
            self.notifier.ready(self.state.value)
            log.info("ready", extra={"STATE": self.state.value})
            self.ready.set()
            watchdog = asyncio.create_task(
                self.notifier.run_watchdog(self.is_healthy), name="watchdog"
            )
            await self._process_events()
            return self.exit_code
        except EdgeAgentError as exc:
            log.error("cannot start: %s", exc, extra={"ERROR_CODE": type(exc).__name__})
            return 78 if isinstance(exc, ConfigError) else EX_UNAVAILABLE
        finally:
            await self._shutdown(started, watchdog)
            if self.handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    async def _process_events(self) -> None:
        while True:
            event = await self.events.get()
            if isinstance(event, _Stop):
                return
            if isinstance(event, _TimerExpired):
                if event.gen != self._timer_gen:
                    continue  # a timer replaced or cancelled after it fired
                event = Timeout()
            self.dispatch(event)

    def dispatch(self, event: Event) -> None:
        """Apply one event now: transition, log, STATUS, timers, then the components."""
        old = self.state
        actions = self.machine.handle(event)
        new = self.state
        if new is not old:
            log.info(
                "state %s -> %s",
                old.value,
                new.value,
                extra={"STATE": new.value, "TURN_ID": self.turn_id or None},
            )
            self.notifier.status(new.value)
        for action in actions:
            self._bookkeep(action, event)
        if new is old and not actions:
            return  # ignored (invalid here, already logged) or a no-op: nothing to tell
        for component in self.components:
            try:
                component.handle(new, actions)
            except Exception:
                log.exception(
                    "component %s failed to handle %s",
                    component.name,
                    type(event).__name__,
                    extra={"STATE": new.value, "ERROR_CODE": "component"},
                )

    def _bookkeep(self, action: Action, event: Event) -> None:
        """The actions the shell itself carries out: the timer, turn ids and turn records."""
        if isinstance(action, StartTimer):
            self._cancel_timer()
            self._timer = asyncio.get_running_loop().call_later(
                action.seconds, self.post, _TimerExpired(self._timer_gen)
            )
        elif isinstance(action, CancelTimer):
            self._cancel_timer()
        elif isinstance(action, BeginTurn):
            self.turn_id = uuid.uuid4().hex[:8]
            wake = event if isinstance(event, WakeDetected) else None
            self.turns.begin(
                self.turn_id,
                action.trigger,
                asyncio.get_running_loop().time(),
                model=wake.model if wake else "",
                score=wake.score if wake else None,
            )
            log.info(
                "turn started by %s",
                action.trigger,
                extra={"TURN_ID": self.turn_id, "STATE": self.state.value},
            )
        elif isinstance(action, EndTurn):
            record = self.turns.end(action.outcome, asyncio.get_running_loop().time())
            if record is not None:
                log.info(
                    "%s", record.summary(), extra={**record.fields(), "STATE": self.state.value}
                )
            self.turn_id = ""

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_gen += 1

    async def _shutdown(
        self, started: list[Component], watchdog: asyncio.Task[None] | None
    ) -> None:
        if not self._stopping:
            self._stopping = True
            self.notifier.stopping()
        self._cancel_timer()
        if watchdog is not None:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        for component in reversed(started):
            try:
                await component.aclose()
            except Exception:
                log.exception("closing %s failed", component.name, extra={"ERROR_CODE": "close"})
        log.info("stopped", extra={"STATE": self.state.value})
