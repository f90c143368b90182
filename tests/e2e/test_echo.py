"""Full duplex in a simulated room, the whole daemon: the speaker's output comes back into the mic
(PulseAudio rig, `PulseRig.room`: 40 ms, reflections, -6 dB) and the service's VAD hears what
the device streams. With the speex canceller the daemon measures the echo path and streams
through its replies; the control shows the room's echo interrupts a reply without it.

Not here: "20 replies with echo and nobody talking never barge in" and "the wake word
interrupts a reply over its own echo" are not met yet (0-11 false barge-ins per 20 replies
on a busy 2-core machine): they are measured by bench/echo.py (part 4), not asserted, until
they hold (docs/audio.md)."""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from edge_agent.sim.duplex_trial import duplex_config, run_echo_trial

from .conftest import e2e_config


async def test_with_the_canceller_the_daemon_measures_the_echo_and_streams_its_replies(
    pins: MockFactory,
) -> None:
    """The wiring: with audio.echo_cancel = "speex" the canceller sits in the daemon's mic path,
    measures the room's echo path from the first reply (the rig's loop: 150-450 ms beyond the
    stamps) and full duplex then streams the mic through the replies."""
    cfg = duplex_config(e2e_config(follow_up_s=0.0), echo_cancel="speex")
    trial = await run_echo_trial(cfg, pins, turns=3, turn_timeout_s=20)
    assert trial.asked == 3 and trial.replies >= 3, trial
    assert trial.delay_ms is not None and 50 < trial.delay_ms < 1000, trial
    assert trial.streamed_s > 0.5 * trial.speaking_s, trial  # half duplex would stream 0 s


async def test_without_the_canceller_the_same_echo_interrupts_the_reply(pins: MockFactory) -> None:
    """The control: the room's echo is loud enough for the service's VAD, so the test above
    could fail. Without a canceller only the first conversation.barge_guard_ms of a reply are
    guarded: echo that starts again after a pause in the reply interrupts it. (With replies
    of one sentence the echo starts within the guarded first 300 ms and holds the service's
    VAD in one "speech" to the end: 0 barge-ins in 20 such replies.)"""
    cfg = duplex_config(e2e_config(follow_up_s=0.0), echo_cancel="off")
    trial = await run_echo_trial(cfg, pins, turns=3, turn_timeout_s=20, pause_s=1.0)
    assert trial.false_barge_ins >= 1, trial
