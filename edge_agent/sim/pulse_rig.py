"""A real-time virtual sound card: a private PulseAudio with clocked null sinks (realtime-audio-rig.md).

The daemon side only sees ALSA PCMs (``vmic``, ``vspk``, ``default``) through the ALSA
``pulse`` plugin, paced by PulseAudio's clock: use it for latency, CPU per audio second,
jitter and wall-clock tests. `feed()` plays a file into the mic in real time (pacat);
`record()` captures what the speaker played (parec). Start the rig *before* the first
``pyaudio.PyAudio()`` of the process (with the server down PortAudio lists none of its
devices) and terminate every PyAudio instance before switching rigs (see `sim.alsa`).

On a machine with every core busy the feeder (pacat) can underrun: PulseAudio then inserts
silence into the mic feed (the fed samples resume exactly where they stopped). Tests that
want exactness feed a signal without zero samples and compare after dropping zeros.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_agent.sim.alsa import free_alsa_config

__all__ = ["PulseRig", "Recording"]

MIC = "vmic"
SPEAKER = "vspk"


class Recording:
    """What the virtual speaker played while it ran (parec on the sink monitor)."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path) -> None:
        self._proc = proc
        self.path = path

    def stop(self) -> np.ndarray:
        """Stop recording and return the samples (int16)."""
        _terminate(self._proc)
        return self.samples()

    def samples(self) -> np.ndarray:
        """What was recorded so far (int16), while it runs on."""
        raw = self.path.read_bytes()
        return np.frombuffer(raw[: len(raw) // 2 * 2], dtype=np.int16).copy()


def _terminate(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PulseRig:
    """A private PulseAudio server with a virtual mic (`vmic`) and speaker (`vspk`)."""

    mic_name = MIC
    speaker_name = SPEAKER

    def __init__(
        self, root: str | Path | None = None, *, rate_hz: int = 24000, channels: int = 1
    ) -> None:
        """`rate_hz`/`channels`: the sinks' native format (48000/2 plays a 48 kHz stereo card:
        a client opening at that format gets the fed samples unconverted)."""
        self._own_dir = root is None
        self.dir = Path(tempfile.mkdtemp(prefix="ea-pulse-") if root is None else root)
        if channels not in (1, 2):
            raise ValueError(f"the rig has mono or stereo sinks, not {channels!r} channels")
        self.rate_hz = rate_hz
        self.channels = channels
        self._server: subprocess.Popen[bytes] | None = None
        self._helpers: list[subprocess.Popen[bytes]] = []
        self._feed_logs: list[Path] = []

    # -- environment ------------------------------------------------------------------------

    @property
    def socket(self) -> Path:
        return self.dir / "native"

    @property
    def env(self) -> dict[str, str]:
        """Environment for the process under test (ALSA config + libpulse cookie)."""
        return {"XDG_CONFIG_HOME": str(self.dir), "PULSE_COOKIE": str(self.dir / "cookie")}

    @property
    def helper_env(self) -> dict[str, str]:
        """Environment for pacat/parec/pactl."""
        return {**os.environ, **self.env, "PULSE_SERVER": f"unix:{self.socket}"}

    @contextlib.contextmanager
    def activate(self) -> Iterator[PulseRig]:
        """Point this process's ALSA at the rig (before any PyAudio()); restores on exit."""
        old = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        free_alsa_config()
        try:
            yield self
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            free_alsa_config()

    # -- server -----------------------------------------------------------------------------

    def _write_config(self) -> None:
        d, rate, ch = self.dir, self.rate_hz, self.channels
        cmap = "mono" if ch == 1 else "front-left,front-right"
        for sub in ("run", "home", "alsa"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "run").chmod(0o700)
        (d / "daemon.conf").write_text(
            "default-sample-format = s16le\n"
            f"default-sample-rate = {rate}\nalternate-sample-rate = {rate}\n"
            f"default-sample-channels = {ch}\ndefault-channel-map = {cmap}\n"
            "flat-volumes = no\nexit-idle-time = -1\n"
        )
        ns = f"format=s16le rate={rate} channels={ch}"
        keep = "sink=keeper latency_msec=60 source_dont_move=true sink_dont_move=true"
        (d / "rig.pa").write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            f"load-module module-null-sink sink_name=vspk {ns} norewinds=1 "
            "sink_properties=device.description=VirtualSpeaker\n"
            f"load-module module-null-sink sink_name=vmicfeed {ns} norewinds=1 "
            "sink_properties=device.description=VirtualMicFeed\n"
            f"load-module module-null-sink sink_name=keeper {ns}\n"
            f"load-module module-loopback source=vspk.monitor {keep}\n"
            f"load-module module-loopback source=vmicfeed.monitor {keep}\n"
            "set-default-sink vspk\nset-default-source vmicfeed.monitor\n"
        )
        server = f"unix:{self.socket}"
        (d / "alsa" / "asoundrc").write_text(
            f'pcm.{MIC} {{ type pulse server "{server}" device "vmicfeed.monitor" }}\n'
            f'pcm.{SPEAKER} {{ type pulse server "{server}" device "vspk" }}\n'
            f'pcm.!default {{ type asym playback.pcm "{SPEAKER}" capture.pcm "{MIC}" }}\n'
            f'ctl.!default {{ type pulse server "{server}" }}\n'
        )

    def start(self, timeout_s: float = 5.0) -> None:
        """Start the server (about 0.1 s); raises RuntimeError if it does not come up."""
        if not shutil.which("pulseaudio"):
            raise RuntimeError("pulseaudio is not installed: apt-get install pulseaudio")
        self._write_config()
        env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.dir / "run"),
            "HOME": str(self.dir / "home"),
            "PULSE_CONFIG": str(self.dir / "daemon.conf"),
        }
        with open(self.dir / "pulse.log", "ab") as log_file:
            self._server = subprocess.Popen(
                ["pulseaudio", "-n", "-F", str(self.dir / "rig.pa"), "--daemonize=no",
                 "--use-pid-file=no", "--exit-idle-time=-1", "--log-target=stderr",
                 "--log-level=notice"],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, env=env,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ok = subprocess.run(
                ["pactl", "info"], env=self.helper_env, capture_output=True, check=False
            )
            if ok.returncode == 0:
                return
            if self._server.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pulseaudio rig did not start, see {self.dir / 'pulse.log'}")

    def stop(self) -> None:
        """Stop helpers and the server (SIGTERM by PID)."""
        for proc in self._helpers:
            _terminate(proc)
        self._helpers.clear()
        if self._server is not None:
            _terminate(self._server)
            self._server = None

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PulseRig:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ----------------------------------------------------------------------------

    def _pa_args(self, tool: str, device: str, latency_ms: int = 20) -> list[str]:
        return [tool, "-d", device, f"--latency-msec={latency_ms}", "--format=s16le",
                f"--rate={self.rate_hz}", f"--channels={self.channels}", "--raw"]  # fmt: skip

    def feed(self, samples: np.ndarray, *, latency_ms: int = 20) -> subprocess.Popen[bytes]:
        """Play int16 samples (interleaved if `channels` > 1) into the mic in real time;
        returns the pacat process (wait() it). A longer `latency_ms` makes a feeder underrun
        (silence inserted into the mic) rarer on a busy machine, at the cost of a later start."""
        path = self.dir / f"feed-{len(self._helpers)}.raw"
        path.write_bytes(np.asarray(samples, dtype=np.int16).tobytes())
        log = path.with_suffix(".log").open("wb")
        proc = subprocess.Popen(
            [*self._pa_args("pacat", "vmicfeed", latency_ms), "-v", "-p", str(path)],
            env=self.helper_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        log.close()
        self._helpers.append(proc)
        self._feed_logs.append(path.with_suffix(".log"))
        return proc

    def feeder_underruns(self) -> int:
        """How many times a feeder ran dry so far (pacat's "Stream underrun."): each one put
        silence into the mic that was not in the samples fed, a fault of the rig (a busy
        machine), not of what listens to the mic."""
        return sum(p.read_text(errors="replace").count("underrun") for p in self._feed_logs)

    def room(
        self, rir: np.ndarray, talker: np.ndarray | None = None, *, latency_ms: int = 150
    ) -> subprocess.Popen[bytes]:
        """Close the loop through a simulated room: what the speaker plays, convolved with
        `rir` (delay, reflections, gain: `sim.room`), plus `talker` (from the room's first
        sample on), is fed into the mic, in real time. Returns the room process; `stop()` (or
        `stop_room()`) ends it and its parec/pacat.

        Every underrun of the loop's pacat (the room process starved of CPU) makes the echo
        path longer by the gap, as a sound server's xrun would (at 40 ms the path grew from
        280 to 620 ms over two minutes on a busy 2-core machine); 150 ms of buffer kept it
        fixed over the 20-reply trial (`sim.duplex_trial`)."""
        import sys

        rir_path, talk_path = self.dir / "rir.npy", self.dir / "talker.raw"
        np.save(rir_path, np.asarray(rir, np.float64))
        talk = np.zeros(0, np.int16) if talker is None else np.asarray(talker, np.int16)
        talk_path.write_bytes(talk.tobytes())
        rec = subprocess.Popen(
            self._pa_args("parec", "vspk.monitor"), env=self.helper_env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        room = subprocess.Popen(
            [sys.executable, "-m", "edge_agent.sim.room", str(rir_path), str(talk_path)],
            stdin=rec.stdout, stdout=subprocess.PIPE, env=self.helper_env,
        )  # fmt: skip
        assert rec.stdout is not None
        rec.stdout.close()  # the room owns the pipe now
        room_log = self.dir / f"room-{len(self._helpers)}.log"
        with room_log.open("wb") as log:  # its underruns count as the feeders' (silence fed)
            play = subprocess.Popen(
                [*self._pa_args("pacat", "vmicfeed", latency_ms), "-v", "-p"],
                env=self.helper_env,
                stdin=room.stdout, stderr=log,
            )  # fmt: skip
        self._feed_logs.append(room_log)
        assert room.stdout is not None
        room.stdout.close()
        self._helpers += [rec, room, play]
        self._room = (rec, room, play)
        return room

    def stop_room(self) -> None:
        """End the room loop (its parec, the room, its pacat), by PID."""
        for proc in getattr(self, "_room", ()):
            _terminate(proc)
        self._room = ()

    def add_pcm(self, name: str, pulse_device: str) -> None:
        """Another ALSA PCM on this server (e.g. module-echo-cancel's source/sink); call it
        before the process's first PyAudio()."""
        with open(self.dir / "alsa" / "asoundrc", "a") as rc:
            rc.write(
                f'pcm.{name} {{ type pulse server "unix:{self.socket}" device "{pulse_device}" }}\n'
            )

    def pactl(self, *args: str) -> str:
        """Run pactl against this server; its stdout."""
        res = subprocess.run(
            ["pactl", *args], env=self.helper_env, capture_output=True, text=True, check=True
        )
        return res.stdout

    def record(self, source: str = "vspk.monitor") -> Recording:
        """Start capturing the speaker (silence until something plays), or another source
        (``vmicfeed.monitor``: what the mic is fed)."""
        path = self.dir / f"rec-{len(self._helpers)}.raw"
        with open(path, "wb") as out:
            proc = subprocess.Popen(
                [*self._pa_args("parec", source)],
                env=self.helper_env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        self._helpers.append(proc)
        return Recording(proc, path)
