"""sd_notify against a real datagram socket: the daemon process, the watchdog and the App."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_agent.app import App, Handlers
from edge_agent.config import parse_config
from edge_agent.errors import AudioDeviceError
from edge_agent.sim.notify import NotifySink
from edge_agent.states import Action, Event, MuteToggle, SpeechStarted, State, WakeDetected
from edge_agent.system.notify import Notifier
from edge_agent.turn.actions import Connect, StateChanged
from edge_agent.turn.events import SessionReady
from tests.foundation.conftest import with_state_dir

ROOT = Path(__file__).resolve().parents[2]
WATCHDOG_USEC = 900_000  # pings every 0.3 s; systemd would restart us after 0.9 s without one


def daemon_env(tmp_path: Path, notify_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "EDGE_AGENT_LOG_LEVEL")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        NOTIFY_SOCKET=str(notify_path),
        OPENAI_API_KEY="dummy-key-for-tests",
        EDGE_AGENT_LOG_STDERR="1",
        **extra,
    )
    return env


@pytest.mark.usefixtures("daemon_sound")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_daemon_ready_status_watchdog_stopping(tmp_path: Path, sig: signal.Signals) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(with_state_dir('[daemon]\nlog_level = "info"\n', tmp_path / "state"))
    with NotifySink(tmp_path / "notify") as sink:
        env = daemon_env(tmp_path, sink.path, WATCHDOG_USEC=str(WATCHDOG_USEC))
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(cfg)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            ready = sink.wait_for("READY=1", timeout_s=20)
            assert ready.lines == ("READY=1", "STATUS=idle")
            sink.collect(1.5)
            pings = [t for t in sink.times_of("WATCHDOG=1") if t >= ready.at_s]
            assert len(pings) >= 4, sink.lines()
            gaps = [b - a for a, b in itertools.pairwise([ready.at_s, *pings])]
            assert max(gaps) < WATCHDOG_USEC / 1e6 / 2, gaps
            proc.send_signal(sig)
            sent_at = time.monotonic()
            sink.wait_for("STOPPING=1", timeout_s=2)
            rc = proc.wait(timeout=2)
            assert time.monotonic() - sent_at < 2
        finally:
            proc.kill()
            out, err = proc.communicate()
    assert rc == 0, err
    assert f"<6>edge_agent.app: stopping: {sig.name} received STATE=idle" in err.splitlines()
    assert sink.lines().count("READY=1") == 1
    assert "dummy-key-for-tests" not in out + err


@pytest.mark.usefixtures("daemon_sound")
def test_daemon_without_watchdog_sends_no_pings(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(with_state_dir("", tmp_path / "state"))
    with NotifySink(tmp_path / "notify") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(cfg)],
            env=daemon_env(tmp_path, sink.path),
            stderr=subprocess.DEVNULL,
        )
        try:
            sink.wait_for("READY=1", timeout_s=20)
            sink.collect(0.5)
            proc.send_signal(signal.SIGTERM)
            sink.wait_for("STOPPING=1", timeout_s=2)
            assert proc.wait(timeout=2) == 0
        finally:
            proc.kill()
            proc.wait()
    assert sink.lines() == ["READY=1", "STATUS=idle", "STOPPING=1"]


# ---- the watchdog loop in-process, with a real socket and a health predicate that flips


async def test_watchdog_pings_only_while_healthy(tmp_path: Path) -> None:
    healthy = True
    with NotifySink(tmp_path / "notify") as sink:
        notifier = Notifier({"NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": "300000"})
        assert notifier.watchdog_interval_s == 0.3
        task = asyncio.create_task(notifier.run_watchdog(lambda: healthy))
        try:
            for _ in range(3):
                await sink.await_for("WATCHDOG=1", timeout_s=1)
            healthy = False
            flipped = time.monotonic()
            await asyncio.sleep(0.6)  # six periods
            sink.drain()
            late = [t for t in sink.times_of("WATCHDOG=1") if t > flipped + 0.01]
            assert late == []
            healthy = True
            resumed = await sink.await_for("WATCHDOG=1", timeout_s=1)
            assert resumed.at_s - flipped < 0.6 + 0.2
        finally:
            task.cancel()
    pings = sink.times_of("WATCHDOG=1")
    assert all(b - a < 0.15 for a, b in itertools.pairwise(pings[:3]))


async def test_watchdog_treats_a_raising_predicate_as_unhealthy(tmp_path: Path) -> None:
    def broken() -> bool:
        raise RuntimeError("capture thread gone")

    with NotifySink(tmp_path / "notify") as sink:
        notifier = Notifier({"NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": "150000"})
        task = asyncio.create_task(notifier.run_watchdog(broken))
        await asyncio.sleep(0.3)
        assert not task.done()  # still running, just not pinging
        task.cancel()
        sink.drain()
    assert sink.lines() == []


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"WATCHDOG_USEC": "300000"},
        {"NOTIFY_SOCKET": "X", "WATCHDOG_USEC": "300000", "WATCHDOG_PID": "1"},
        {"NOTIFY_SOCKET": "X", "WATCHDOG_USEC": "bogus"},
    ],
    ids=["no-socket", "no-socket-watchdog", "other-pid", "bad-usec"],
)
async def test_watchdog_off_returns_at_once(env: dict[str, str]) -> None:
    notifier = Notifier(env)
    await asyncio.wait_for(notifier.run_watchdog(lambda: True), timeout=1)
    notifier.ready("idle")  # no socket or no watchdog: these must not fail either
    notifier.stopping()


def test_notifier_leaves_the_environment_as_it_was(tmp_path: Path) -> None:
    with NotifySink(tmp_path / "notify") as sink:
        before = os.environ.get("NOTIFY_SOCKET")
        notifier = Notifier({"NOTIFY_SOCKET": sink.path})
        notifier.status("thinking")
        notifier.status("thinking")  # repeats are not sent
        notifier.status("speaking")
        assert os.environ.get("NOTIFY_SOCKET") == before
        sink.wait_for("STATUS=speaking", timeout_s=1)
    assert sink.lines() == ["STATUS=thinking", "STATUS=speaking"]


# ---- the App in-process: READY after components, STATUS per state, health, shutdown


class FakeButtons:
    """A component implementing the App's interface: posts events, records what it is told."""

    name = "fake-buttons"

    def __init__(
        self, start_delay_s: float = 0.0, fail: Exception | None = None, close_s: float = 0.0
    ) -> None:
        self.start_delay_s = start_delay_s
        self.close_s = close_s
        self.fail = fail
        self.post: Callable[[Event], None] | None = None
        self.seen: list[tuple[State, list[Action]]] = []
        self.healthy = True
        self.closed = 0

    async def start(self, post: Callable[[Event], None]) -> None:
        await asyncio.sleep(self.start_delay_s)
        if self.fail:
            raise self.fail
        self.post = post

    def handlers(self) -> Handlers:
        # a backend that is always ready at once, and a recorder of the state changes
        return {
            Connect: lambda a: self.post and self.post(SessionReady("s")),
            StateChanged: lambda a: self.seen.append((a.new, [a])),
        }

    def is_healthy(self) -> bool:
        return self.healthy

    async def aclose(self) -> None:
        await asyncio.sleep(self.close_s)
        self.closed += 1


CONFIG = parse_config(
    "[conversation]\nno_speech_timeout_s = 1.0\nfollow_up_s = 0\n", require_api_key=False
)


async def test_app_reports_states_and_stops(tmp_path: Path) -> None:
    buttons = FakeButtons(start_delay_s=0.2)
    with NotifySink(tmp_path / "notify") as sink:
        notifier = Notifier({"NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": "300000"})
        app = App(CONFIG, components=[buttons], notifier=notifier, handle_signals=False)
        run = asyncio.create_task(app.run())
        await asyncio.sleep(0.1)
        sink.drain()
        assert sink.lines() == []  # not ready while a component is still starting
        ready = await sink.await_for("READY=1", timeout_s=2)
        assert ready.lines == ("READY=1", "STATUS=idle")
        assert buttons.post is not None
        buttons.post(WakeDetected(score=0.9))
        await sink.await_for("STATUS=listening", timeout_s=1)
        assert app.state is State.LISTENING and app.turn_id
        # No speech: the 1 s no-speech timer brings it back to idle.
        idle = await sink.await_for("STATUS=idle", timeout_s=3)
        assert 0.8 < idle.at_s - ready.at_s < 2.5
        buttons.post(MuteToggle())
        await sink.await_for("STATUS=muted", timeout_s=1)
        buttons.post(SpeechStarted())  # invalid while muted: ignored, nothing sent
        buttons.post(MuteToggle())
        await sink.await_for("STATUS=idle", timeout_s=1)
        app.stop("test")
        assert await asyncio.wait_for(run, 2) == 0
        sink.drain()
    assert buttons.closed == 1
    statuses = [ln for ln in sink.lines() if ln.startswith(("STATUS=", "READY", "STOPPING"))]
    assert statuses == [
        "READY=1",
        "STATUS=idle",
        "STATUS=listening",
        "STATUS=idle",
        "STATUS=muted",
        "STATUS=idle",
        "STOPPING=1",
    ]
    assert [s for s, _ in buttons.seen] == [
        State.LISTENING,
        State.IDLE,
        State.MUTED,
        State.IDLE,
    ]


async def test_app_watchdog_follows_component_health(tmp_path: Path) -> None:
    buttons = FakeButtons()
    with NotifySink(tmp_path / "notify") as sink:
        notifier = Notifier({"NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": "300000"})
        app = App(CONFIG, components=[buttons], notifier=notifier, handle_signals=False)
        run = asyncio.create_task(app.run())
        await sink.await_for("READY=1", timeout_s=2)
        await sink.await_for("WATCHDOG=1", timeout_s=1)
        buttons.healthy = False
        wedged = time.monotonic()
        await asyncio.sleep(0.5)
        app.stop("test")
        assert await asyncio.wait_for(run, 2) == 0
    assert [t for t in sink.times_of("WATCHDOG=1") if t > wedged + 0.01] == []


async def test_app_start_failure_exits_69_and_closes(tmp_path: Path) -> None:
    ok, broken = FakeButtons(), FakeButtons(fail=AudioDeviceError("no capture device 'usb'"))
    with NotifySink(tmp_path / "notify") as sink:
        notifier = Notifier({"NOTIFY_SOCKET": sink.path})
        app = App(CONFIG, components=[ok, broken], notifier=notifier, handle_signals=False)
        assert await asyncio.wait_for(app.run(), 2) == 69
        sink.wait_for("STOPPING=1", timeout_s=1)
    assert sink.lines() == ["STOPPING=1"]
    assert (ok.closed, broken.closed) == (1, 1)


async def test_app_stopped_during_startup_never_reports_ready(tmp_path: Path) -> None:
    slow, never = FakeButtons(start_delay_s=0.3), FakeButtons()
    with NotifySink(tmp_path / "notify") as sink:
        notifier = Notifier({"NOTIFY_SOCKET": sink.path})
        app = App(CONFIG, components=[slow, never], notifier=notifier, handle_signals=False)
        run = asyncio.create_task(app.run())
        await asyncio.sleep(0.1)
        app.stop("SIGTERM received")
        assert await asyncio.wait_for(run, 2) == 0
        sink.drain()
    assert sink.lines() == ["STOPPING=1"]
    assert (slow.closed, never.closed, never.post) == (1, 0, None)


async def test_a_component_that_hangs_on_close_does_not_keep_the_others_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, wedged = FakeButtons(), FakeButtons(close_s=60)
    with NotifySink(tmp_path / "notify") as sink:
        notifier = Notifier({"NOTIFY_SOCKET": sink.path})
        app = App(
            CONFIG,
            components=[first, wedged],
            notifier=notifier,
            handle_signals=False,
            close_timeout_s=0.2,
        )
        run = asyncio.create_task(app.run())
        await sink.await_for("READY=1", timeout_s=2)
        app.stop("test")
        assert await asyncio.wait_for(run, 2) == 0
    assert (first.closed, wedged.closed) == (1, 0)
    assert "closing fake-buttons took over 0.2 s; going on without it" in caplog.text
