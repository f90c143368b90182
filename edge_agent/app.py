"""The daemon's shell: owns start-up and shutdown order and moves events and actions around.

`App` feeds events from one `asyncio.Queue` into the pure `TurnCore` (every turn rule lives
there and in the `edge_agent.states` table) and carries out each action through the one table
of handlers the components declare (`Component.handlers()`), so the order of the components does
not matter. It schedules the core's next deadline as a `Tick`, logs what the core asks to log,
and reports to systemd (READY once every component started, STATUS=<state> on each change,
WATCHDOG while all components are healthy, STOPPING on SIGTERM/SIGINT).

Components (mic capture, wake detector, speech backend, playback, LEDs, tools) are passed in as
constructor parameters; each implements the small `Component` protocol below. Start-up:
logging → components in order → READY → event loop; shutdown: STOPPING → timer and watchdog
cancelled → components closed in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from edge_agent.assistant.ringing import RingPolicy
from edge_agent.config import Config
from edge_agent.errors import ConfigError, EdgeAgentError, FatalRealtimeError
from edge_agent.states import Action, BeginTurn, Event, State
from edge_agent.system.notify import Notifier
from edge_agent.turn.actions import FailFatal, Log, StateChanged
from edge_agent.turn.core import TurnCore, TurnPolicy
from edge_agent.turn.events import Tick
from edge_agent.turn.turnlog import TurnLog

__all__ = [
    "EX_UNAVAILABLE",
    "LOG_LEVELS",
    "App",
    "Component",
    "Handlers",
    "policy_from",
    "resolve_log_level",
]

log = logging.getLogger(__name__)

LOG_LEVELS: Final = ("debug", "info", "warning", "error")
EX_UNAVAILABLE: Final = 69  # sysexits.h: a needed device or service is unavailable
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

Handlers = Mapping[type[Action], Callable[[Any], None]]


class Component(Protocol):
    """A part of the pipeline the App starts, hands actions to, and closes."""

    name: str

    async def start(self, post: Callable[[Event], None]) -> None:
        """Open resources; `post` (loop thread only) reports events to the turn core."""

    def handlers(self) -> Handlers:
        """The action types this component carries out, each with its handler (never blocks)."""

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


def policy_from(cfg: Config) -> TurnPolicy:
    """The turn core's policy from the [conversation], [audio] and [realtime] sections."""
    return TurnPolicy(
        follow_up_s=cfg.conversation.follow_up_s,
        no_speech_timeout_s=cfg.conversation.no_speech_timeout_s,
        max_turn_s=cfg.conversation.max_turn_s,
        duplex=cfg.audio.duplex,
        idle_close_s=cfg.realtime.idle_close_s,
        session_max_s=cfg.realtime.session_max_s,
        connect_timeout_s=cfg.realtime.connect_timeout_s,
        barge_guard_ms=cfg.conversation.barge_guard_ms,
        local_vad=cfg.audio.echo_cancel != "off",
    )


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
        close_timeout_s: float = 5.0,
        turns: TurnLog | None = None,
        snapshots: Sequence[Callable[[], Event | None]] = (),
        cost_usd: Callable[[str, object], float | None] | None = None,
        ring: RingPolicy | None = None,
    ) -> None:
        """
        Args:
            config: the loaded configuration.
            components: pipeline parts, started in this order and closed in reverse.
            notifier: sd_notify sender; by default from $NOTIFY_SOCKET/$WATCHDOG_USEC.
            log_level: set up logging at this level first; None leaves logging alone (tests).
            handle_signals: install SIGTERM/SIGINT handlers (off for in-process tests).
            close_timeout_s: how long one component may take to close before the next one is
                closed anyway (a wedged driver must not keep the mic or LEDs open).
            turns: the per-turn records the core keeps (and the streamer stamps).
            snapshots: fed to the core before every event (the speaker's heard counter), so a
                decision such as a truncation uses the counter of that very moment.
            cost_usd: prices one response for the turn summary's COST_USD (see TurnCore).
            ring: the timers' ringing rules (default: `policy_from`'s config).
        """
        self.config = config
        self.components = tuple(components)
        self.notifier = notifier or Notifier()
        self.log_level = log_level
        self.handle_signals = handle_signals
        self.close_timeout_s = close_timeout_s
        self.turns = turns if turns is not None else TurnLog()
        ring = ring or RingPolicy(config.timers.ring_timeout_s, config.timers.speak_label)
        self.core = TurnCore(policy_from(config), turns=self.turns, cost_usd=cost_usd, ring=ring)
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.exit_code = 0
        self.ready = asyncio.Event()  # set once READY=1 was sent (tests and simulate wait on it)
        self._snapshots = tuple(snapshots)
        self._handlers = self._handler_table()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at_ms: int | None = None
        self._stopping = False

    @property
    def state(self) -> State:
        return self.core.state

    @property
    def turn_id(self) -> str:
        return self.core.turn_id

    def _handler_table(self) -> dict[type[Action], list[Callable[[Any], None]]]:
        """Every action type → its handlers (the App's own, then each component's)."""
        table: dict[type[Action], list[Callable[[Any], None]]] = {
            StateChanged: [self._on_state_changed],
            BeginTurn: [self._on_begin_turn],
            Log: [self._on_log],
            FailFatal: [self._on_fail_fatal],
        }
        for component in self.components:
            for kind, handler in component.handlers().items():
                table.setdefault(kind, []).append(handler)
        return table

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
            self.core.policy,
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
            self.dispatch(event)

    def dispatch(self, event: Event) -> None:
        """Apply one event now: the core decides, the handlers carry the actions out."""
        loop = asyncio.get_running_loop()
        now_ms = int(loop.time() * 1000)
        for snapshot in self._snapshots:
            fresh = snapshot()
            if fresh is not None:
                self.core.handle(fresh, now_ms)
        for action in self.core.handle(event, now_ms):
            for handler in self._handlers.get(type(action), ()):
                try:
                    handler(action)
                except Exception:
                    log.exception(
                        "handling %s failed",
                        type(action).__name__,
                        extra={"STATE": self.state.value, "ERROR_CODE": "component"},
                    )
        self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Post a Tick at the core's next deadline (one timer; replaced when it moves)."""
        due_ms = self.core.next_deadline_ms()
        if due_ms == self._timer_at_ms:
            return
        self._cancel_timer()
        if due_ms is not None:
            self._timer_at_ms = due_ms
            self._timer = loop.call_at(due_ms / 1000 + 0.0005, self._tick)

    def _tick(self) -> None:
        self._timer, self._timer_at_ms = None, None
        self.post(Tick())

    # -- the App's own handlers ----------------------------------------------------------------
    def _on_state_changed(self, action: StateChanged) -> None:
        log.info(
            "state %s -> %s",
            action.old.value,
            action.new.value,
            extra={"STATE": action.new.value, "TURN_ID": action.turn_id or None},
        )
        self.notifier.status(action.new.value)

    def _on_begin_turn(self, action: BeginTurn) -> None:
        log.info(
            "turn started by %s",
            action.trigger,
            extra={"TURN_ID": self.core.turn_id, "STATE": self.state.value},
        )

    def _on_log(self, action: Log) -> None:
        fields = dict(action.fields)
        fields.setdefault("TURN_ID", self.core.turn_id or None)
        if action.level == "error":
            log.error("%s", action.message, extra=fields)
        else:
            log.log(_LEVELS[action.level], "%s", action.message, extra=fields)

    def _on_fail_fatal(self, action: FailFatal) -> None:
        self.fail(FatalRealtimeError(action.message))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at_ms = None, None

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
                async with asyncio.timeout(self.close_timeout_s):
                    await component.aclose()
            except TimeoutError:
                log.error(
                    "closing %s took over %g s; going on without it",
                    component.name,
                    self.close_timeout_s,
                    extra={"ERROR_CODE": "close_timeout"},
                )
            except Exception:
                log.exception("closing %s failed", component.name, extra={"ERROR_CODE": "close"})
        log.info("stopped", extra={"STATE": self.state.value})
