"""The echo canceller's pure pieces with literal timestamps: reference grid, ERLE in a room, VAD."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import soxr  # type: ignore[import-untyped]

from edge_agent.audio.echo import (
    EchoCanceller,
    EchoReference,
    LocalVad,
    NearEndVad,
    SpeechStretches,
    VadState,
)
from edge_agent.sim.room import RoomStream, erle_db, room_impulse_response
from edge_agent.sim.speech import concat, speak
from edge_agent.turn.guard import DEFAULT_CONFIRM_MS

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


def _echo_of(reply: np.ndarray, delay_ms: int, *, seed: int = 1) -> np.ndarray:
    """The mic in a room: the reply's echo (-6 dB, reflections, 0.25 s reverb) plus noise."""
    rir = room_impulse_response(delay_ms=delay_ms, gain_db=-6, length_ms=150)
    return RoomStream(rir).process(reply) + np.random.default_rng(seed).normal(0, 30, len(reply))


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def _cancel(
    reply: np.ndarray,
    mic: np.ndarray,
    *,
    block: int = 480,
    stamps: dict[int, float] | None = None,
    each: Callable[[int, EchoCanceller, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, EchoCanceller]:
    """Run the canceller over `mic` in blocks, the reply played ahead of it (stamps exact but
    for `stamps`: block start -> ADC time error, s); `each(i, aec, out)` after every block."""
    ref = EchoReference()
    aec = EchoCanceller(ref, tail_ms=200)
    ref.write(reply[:960], T0)
    out: list[np.ndarray] = []
    for i in range(0, len(mic) - block + 1, block):
        ref.write(reply[i + 960 : i + 960 + block], T0 + (i + 960) / 24000)
        err = (stamps or {}).get(i, 0.0)
        out.append(aec.process(mic[i : i + block], T0 + i / 24000 + err))
        if each is not None:
            each(i, aec, out[-1])
    return np.concatenate(out), aec


REPLY = (
    "The weather in Toronto today is sunny and warm, with a light breeze from the lake. "
    "Tomorrow will be cloudy, with rain in the evening and a low of twelve degrees. "
)


def test_a_mic_block_stamped_early_does_not_move_the_grid() -> None:
    """PortAudio's ADC time is the sound server's latency estimate: on the PulseAudio rig one
    block in ~250 comes stamped 11-20 ms early, the next one back on line. The samples did not
    move, so the canceller keeps counting them (re-anchoring put the reference 20 ms off for a
    block; the filter diverged and its residual passed for the user). A shift that lasts is
    believed after three blocks, a new stream's jump at once."""
    reply = concat(speak(REPLY), 0.2)[: 8 * 24000]
    mic = _int16(_echo_of(reply, 40))
    clean, _ = _cancel(reply, mic, block=960)
    outliers = {960 * k: -0.018 for k in (100, 140, 180)}  # 18 ms early, 3 times
    jittered, aec = _cancel(reply, mic, block=960, stamps=outliers)
    assert aec.stamp_outliers == 3
    assert np.array_equal(jittered, clean)  # sample for sample the same output
    # the stream's latency really changed by 20 ms at block 150: believed on the third block
    later = {960 * k: 0.020 for k in range(150, len(mic) // 960)}
    _, moved = _cancel(reply, mic, block=960, stamps=later)
    assert moved.stamp_outliers == 2
    restarted = {960 * k: 2.0 for k in range(150, len(mic) // 960)}  # a new stream, 2 s on
    _, anew = _cancel(reply, mic, block=960, stamps=restarted)
    assert anew.stamp_outliers == 0


@pytest.mark.parametrize("delay_ms", [40, 150, 440])
def test_the_earcon_and_the_question_after_a_reply_do_not_move_the_echo_path(
    delay_ms: int,
) -> None:
    """After a reply the talk button's earcon plays and the user asks: the VAD onset asks
    whether the echo path moved. The earcon is two sines (its correlation peaks at every
    period) under the talker's voice: that used to give a stray lag clear enough to follow,
    so the filter was reset and re-learnt before every reply (on the rig: lag 0, once per
    turn). Now it is no answer (band-limited, an ambiguous peak is none): nothing moves."""
    from edge_agent.audio.earcons import earcon
    from edge_agent.config import EarconsConfig

    tone = earcon("wake", EarconsConfig())
    assert tone is not None
    reply = concat(speak(REPLY), 0.2)[: 7 * 24000]
    played = np.concatenate([reply, np.zeros(4800, np.int16), tone, np.zeros(24000, np.int16)])
    heard = _echo_of(played, delay_ms)
    talk = speak("what is the weather like")
    t0 = len(reply) + 4800 + len(tone) + 2400
    heard[t0 : t0 + len(talk[:21600])] += talk[:21600]
    asked: list[bool] = []

    def each(i: int, aec: EchoCanceller, out: np.ndarray) -> None:
        if i in (t0 + 4800, t0 + 9600):  # VAD onsets 0.2 and 0.4 s into the question
            asked.append(aec.check_alignment())

    _, aec = _cancel(played, _int16(heard), each=each)
    assert asked == [True, True]
    assert aec.resets == 0 and abs(aec.delay - 24 * delay_ms) <= 48, aec.measurements


@pytest.mark.parametrize("delay_ms", [10, 40, 80])
@pytest.mark.parametrize("moved_ms", [8, 25])
def test_echo_the_filter_left_after_the_path_moved_is_echo_and_a_talker_is_not(
    delay_ms: int, moved_ms: int
) -> None:
    """The rig's echo path moves under load (8-25 ms seen): for a second or two the filter
    removes only 0-8 dB, so the residual is loud, and `removed_db` alone took it for the
    user. What is left still correlates with the reply (`residual_echo`), a talker does not:
    `echo_left` says echo at every 100 ms after the move, and never during a talker's first
    half second over an echo the filter has learnt."""
    reply = concat(speak(REPLY), 0.2)
    moved_at, shift = 6 * 24000, moved_ms * 24
    echo = _echo_of(reply, delay_ms)
    moved = np.concatenate([echo[:moved_at], np.zeros(shift), echo[moved_at : len(echo) - shift]])
    talk = speak("hey jarvis, stop, stop talking please", voice="en-gb")
    t0 = moved_at  # the talker over the path that did not move
    talked = echo.copy()
    talked[t0 : t0 + len(talk)] += talk
    verdicts: dict[str, list[bool]] = {"moved": [], "talk": []}

    def judge(name: str, start: int, stop: int) -> Callable[[int, EchoCanceller, np.ndarray], None]:
        outs: list[np.ndarray] = []

        def each(i: int, aec: EchoCanceller, out: np.ndarray) -> None:
            outs.append(out)
            if start <= i < stop and (i - start) % 2400 == 0:
                verdicts[name].append(aec.echo_left(np.concatenate(outs[-15:])))

        return each

    _cancel(reply, _int16(moved), each=judge("moved", moved_at + 2400, moved_at + 26400))
    _cancel(reply, _int16(talked), each=judge("talk", t0 + 4800, t0 + 12000))
    assert verdicts["moved"] == [True] * 10
    assert verdicts["talk"] == [False] * 3


def test_speech_stretches_judged_at_the_onset_and_again_while_taken_for_echo() -> None:
    s = SpeechStretches(rejudge_steps=2, agree=2)
    assert s.step(False) is None and not s.user_speaking
    assert s.step(True) == "onset"
    s.judged(False)  # the user
    assert s.user_speaking and [s.step(True) for _ in range(4)] == [None] * 4  # speech stays
    assert s.step(False) is None and not s.user_speaking
    assert s.step(True) == "onset"
    s.judged(True)  # echo
    assert not s.user_speaking
    assert [s.step(True), s.step(True)] == [None, "again"]
    s.judged(False)  # one "no echo" is not enough
    assert [s.step(True), s.step(True)] == [None, "again"]
    s.judged(True)  # and the count starts over
    assert not s.user_speaking
    for _ in range(2):
        assert [s.step(True), s.step(True)] == [None, "again"]
        s.judged(False)
    assert s.user_speaking and s.talked_over == 1 and s.echo_stretches == 1
    assert s.step(True) is None  # speech now, not judged again
    s.step(False)
    assert not s.user_speaking


def _near_end(
    reply: np.ndarray, mic: np.ndarray, stamps: dict[int, float]
) -> tuple[list[bool], NearEndVad]:
    """The canceller and the near-end VAD over `mic` as the daemon runs them (960-sample
    blocks, as the rig's capture delivers): after every block, does the guard hear the user
    (the VAD says so and the canceller has converged: `EchoVad`'s two fields)?"""
    said: list[bool] = []
    near: list[NearEndVad] = []

    def each(i: int, aec: EchoCanceller, out: np.ndarray) -> None:
        if not near:
            near.append(NearEndVad(aec))
        said.append(near[0].feed(out) and aec.converged)

    _cancel(reply, mic, block=960, stamps=stamps, each=each)
    return said, near[0]


@pytest.mark.parametrize("delay_ms", [10, 40, 80])
def test_the_near_end_vad_hears_no_one_in_a_moving_echo_and_hears_a_talker_over_it(
    delay_ms: int,
) -> None:
    """The guard's word, offline, in a room whose echo path moves as the rig's did (8-25 ms
    jumps mid-reply, ADC stamps jittering): echo alone never counts as the user (a false
    barge-in would need it), and a talker over the reply counts within 350 ms of their first
    word (230-310 ms: 120 ms for the VAD, the onset often taken for echo since the window still
    holds the echo before the word, then two judgements 60 ms apart that find none), also
    right after a move. The guard waits `DEFAULT_CONFIRM_MS` for it after the service's
    speech_started, which came up to 90 ms before the VAD's onset on the rig."""
    reply = concat(speak(REPLY * 2), 0.2)[: 16 * 24000]
    echo = _echo_of(reply, delay_ms)
    for at_s, ms in ((5, 25), (9, 8), (12, 15)):  # the path gets longer, three times
        k, n = at_s * 24000, ms * 24
        echo = np.concatenate([echo[:k], np.zeros(n), echo[k : len(echo) - n]])
    stamps = {960 * k: -0.018 for k in range(50, 16 * 25, 37)}  # ~ one block a second early
    said, near = _near_end(reply, _int16(echo), stamps)
    assert not any(said) and near.echo_onsets >= 1, (near.echo_onsets, near.stretches)
    talk = speak("stop, stop, wait a moment", voice="en-gb")
    for t0 in (7 * 24000, 12 * 24000 + 12000):  # over a learnt path; 0.5 s after a move
        talked = echo.copy()
        talked[t0 : t0 + len(talk)] += talk
        said, _ = _near_end(reply, _int16(talked), stamps)
        first = said.index(True, t0 // 960 - 5) * 960
        onset = t0 + int(np.argmax(np.abs(talk) > 300))
        assert not any(said[: t0 // 960]), "no one before the talker"
        assert 0 <= first - onset <= 350 * 24 < (DEFAULT_CONFIRM_MS - 90) * 24, (first - onset) / 24
