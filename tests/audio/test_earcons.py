import numpy as np

from edge_agent.audio.earcons import EARCONS, RINGING_CYCLE_MS, earcon
from edge_agent.config import EarconsConfig


def test_every_earcon_is_short_nonsilent_int16() -> None:
    cfg = EarconsConfig(volume=1.0)
    for name in EARCONS:
        pcm = earcon(name, cfg)  # type: ignore[arg-type]
        assert pcm is not None and pcm.dtype == np.int16
        longest = 1.5 if name == "ringing" else 0.5  # one cycle of a loop
        assert 0.05 < len(pcm) / 24000 < longest
        assert np.abs(pcm).max() > 10000
        assert abs(int(pcm[0])) < 200 and abs(int(pcm[-1])) < 200  # faded: no click


def test_config_switches_and_volume() -> None:
    assert earcon("wake", EarconsConfig(enabled=False)) is None
    assert earcon("unmuted", EarconsConfig(muted=False)) is None
    assert earcon("done", EarconsConfig(muted=False)) is not None
    loud = earcon("wake", EarconsConfig(volume=1.0))
    soft = earcon("wake", EarconsConfig(volume=0.25))
    assert loud is not None and soft is not None
    assert abs(np.abs(soft).max() / np.abs(loud).max() - 0.25) < 0.01


def test_ringing_is_one_loopable_cycle_with_its_own_switch() -> None:
    pcm = earcon("ringing", EarconsConfig(volume=1.0))
    assert pcm is not None and len(pcm) == RINGING_CYCLE_MS * 24
    # Ends in a pause, so cycles written back to back keep a gap between the beeps.
    assert np.abs(pcm[-24 * 600 :]).max() == 0
    assert earcon("ringing", EarconsConfig(ringing=False)) is None
    assert earcon("wake", EarconsConfig(ringing=False)) is not None


def test_the_budget_notice_has_its_own_sound_and_switch() -> None:
    cfg = EarconsConfig(volume=1.0)
    budget, error = earcon("budget", cfg), earcon("error", cfg)
    assert budget is not None and error is not None
    assert len(budget) != len(error) or not np.array_equal(budget, error)
    # three falling notes: the first loud stretch is higher than the last (zero crossings)
    first, last = budget[: 24 * 100], budget[-24 * 100 :]
    crossings = [int(np.count_nonzero(np.diff(np.sign(x)) != 0)) for x in (first, last)]
    assert crossings[0] > crossings[1] * 1.3
    assert earcon("budget", EarconsConfig(budget=False)) is None
    assert earcon("error", EarconsConfig(budget=False)) is not None
