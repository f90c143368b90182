"""Echo cancellation figures, side by side in one run (docs/audio.md quotes them).

    PYTHONPATH=. EDGE_AGENT_MODELS_DIR=... python bench/echo.py [--turns 20] [--skip-live]
        [--barge-ins-only] [--talker-turns 10]

1. Offline, a simulated room (`sim.room`: delay 10/40/80 ms, reflections, -6 dB): ERLE on
   echo alone after 3 s, and the talker's distortion during double talk (SDR, dB: talker
   energy over (output - talker) energy), for speex with its residual-echo suppressor (the
   daemon's setting), speex's linear filter alone, and no canceller.
2. Wake-word recall, offline, the real detector: 12 "hey jarvis" (two voices, three speeds)
   said in silence, and said over a reply's echo with and without the canceller.
3. Live, the real-time PulseAudio rig: the speaker's output through the room back into the
   mic (parec -> room -> pacat), Playback with the canceller's tap and Capture with the
   canceller, one 20 s reply: ERLE per second after convergence; then PulseAudio's
   module-echo-cancel (aec_method=webrtc) on the same loop.
4. Live, the whole daemon in full duplex (`sim.duplex_trial`): false barge-ins over `--turns`
   replies with echo and nobody talking, with the canceller and the guard, and without; then
   true ones: a talker over each of `--talker-turns` replies, with the canceller and the guard;
   then the wake word said over each reply in half duplex (only it can interrupt), with the
   canceller and without.

CPU of the canceller per audio second as a ratio to the wake detector's: bench/audio.py.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import subprocess
import time

import numpy as np

from edge_agent.audio.echo import EchoCanceller, EchoReference
from edge_agent.audio.resample import Resampler
from edge_agent.sim.room import RoomStream, erle_db, room_impulse_response
from edge_agent.sim.speech import concat, speak

RATE_HZ = 24000
T0 = 1000.0
REPLY_TEXT = (
    "The weather in Toronto today is sunny with a high of twenty three degrees. "
    "Tomorrow will be cloudy, with rain in the evening and a low of twelve. "
    "On the weekend it will be warmer again, and the wind will calm down."
)


def cancel_offline(
    reply: np.ndarray, mic: np.ndarray, suppress_db: int | None
) -> tuple[np.ndarray, EchoCanceller]:
    """Run the canceller over `mic` with `reply` as played (stamps exact), output aligned."""
    ref = EchoReference()
    aec = EchoCanceller(ref, tail_ms=200, suppress_db=suppress_db)
    ref.write(reply[:960], T0)
    out = []
    for i in range(0, len(mic), 480):
        ref.write(reply[i + 960 : i + 1440], T0 + (i + 960) / RATE_HZ)
        out.append(aec.process(mic[i : i + 480], T0 + i / RATE_HZ))
    got = np.concatenate(out)
    lag = aec.frame if suppress_db is not None else 0
    got = np.concatenate([got[lag:], np.zeros(lag, np.int16)])[: len(mic)]
    return got, aec


def room_mix(
    reply: np.ndarray, talk: np.ndarray, at: int, delay_ms: float, gain_db: float = -6.0
) -> np.ndarray:
    echo = RoomStream(room_impulse_response(delay_ms=delay_ms, gain_db=gain_db)).process(reply)
    mic = echo + np.random.default_rng(1).normal(0, 30, len(echo))
    mic[at : at + len(talk)] += talk
    return np.clip(np.rint(mic), -32768, 32767).astype(np.int16)


def sdr_db(talk: np.ndarray, got: np.ndarray) -> float:
    t = talk.astype(np.float64)
    return float(10 * np.log10(np.sum(t**2) / np.sum((got.astype(np.float64) - t) ** 2)))


def offline_erle() -> None:
    reply = concat(speak(REPLY_TEXT), 0.2)
    talk = speak("hey jarvis, stop", voice="en-gb")
    at = len(reply) - len(talk) - 12000
    print("1. offline room, -6 dB echo: ERLE on echo alone (3 s before the talker), SDR of the")
    print("   talker during double talk; speex+suppressor is the daemon's setting")
    for delay in (10, 40, 80):
        mic = room_mix(reply, talk, at, delay)
        quiet, dt = slice(at - 3 * RATE_HZ, at), slice(at, at + len(talk))
        row = [f"  delay {delay:2d} ms:"]
        for name, sup in (("speex+suppressor", -40), ("speex linear", None)):
            got, _ = cancel_offline(reply, mic, sup)
            row.append(
                f"{name} ERLE {erle_db(mic[quiet], got[quiet]):5.1f} dB, "
                f"SDR {sdr_db(talk, got[dt]):5.1f} dB;"
            )
        row.append(f"none: SDR {sdr_db(talk, mic[dt]):5.1f} dB")
        print(" ".join(row))


def wake_recall() -> None:
    from edge_agent.config import Config
    from edge_agent.wake.detector import WakeDetector
    from edge_agent.wake.models import resolve_models

    cfg = Config()
    paths = resolve_models(cfg)
    words = [
        speak("hey jarvis", voice=v, speed_wpm=s)
        for v in ("en-us", "en-gb")
        for s in (130, 150, 175)
    ] * 2
    reply = concat(speak(REPLY_TEXT + " " + REPLY_TEXT), 0.2)  # ~20 s of echo
    slot = len(reply) // len(words)

    def layout(with_reply: bool) -> tuple[np.ndarray, np.ndarray, list[int]]:
        talk = np.zeros(len(reply))
        starts = []
        for k, w in enumerate(words):
            s = k * slot + slot // 3
            talk[s : s + len(w)] += w
            starts.append(s)
        played = reply if with_reply else np.zeros_like(reply)
        echo = RoomStream(room_impulse_response(delay_ms=40, gain_db=-6)).process(played)
        noise = np.random.default_rng(3).normal(0, 30, len(reply))
        mic = np.clip(np.rint(echo + talk + noise), -32768, 32767).astype(np.int16)
        return mic, played.astype(np.int16), starts

    def recall(audio: np.ndarray, starts: list[int]) -> tuple[int, int]:
        det = WakeDetector(cfg.wake, paths)
        pcm16 = Resampler(RATE_HZ, 16000).process(audio)
        hits: list[int] = []
        for i in range(0, len(pcm16) - 1280, 1280):
            hits += [d.sample_16k * 3 // 2 for d in det.process(pcm16[i : i + 1280])]
        found = sum(any(s <= h <= s + slot for h in hits) for s in starts)
        stray = sum(not any(s <= h <= s + slot for s in starts) for h in hits)
        return found, stray

    print(f"2. wake-word recall, {len(words)} 'hey jarvis' (2 voices x 3 speeds, twice), offline")
    mic, _, starts = layout(False)
    found, stray = recall(mic, starts)
    print(f"  in silence:                            {found}/{len(words)} ({stray} stray)")
    mic, played, starts = layout(True)
    got, _ = cancel_offline(played, mic, -40)
    found_aec, stray = recall(got, starts)
    print(f"  over a reply's echo, speex canceller:  {found_aec}/{len(words)} ({stray} stray)")
    found_raw, stray = recall(mic, starts)
    print(f"  over a reply's echo, no canceller:     {found_raw}/{len(words)} ({stray} stray)")


async def live_erle(delay_ms: float, seconds_shown: int = 20) -> list[float]:
    """ERLE per second of one long reply, Playback(tap) -> room -> Capture(canceller)."""
    from edge_agent.audio.capture import Capture
    from edge_agent.audio.echo import echo_parts
    from edge_agent.audio.playback import Playback
    from edge_agent.config import AudioConfig
    from edge_agent.sim.pipeline_rig import trim_silence
    from edge_agent.sim.pulse_rig import PulseRig

    raw: list[np.ndarray] = []
    cooked: list[np.ndarray] = []
    with PulseRig() as rig, rig.activate():
        cfg = AudioConfig(input_device="vmic", output_device="vspk", echo_cancel="speex")
        parts = echo_parts(cfg)
        assert parts is not None
        ref, aec = parts

        class Spy:
            def process(self, s: np.ndarray, t: float) -> np.ndarray:
                raw.append(np.asarray(s).copy())
                out = aec.process(s, t)
                cooked.append(out.copy())
                return out

            def reset(self) -> None:
                aec.reset()

        pb = Playback(cfg, tap=ref.write, keep_running=True)
        cap = Capture(cfg, processor=Spy())
        await pb.start()
        await cap.start()
        rig.room(room_impulse_response(delay_ms=delay_ms, gain_db=-6))
        pb.write(trim_silence(speak(REPLY_TEXT + " " + REPLY_TEXT)))
        await pb.drain()
        await cap.aclose()
        await pb.aclose()
    out = np.concatenate(cooked)[aec.frame :]
    mic = np.concatenate(raw)[: len(out)]
    return [
        erle_db(mic[i : i + RATE_HZ], out[i : i + RATE_HZ])
        for i in range(0, len(out) - RATE_HZ, RATE_HZ)
    ][:seconds_shown]


def live_webrtc(delay_ms: float) -> list[float] | str:
    """PulseAudio's module-echo-cancel (webrtc) on the same room loop: ERLE per second of the
    echo-cancelled source against the raw mic, both recorded by parec."""
    from edge_agent.sim.pipeline_rig import trim_silence
    from edge_agent.sim.pulse_rig import PulseRig

    with PulseRig() as rig:
        try:
            rig.pactl(
                "load-module", "module-echo-cancel", "aec_method=webrtc",
                "source_master=vmicfeed.monitor", "sink_master=vspk",
                "source_name=ec_src", "sink_name=ec_sink", "use_master_format=1",
                'aec_args="analog_gain_control=0 digital_gain_control=0"',
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            return f"module-echo-cancel did not load: {exc.stderr or exc}"
        rig.room(room_impulse_response(delay_ms=delay_ms, gain_db=-6))
        raw_rec = rig.record("vmicfeed.monitor")
        ec_rec = rig.record("ec_src")
        time.sleep(0.5)
        reply = trim_silence(speak(REPLY_TEXT + " " + REPLY_TEXT))
        path = rig.dir / "reply.raw"
        path.write_bytes(reply.tobytes())
        subprocess.run(
            [*rig._pa_args("pacat", "ec_sink"), "-p", str(path)], env=rig.helper_env, check=True
        )
        time.sleep(0.5)
        mic, out = raw_rec.stop(), ec_rec.stop()

    # the two recordings start a few ms apart: align them where the (not yet cancelled)
    # echo at the start of the reply matches best
    n = min(len(mic), len(out))
    a, b = mic[:n].astype(np.float64), out[:n].astype(np.float64)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    xc = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    k = int(np.argmax(np.concatenate((xc[-4800:], xc[:4800])))) - 4800  # within +-200 ms
    mic, out = (mic[k:], out) if k >= 0 else (mic, out[-k:])
    n = min(len(mic), len(out))
    loud = np.flatnonzero(np.abs(mic[:n].astype(np.int32)) > 300)
    m0 = int(loud[0]) if len(loud) else 0
    mic, out = mic[m0:n], out[m0:n]
    return [
        erle_db(mic[i : i + RATE_HZ], out[i : i + RATE_HZ])
        for i in range(0, len(mic) - RATE_HZ, RATE_HZ)
    ][:20]


async def barge_ins(turns: int, talker_turns: int = 0) -> None:
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from edge_agent.config import (
        AudioConfig,
        ButtonsConfig,
        Config,
        ConversationConfig,
        RealtimeConfig,
        StatusConfig,
    )
    from edge_agent.sim.duplex_trial import duplex_config, run_echo_trial

    base = Config(
        audio=AudioConfig(playback_start_ms=200),
        realtime=RealtimeConfig(silence_duration_ms=400, connect_timeout_s=5.0),
        conversation=ConversationConfig(follow_up_s=0.0, no_speech_timeout_s=2.0),
        status=StatusConfig(buttons=ButtonsConfig(talk_pin="GPIO5")),
    )
    print(f"4. the daemon in full duplex, {turns} replies echoing at -6 dB, 40 ms, nobody talking")
    for mode in ("speex", "off"):
        pins = MockFactory(pin_class=MockPWMPin)
        try:
            r = await run_echo_trial(duplex_config(base, echo_cancel=mode), pins, turns=turns)
        finally:
            pins.reset()
        label = "speex + guard" if mode == "speex" else "off, time guard only"
        print(
            f"  echo_cancel={mode} ({label}): {r.false_barge_ins} false barge-ins in "
            f"{len(r.outcomes)} turns ({r.replies} replies began), {r.ignored} speech starts "
            f"ignored; mic streamed {r.streamed_s:.1f} of {r.speaking_s:.1f} s of replies; "
            f"delay {r.delay_ms}; {r.asked} of {turns} questions asked (else: never idle "
            f"again); rig faults (overflows, underruns) {r.rig_faults}"
        )
    if not talker_turns:
        return
    from edge_agent.sim.pipeline_rig import trim_silence
    from edge_agent.sim.speech import speak as say

    talker = trim_silence(say("stop, wait a moment please", voice="en-gb"))
    pins = MockFactory(pin_class=MockPWMPin)
    try:
        cfg = duplex_config(base, echo_cancel="speex")
        r = await run_echo_trial(cfg, pins, turns=talker_turns, talker=talker)
    finally:
        pins.reset()
    print(
        f"  echo_cancel=speex, a talker over each reply 1.5 s in: {r.interrupted} of {r.talked} "
        f"replies interrupted (talker fed -> reply stopped: {_span(r.reactions_s)}); "
        f"rig faults {r.rig_faults}"
    )
    wake = trim_silence(say("hey jarvis"))
    for mode in ("speex", "off"):  # half duplex: only the wake word can interrupt
        pins = MockFactory(pin_class=MockPWMPin)
        cfg = dataclasses.replace(
            base, audio=dataclasses.replace(base.audio, duplex="half", echo_cancel=mode)
        )
        try:
            r = await run_echo_trial(cfg, pins, turns=talker_turns, talker=wake, talk_from=1)
        finally:
            pins.reset()
        print(
            f"  half duplex, echo_cancel={mode}, 'hey jarvis' over each reply 1.5 s in (from "
            f"the second): the wake word interrupted {r.interrupted} of {r.talked} (fed -> "
            f"stopped: {_span(r.reactions_s)}); rig faults {r.rig_faults}"
        )


def _span(values: tuple[float, ...]) -> str:
    v = sorted(values)
    return f"{v[0]:.2f}-{v[-1]:.2f} s" if v else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=20, help="replies in the barge-in trial")
    ap.add_argument("--skip-live", action="store_true", help="only the offline figures")
    ap.add_argument("--barge-ins-only", action="store_true", help="only part 4")
    ap.add_argument(
        "--talker-turns", type=int, default=10, help="part 4: replies a talker speaks over"
    )
    args = ap.parse_args()
    logging.getLogger("edge_agent").setLevel(logging.ERROR)
    if args.barge_ins_only:
        asyncio.run(barge_ins(args.turns, args.talker_turns))
        return
    offline_erle()
    wake_recall()
    if args.skip_live:
        return
    print("3. live rig, room loop: ERLE per second of a 20 s reply (dB)")
    for delay in (10, 40, 80):
        ours = asyncio.run(live_erle(delay))
        print(f"  delay {delay:2d} ms, speex (ours):  " + " ".join(f"{e:4.0f}" for e in ours))
        theirs = live_webrtc(delay)
        shown = theirs if isinstance(theirs, str) else " ".join(f"{e:4.0f}" for e in theirs)
        print(f"  delay {delay:2d} ms, pulse webrtc:  {shown}")
    asyncio.run(barge_ins(args.turns, args.talker_turns))


if __name__ == "__main__":
    main()
