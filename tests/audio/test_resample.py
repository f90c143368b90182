import numpy as np

from edge_agent.audio.resample import Resampler


def _tone(freq_hz: float, rate_hz: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    return np.rint(np.sin(2 * np.pi * freq_hz * t) * amp * 32767).astype(np.int16)


def _stream(r: Resampler, x: np.ndarray, chunk: int = 480) -> np.ndarray:
    parts = [r.process(x[i : i + chunk]) for i in range(0, len(x), chunk)]
    return np.concatenate([*parts, r.flush()])


def _rms_db(x: np.ndarray) -> float:
    x = x.astype(np.float64) / 32768
    return 20 * np.log10(np.sqrt(np.mean(x**2)))


def test_1khz_passes_24k_to_16k_within_0_1_db() -> None:
    x = _tone(1000, 24000, 2.0)
    y = _stream(Resampler(24000, 16000), x)
    assert len(y) == 32000
    body = y[1600:-1600]  # skip filter edges
    change_db = _rms_db(body) - _rms_db(x[2400:-2400])
    assert abs(change_db) < 0.1, change_db


def test_10khz_is_attenuated_more_than_40_db() -> None:
    x = _tone(10000, 24000, 2.0)
    y = _stream(Resampler(24000, 16000), x)
    attenuation_db = _rms_db(x) - _rms_db(y[1600:-1600])
    assert attenuation_db > 40, attenuation_db


def test_any_rate_to_24k_and_passthrough() -> None:
    x = _tone(440, 22050, 1.0)
    y = _stream(Resampler(22050, 24000), x, chunk=1000)
    assert abs(len(y) - 24000) <= 1
    same = Resampler(24000, 24000)
    assert np.array_equal(same.process(x), x)
