"""A simulated room for echo-cancellation tests (numpy): what the mic hears of the speaker.

`room_impulse_response` makes a plausible small-room response (a direct path after `delay_ms`,
a few early reflections, an exponentially decaying diffuse tail of `rt60_s` that is `drr_db`
below the direct sound: a speaker a few cm from the mic, a living room), scaled so the
echo's level is `gain_db` relative to the played signal. `RoomStream` applies it chunk by chunk
(overlap-add, state kept between chunks) so a live loop (speaker monitor -> room -> mic feed)
can run it in real time.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RoomStream", "erle_db", "room_impulse_response"]


def room_impulse_response(
    *,
    delay_ms: float = 40.0,
    rt60_s: float = 0.25,
    gain_db: float = -6.0,
    drr_db: float = 6.0,
    length_ms: float = 150.0,
    rate_hz: int = 24000,
    seed: int = 0,
) -> np.ndarray:
    """float64 impulse response; its energy is 10**(gain_db/10) (the echo's level vs played)."""
    rng = np.random.default_rng(seed)
    d = round(delay_ms * rate_hz / 1000)
    n = d + round(length_ms * rate_hz / 1000)
    h = np.zeros(n)
    h[d] = 1.0
    for k in range(4):  # early reflections within 15 ms of the direct path
        h[d + rng.integers(24, 360)] += rng.uniform(-0.6, 0.6) / (k + 1)
    t = np.arange(n - d) / rate_hz
    tail = rng.normal(0, 1, n - d) * np.exp(-6.9 * t / rt60_s)
    tail[:48] = 0
    direct = np.sum(h**2)
    h[d:] += tail * np.sqrt(direct / 10 ** (drr_db / 10) / np.sum(tail**2))
    return h * np.sqrt(10 ** (gain_db / 10) / np.sum(h**2))


class RoomStream:
    """Streaming convolution with a fixed impulse response (float in, float out)."""

    def __init__(self, rir: np.ndarray) -> None:
        self.rir = np.asarray(rir, np.float64)
        self._tail = np.zeros(len(self.rir) - 1)

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if len(x) * len(self.rir) > 2_000_000:  # long signals: FFT convolution
            size = 1 << int(np.ceil(np.log2(len(x) + len(self.rir) - 1)))
            y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(self.rir, size), size)
            y = y[: len(x) + len(self.rir) - 1]
        else:
            y = np.convolve(x, self.rir)  # len(x) + len(rir) - 1
        y[: len(self._tail)] += self._tail
        self._tail = y[len(x) :].copy()
        return y[: len(x)]


def erle_db(mic: np.ndarray, out: np.ndarray) -> float:
    """Echo return loss enhancement: mic energy over output energy, dB (echo-only stretches)."""
    m = np.sum(np.asarray(mic, np.float64) ** 2)
    o = np.sum(np.asarray(out, np.float64) ** 2)
    return float(10 * np.log10(m / max(o, 1e-9)))


def main(argv: list[str] | None = None) -> int:
    """`python -m edge_agent.sim.room RIR.npy TALKER.raw`: stdin (the speaker, int16 24 kHz)
    -> room -> + talker (int16 24 kHz, from the first sample read) -> stdout (the mic feed).

    Meant between `parec -d vspk.monitor` and `pacat -d vmicfeed` (`PulseRig.room()`).
    """
    import sys

    args = sys.argv[1:] if argv is None else argv
    room = RoomStream(np.load(args[0]))
    talker = np.fromfile(args[1], dtype=np.int16) if len(args) > 1 else np.zeros(0, np.int16)
    pos = 0
    src, dst = sys.stdin.buffer, sys.stdout.buffer
    while True:
        raw = src.read(960)  # 20 ms
        if not raw:
            return 0
        x = np.frombuffer(raw[: len(raw) // 2 * 2], np.int16)
        y = room.process(x)
        t = talker[pos : pos + len(x)]
        y[: len(t)] += t
        pos += len(x)
        dst.write(np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes())
        dst.flush()


if __name__ == "__main__":
    raise SystemExit(main())
