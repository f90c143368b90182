"""The echo canceller's pure pieces with literal timestamps: reference grid, ERLE in a room, VAD."""

from __future__ import annotations

import numpy as np
import pytest
import soxr  # type: ignore[import-untyped]

from edge_agent.audio.echo import EchoCanceller, EchoReference, LocalVad, VadState
from edge_agent.sim.room import RoomStream, erle_db, room_impulse_response
from edge_agent.sim.speech import concat, speak

T0 = 1000.0  # PortAudio stream time of the first sample, s


def test_reference_is_contiguous_within_a_run_and_reanchored_across_runs() -> None:
    ref = EchoReference(capacity_s=1.0)
    ref.write(np.arange(1, 481, dtype=np.int16), T0)
    ref.write(np.arange(481, 961, dtype=np.int16), T0 + 0.0201)  # DAC jitter 0.1 ms: same run
    g = round(T0 * 24000)
    assert ref.head == g + 960 and ref.runs == 1
    assert ref.read(g - 2, 5).tolist() == [0, 0, 1, 2, 3]
    assert ref.read(g + 958, 4).tolist() == [959, 960, 0, 0]  # not played yet: silence
    ref.write(np.full(480, 7, np.int16), T0 + 0.5)  # the stream was restarted: a new run
    assert ref.runs == 2 and ref.head == round((T0 + 0.5) * 24000) + 480
    assert ref.read(g + 960, 3).tolist() == [0, 0, 0]  # the gap between runs is silence
    assert ref.read(round((T0 + 0.5) * 24000), 2).tolist() == [7, 7]
    assert ref.read(g - 24000 * 2, 3).tolist() == [0, 0, 0]  # older than the ring


def test_reference_resamples_a_44k_speaker_back_to_24k() -> None:
    ref = EchoReference()
    x = np.random.default_rng(5).normal(0, 4000, 44100).astype(np.int16)
    for i in range(0, 44100, 882):
        ref.write(x[i : i + 882], T0 + i / 44100, 44100)
    got = ref.read(round(T0 * 24000), 24000).astype(np.float64)
    want = soxr.resample(x, 44100, 24000).astype(np.float64)
    lags = range(-10, 100)
    score = [np.dot(got[2400 + k : 20000 + k], want[2400:20000]) for k in lags]
    lag = lags[int(np.argmax(score))]
    assert 0 <= lag < 48 and ref.runs == 1  # one run; only the resampler's delay (< 2 ms)
    assert max(score) > 0.8 * np.dot(want[2400:20000], want[2400:20000])


@pytest.mark.parametrize(("delay_ms", "unstamped_ms"), [(10, 0), (40, 0), (80, 0), (40, 600)])
def test_speex_removes_25_db_of_echo_in_a_room_and_keeps_the_talker(
    delay_ms: int, unstamped_ms: int
) -> None:
    """`unstamped_ms`: output->input delay the DAC/ADC times do not show (the PulseAudio rig
    has ~770 ms of it): the canceller measures it from the signals."""
    reply = concat(
        speak(
            "The weather in Toronto today is sunny with a high of twenty three degrees. "
            "Tomorrow will be cloudy, with rain in the evening and a low of twelve. "
            "On the weekend it will be warmer again."
        ),
        0.2,
    )
    talk = speak("hey jarvis, stop", voice="en-gb")
    rir = room_impulse_response(delay_ms=delay_ms + unstamped_ms, gain_db=-6, length_ms=150)
    echo = RoomStream(rir).process(reply)
    t0 = len(reply) - len(talk) - 12000
    mic_f = echo + np.random.default_rng(1).normal(0, 30, len(echo))
    mic_f[t0 : t0 + len(talk)] += talk
    mic = np.clip(np.rint(mic_f), -32768, 32767).astype(np.int16)
    ref = EchoReference()
    aec = EchoCanceller(ref, tail_ms=200)
    ref.write(reply[:960], T0)  # the tap sees audio before it reaches the DAC
    out = []
    talking: list[bool] = []
    removed: list[float] = []
    echo_removed = 0.0
    for i in range(0, len(reply), 480):
        ref.write(reply[i + 960 : i + 1440], T0 + (i + 960) / 24000)
        out.append(aec.process(mic[i : i + 480], T0 + i / 24000))
        if i in (t0 // 480 * 480 + 9600, t0 // 480 * 480 + 14400):  # 0.4, 0.6 s into the talk
            talking.append(aec.check_alignment())
            removed.append(aec.removed_db(np.concatenate(out)[-7200:]))
        if i == t0 // 480 * 480 - 24000:  # echo alone, 1 s before the talker
            echo_removed = aec.removed_db(np.concatenate(out)[-7200:])
    assert talking == [True, True]  # double talk does not move the echo: speech, not echo
    # a VAD onset over the reply: the talker comes through at about the mic's level, while
    # echo alone is mostly removed (a burst of it is not taken for speech)
    assert max(removed) < 6 and echo_removed > 20, (removed, echo_removed)
    got = np.concatenate(out)
    lag = aec.frame  # the residual-echo suppressor's frame of delay
    got = np.concatenate([got[lag:], np.zeros(lag, np.int16)])
    assert len(got) == len(mic) // aec.frame * aec.frame  # nothing dropped; a part frame waits
    quiet = slice(t0 - 3 * 24000, t0)  # echo only, after 3+ s of convergence
    assert erle_db(mic[quiet], got[quiet]) >= 25
    if unstamped_ms:
        assert abs(aec.delay - 24 * (unstamped_ms + delay_ms)) <= 48, aec.measurements
    dt = slice(t0, t0 + len(talk))
    residual = got[dt].astype(np.float64) - talk
    sdr = 10 * np.log10(np.sum(talk.astype(np.float64) ** 2) / np.sum(residual**2))
    assert sdr >= 12  # double talk: the talker comes through (no echo canceller: ~0-3 dB)
    nothing = 10 * np.log10(np.sum(talk.astype(np.float64) ** 2) / np.sum((mic[dt] - talk) ** 2.0))
    assert sdr > nothing + 8


def test_local_vad_needs_enough_speech_in_the_window() -> None:
    vad = LocalVad(threshold_dbfs=-40.0, min_speech_ms=60, window_ms=200)
    quiet = np.full(480, 50, np.int16)  # -56 dBFS
    loud = np.full(480, 1000, np.int16)  # -30 dBFS
    assert vad.feed(np.concatenate([quiet] * 5)) == VadState(False, 0, pytest.approx(-56.3, 0.1))
    assert vad.feed(np.concatenate([loud, loud])).speaking is False  # 40 ms < 60 ms
    assert vad.feed(loud[:240]).speech_ms == 40  # half a frame waits for the rest
    st = vad.feed(loud[240:])
    assert st == VadState(True, 60, pytest.approx(-30.3, 0.1))
    assert vad.feed(np.concatenate([quiet] * 10)).speaking is False  # the window slid on


def test_room_stream_chunk_by_chunk_equals_one_convolution() -> None:
    rir = room_impulse_response(delay_ms=5, length_ms=20)
    x = np.random.default_rng(2).normal(0, 1000, 24000)
    room = RoomStream(rir)
    streamed = np.concatenate([room.process(x[i : i + 480]) for i in range(0, len(x), 480)])
    assert np.allclose(streamed, np.convolve(x, rir)[: len(x)])
    assert np.allclose(RoomStream(rir).process(x), streamed)  # the FFT path agrees
    assert np.isclose(np.sum(rir**2), 10 ** (-6 / 10))  # echo level: gain_db


def test_the_canceller_follows_an_echo_path_that_moves_and_keeps_its_filter() -> None:
    """A sound server's xrun makes the echo 10 ms later mid-reply: the canceller finds the new
    lag (at once when asked, `check_alignment`), moves its reference read (no re-learning) and
    the echo is cancelled again; `converged` stays true (a small move is no new room)."""
    reply = concat(speak(" ".join(["The weather in Toronto today is sunny and warm."] * 6)), 0.2)
    rir = room_impulse_response(delay_ms=40, gain_db=-6, length_ms=150)
    echo = RoomStream(rir).process(reply)
    mic = np.clip(np.rint(echo + np.random.default_rng(4).normal(0, 30, len(echo))), -32768, 32767)
    mic = mic.astype(np.int16)
    moved_at, shift = 6 * 24000, 240  # 6 s in, 10 ms later
    mic = np.concatenate([mic[:moved_at], np.zeros(shift, np.int16), mic[moved_at:-shift]])
    ref = EchoReference()
    aec = EchoCanceller(ref, tail_ms=200)
    ref.write(reply[:960], T0)
    out = []
    checks = {}
    for i in range(0, len(reply), 480):
        ref.write(reply[i + 960 : i + 1440], T0 + (i + 960) / 24000)
        out.append(aec.process(mic[i : i + 480], T0 + i / 24000))
        if i in (moved_at - 12000, moved_at + 12000):  # 0.5 s before and after the move
            checks[i - moved_at] = aec.check_alignment()
    got = np.concatenate(out)[aec.frame :]
    # asked at a VAD onset: still aligned before the move; just after it the echo is found
    # where it moved to (and followed at once, not a window later)
    assert checks == {-12000: True, 12000: False}
    assert abs(aec.delay - (960 + shift)) <= 24
    before = slice(moved_at - 2 * 24000, moved_at)
    after = slice(moved_at + 2 * 24000, min(len(got), moved_at + 4 * 24000))
    assert erle_db(mic[before], got[before]) >= 25
    assert aec.realigned >= 1 and aec.resets == 0, aec.measurements
    assert erle_db(mic[after], got[after]) >= 20  # cancelled again 2 s after the move
    assert aec.converged
