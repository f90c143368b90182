"""The whole daemon on one machine: virtual sound card, Realtime emulator, device emulators.

`PipelineRig` is what `edge-agent simulate` and the end-to-end tests run: the very `App` that
`edge-agent run` builds (`build_app`), with

- a private real-time PulseAudio (`sim.pulse_rig`): the daemon opens ALSA devices ``vmic`` and
  ``vspk`` through the ALSA ``pulse`` plugin (its own temp asoundrc), paced by a real clock,
  bit-exact at 24 kHz; `say()` plays audio into the mic, `heard()` returns what the speaker played.
  (The ``type file`` fake devices are unpaced: a mic read as fast as the CPU allows would flood
  the wake detector, so a live pipeline needs the clocked rig.)
- the Realtime emulator (`sim.realtime_server`) on 127.0.0.1 with a scenario,
- a `DeviceFleet` serving every configured device and Open-Meteo on 127.0.0.1,
- a `Timeline`: every log record of the daemon and every state transition, timestamped.

Nothing here talks to the internet. Start the rig before any PyAudio of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.app import Handlers
from edge_agent.config import Config, Secret
from edge_agent.pipeline.build import Pipeline, build_app
from edge_agent.sim.devices.fleet import DeviceFleet
from edge_agent.sim.pulse_rig import PulseRig, Recording
from edge_agent.sim.realtime_server import RealtimeEmulator
from edge_agent.sim.scenario import Scenario
from edge_agent.states import Event, State
from edge_agent.system.notify import Notifier
from edge_agent.turn.actions import StateChanged

__all__ = [
    "SIM_API_KEY",
    "PipelineRig",
    "Timeline",
    "TimelineEntry",
    "spoken_request",
    "trim_silence",
]

SIM_API_KEY = "sk-simulated-not-a-real-key"
_FIELDS_SHOWN = (
    "STATE",
    "TURN_ID",
    "WAKE_SCORE",
    "LATENCY_MS",
    "WAKE_TO_STREAM_MS",
    "REPLY_MS",
    "TOOL",
    "TOOLS",
    "OUTCOME",
    "ERROR_CODE",
    "DEVICE",
)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at_s: float  # seconds since the rig started
    kind: str  # "log" or "state"
    text: str
    fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"at_s": round(self.at_s, 4), "kind": self.kind, "text": self.text, **self.fields}


class _LogTap(logging.Handler):
    """Hands every record of the daemon to the timeline."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__(logging.INFO)
        self.timeline = timeline

    def emit(self, record: logging.LogRecord) -> None:
        self.timeline.add_record(record)


class Timeline:
    """Collects the daemon's log records (through `tap`) and its transitions (as a component)."""

    name = "timeline"

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.entries: list[TimelineEntry] = []
        self.states: list[State] = [State.IDLE]
        self.tap = _LogTap(self)

    def add_record(self, record: logging.LogRecord) -> None:
        fields = {k: getattr(record, k) for k in _FIELDS_SHOWN if hasattr(record, k)}
        fields = {k: v for k, v in fields.items() if v is not None and v != ""}
        at_s = time.monotonic() - self.t0
        self.entries.append(TimelineEntry(at_s, "log", record.getMessage(), fields))

    # -- Component ------------------------------------------------------------------------------
    async def start(self, post: Callable[[Event], None]) -> None:
        pass

    def handlers(self) -> Handlers:
        return {StateChanged: self._on_state}

    def _on_state(self, action: StateChanged) -> None:
        if action.new is not self.states[-1]:
            self.states.append(action.new)

    def is_healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        pass


class PipelineRig:
    """`async with PipelineRig(cfg, scenario) as rig:` the daemon runs, READY, on virtual hardware."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        scenario: Scenario | None = None,
        pin_factory: Any = None,
        notifier: Notifier | None = None,
        emulator_pace: float = 0.0,
        client_options: dict[str, Any] | None = None,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.source = config or Config()
        self.scenario = scenario
        self.pin_factory = pin_factory
        self.notifier = notifier or Notifier(env={})
        self.emulator_pace = emulator_pace
        self.client_options = client_options
        self.ready_timeout_s = ready_timeout_s
        self.timeline = Timeline()
        self.sound: PulseRig | None = None
        self.emulator: RealtimeEmulator | None = None
        self.fleet: DeviceFleet | None = None
        self.pipeline: Pipeline | None = None
        self.config: Config | None = None
        self._recording: Recording | None = None
        self._mic_recording: Recording | None = None
        self._task: asyncio.Task[int] | None = None
        self._activation: contextlib.ExitStack | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._old_level: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> PipelineRig:
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="ea-sim-")
        self.sound = PulseRig(Path(self._tmp.name) / "sound")
        await asyncio.to_thread(self.sound.start)
        self._activation = contextlib.ExitStack()
        self._activation.enter_context(self.sound.activate())
        self.emulator = RealtimeEmulator(
            self.scenario, api_keys=(SIM_API_KEY,), pace=self.emulator_pace
        )
        await self.emulator.start()
        self.fleet = await asyncio.to_thread(DeviceFleet(self.source).start)
        self.config = self._sim_config(self.fleet.config, self.emulator.url)
        self._recording = self.sound.record()
        self._mic_recording = self.sound.record("vmicfeed.monitor")
        logger = logging.getLogger("edge_agent")
        logger.addHandler(self.timeline.tap)
        if logger.getEffectiveLevel() > logging.INFO:
            self._old_level = logger.level
            logger.setLevel(logging.INFO)
        self.pipeline = build_app(
            self.config,
            notifier=self.notifier,
            handle_signals=False,
            pin_factory=self.pin_factory,
            extra_components=[self.timeline],
            client_options=self.client_options,
        )
        self._task = asyncio.create_task(self.pipeline.app.run(), name="edge-agent")
        ready = asyncio.ensure_future(self.pipeline.app.ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=self.ready_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            code = self._task.result() if self._task in done else None
            raise RuntimeError(f"the daemon did not get ready (exit code {code}); see the log")

    def _sim_config(self, cfg: Config, url: str) -> Config:
        assert self._tmp is not None and self.sound is not None
        state_dir = Path(self._tmp.name) / "state"
        state_dir.mkdir()
        return dataclasses.replace(
            cfg,
            audio=dataclasses.replace(
                cfg.audio, input_device=self.sound.mic_name, output_device=self.sound.speaker_name
            ),
            realtime=dataclasses.replace(cfg.realtime, url=url, token_url=""),
            daemon=dataclasses.replace(cfg.daemon, state_dir=str(state_dir)),
            api_key=Secret(SIM_API_KEY),
        )

    async def stop_app(self, timeout_s: float = 10.0) -> int | None:
        """Stop the daemon (as SIGTERM would); returns its exit code."""
        if self._task is None:
            return None
        if not self._task.done() and self.pipeline is not None:
            self.pipeline.app.stop("simulation over")
        try:
            return await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            self._task.cancel()
            raise

    async def _stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.stop_app()
        logger = logging.getLogger("edge_agent")
        logger.removeHandler(self.timeline.tap)
        if self._old_level is not None:
            logger.setLevel(self._old_level)
        if self.emulator is not None:
            await self.emulator.stop()
        if self.fleet is not None:
            await asyncio.to_thread(self.fleet.stop)
        if self._activation is not None:
            self._activation.close()
        if self.sound is not None:
            await asyncio.to_thread(self.sound.stop)
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- driving and observing ------------------------------------------------------------------
    @property
    def app_task(self) -> asyncio.Task[int]:
        assert self._task is not None
        return self._task

    def feed(self, samples: np.ndarray) -> Any:
        """Start playing 24 kHz int16 `samples` into the mic in real time; returns the process."""
        assert self.sound is not None
        return self.sound.feed(samples)

    async def say(self, samples: np.ndarray) -> None:
        """Play `samples` into the mic and wait until they are played."""
        proc = self.feed(samples)
        await asyncio.to_thread(proc.wait, 120)

    def heard(self) -> np.ndarray:
        """What the speaker played so far (int16; silence before and between sounds)."""
        assert self._recording is not None
        return self._recording.samples()

    def mic_input(self) -> np.ndarray:
        """What the mic was actually fed so far (int16, from before the daemon opened it).

        Compare what the daemon streamed against this, not against the samples given to
        `say`: on a busy machine the feeder can run dry and the sound server then puts silence
        into the mic (`PulseRig.feeder_underruns`), which the daemon rightly streams."""
        assert self._mic_recording is not None
        return self._mic_recording.samples()

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll `predicate` every 10 ms; raises TimeoutError naming `what`."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if self._task is not None and self._task.done():
                raise RuntimeError(f"the daemon exited ({self._task.result()}) waiting for {what}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout_s:g} s; states {self.states}")
            await asyncio.sleep(0.01)

    async def wait_turns(self, count: int, timeout_s: float = 30.0) -> None:
        """Until `count` turns ended and the daemon is idle again."""
        assert self.pipeline is not None
        p = self.pipeline
        await self.wait_for(
            lambda: len(p.turns.finished) >= count and p.turns.current is None,
            timeout_s,
            f"{count} finished turn(s)",
        )

    @property
    def states(self) -> list[str]:
        return [s.value for s in self.timeline.states]


def trim_silence(pcm: np.ndarray, level: int = 300) -> np.ndarray:
    """`pcm` without the leading and trailing quiet espeak-ng adds (samples below `level`)."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > level)
    return pcm[loud[0] : loud[-1] + 1] if len(loud) else pcm[:0]


def played_prefix(heard: np.ndarray, pcm: np.ndarray, probe: int = 2400) -> tuple[int, int]:
    """Where `pcm` starts in `heard` (found by its first `probe` samples, earliest match) and how
    many of its samples follow there exactly; (-1, 0) if its start was never played."""
    hay, probe_bytes = heard.tobytes(), pcm[:probe].tobytes()
    at = hay.find(probe_bytes)
    while at >= 0 and at % 2:
        at = hay.find(probe_bytes, at + 1)
    if at < 0:
        return -1, 0
    start = at // 2
    n = min(len(pcm), len(heard) - start)
    diff = np.flatnonzero(heard[start : start + n] != pcm[:n])
    return start, int(diff[0]) if len(diff) else n


def _trim_tail(pcm: np.ndarray, level: int = 300) -> np.ndarray:
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > level)
    return pcm[: loud[-1] + 1] if len(loud) else pcm[:0]


def spoken_request(
    question: str,
    *,
    wake: str = "hey jarvis",
    gap_s: float = 0.25,
    lead_s: float = 0.5,
    tail_s: float = 1.5,
    voice: str = "en-us",
) -> tuple[np.ndarray, int]:
    """24 kHz "<wake>, <question>" said in one breath (espeak-ng, cached), with silence around.

    Returns the samples and the index where the question starts.
    """
    from edge_agent.sim.speech import speak

    rate = 24000
    parts = [
        np.zeros(int(lead_s * rate), np.int16),
        _trim_tail(speak(wake, voice, 150, rate)),  # its onset kept: the detector likes it
        np.zeros(int(gap_s * rate), np.int16),
    ]
    question_at = sum(len(p) for p in parts)
    parts += [
        trim_silence(speak(question, voice, 150, rate)),
        np.zeros(int(tail_s * rate), np.int16),
    ]
    return np.concatenate(parts), question_at
