"""Format negotiation with the format tables of real devices, and the in-process conversion."""

from __future__ import annotations

import numpy as np
import pytest
import soxr  # type: ignore[import-untyped]

from edge_agent.audio.convert import CaptureConverter, PlaybackConverter, downmix, upmix
from edge_agent.audio.formats import (
    FormatChoice,
    candidate_formats,
    choose_format,
    open_error,
    probe_formats,
)
from edge_agent.errors import AudioFormatError
from edge_agent.sim.alsa import AlsaFileRig

ALL_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000)
# What PortAudio's is_format_supported answers for real devices opened as hw: (16-bit)
USB_MIC_48K_STEREO = {(48000, 2)}  # e.g. a cheap USB lavalier mic as hw:1,0
RESPEAKER_USB_1CH = {(16000, 1)}  # ReSpeaker USB Mic Array v2.0, 1-channel firmware
RESPEAKER_USB_6CH = {(16000, 6)}  # same, 6-channel firmware (0 = processed, 1-4 raw mics)
USB_DAC_44K = {(44100, 2)}  # a USB DAC that plays 44.1 kHz stereo only
WM8960_HAT = {(r, 2) for r in (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)}
PLUG_DEVICE = {(r, c) for r in ALL_RATES for c in (1, 2, 4, 6, 8)}  # plughw:/default/pulse


def test_48k_stereo_usb_mic_is_opened_at_48k_stereo_and_averaged() -> None:
    assert choose_format(USB_MIC_48K_STEREO, "input", device="USB PnP") == FormatChoice(
        rate_hz=48000,
        channels=2,
        input_channel=None,
        reason="24000 Hz not offered (offers 48000): resampled in-process with soxr; "
        "mono not offered: the 2 channels are averaged",
    )


def test_16k_only_mic_is_opened_at_16k_mono() -> None:
    assert choose_format(RESPEAKER_USB_1CH, "input") == FormatChoice(
        16000, 1, None, "24000 Hz not offered (offers 16000): resampled in-process with soxr; "
        "mono offered"
    )  # fmt: skip


def test_44k_speaker_gets_the_reply_upsampled_and_on_both_channels() -> None:
    assert choose_format(USB_DAC_44K, "output") == FormatChoice(
        44100, 2, None, "24000 Hz not offered (offers 44100): resampled in-process with soxr; "
        "mono not offered: the reply is copied to all 2 channels"
    )  # fmt: skip


def test_a_plug_device_is_native_and_a_hat_keeps_24k() -> None:
    native = choose_format(PLUG_DEVICE, "input")
    assert native == FormatChoice(24000, 1, None, "24000 Hz offered; mono offered")
    assert native.native
    hat = choose_format(WM8960_HAT, "input", input_channel=1)
    assert hat == FormatChoice(24000, 2, 1, "24000 Hz offered; audio.input_channel = 1 of 2")


def test_input_channel_picks_a_channel_count_that_has_it() -> None:
    assert choose_format(RESPEAKER_USB_6CH, "input", input_channel=0).input_channel == 0
    with pytest.raises(AudioFormatError, match=r"has no channel 6 .*0\.\.5"):
        choose_format(RESPEAKER_USB_6CH, "input", device="ReSpeaker", input_channel=6)


def test_nearest_rate_prefers_no_loss_of_band_then_closest() -> None:
    assert choose_format({(16000, 1), (44100, 1)}, "input").rate_hz == 44100
    assert choose_format({(16000, 1), (8000, 1)}, "input").rate_hz == 16000
    assert choose_format({(96000, 2), (32000, 2)}, "output").rate_hz == 32000


def test_nothing_usable_is_a_format_error_with_the_fix() -> None:
    with pytest.raises(AudioFormatError) as err:
        choose_format(set(), "input", device="hw:2,0")
    msg = str(err.value)
    assert "format problem, not a missing device" in msg and "'plughw:'" in msg


def test_probe_asks_the_device_and_stops_at_native() -> None:
    asked: list[tuple[int, int]] = []

    def supports(rate: int, ch: int) -> bool:
        asked.append((rate, ch))
        return (rate, ch) in USB_MIC_48K_STEREO or (rate, ch) == (24000, 1)

    cands = candidate_formats(2)
    assert probe_formats(supports, cands) == {(24000, 1)}
    assert asked == [(24000, 1)]
    asked.clear()
    assert probe_formats(supports, cands, stop_at_native=False) == {(24000, 1), (48000, 2)}
    assert len(asked) == len(cands) == 16
    assert (6, 7) not in candidate_formats(6, input_channel=6)  # sanity: pairs are (rate, ch)
    assert {c for _, c in candidate_formats(6, input_channel=4)} == {1, 2, 4, 5, 6}


def test_open_error_names_the_kind_of_problem() -> None:
    choice = FormatChoice(48000, 2, None, "24000 Hz not offered (offers 48000)")
    fmt = open_error("capture", "hw:1,0", choice, OSError(-9997, "Invalid sample rate"))
    assert isinstance(fmt, AudioFormatError) and "format problem" in str(fmt)
    busy = open_error("capture", "hw:1,0", choice, OSError(-9985, "Device unavailable"))
    assert "another program holds it" in str(busy) and not isinstance(busy, AudioFormatError)
    other = open_error("playback", "x", choice, OSError(-9999, "Unanticipated host error"))
    assert "check it is plugged in" in str(other)


def _snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref = ref.astype(np.float64)
    err = got.astype(np.float64) - ref
    return 10 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-9))


def test_capture_converter_matches_a_reference_resample_chunk_by_chunk() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(48000 * 2) / 48000
    left = 8000 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 500, len(t))
    right = 6000 * np.sin(2 * np.pi * 1000 * t)
    stereo = np.column_stack([left, right]).round().astype(np.int16).ravel()
    conv = CaptureConverter(FormatChoice(48000, 2, None, ""))
    out = np.concatenate([conv.process(stereo[i : i + 3840]) for i in range(0, len(stereo), 3840)])
    mono = downmix(stereo, 2, None)
    ref = soxr.resample(mono, 48000, 24000, quality="HQ")
    n = min(len(out), len(ref)) - 2400  # the stream's tail is still in the filter
    assert len(out) >= 48000 - 2400
    assert _snr_db(ref[1200:n], out[1200:n]) >= 40
    picked = CaptureConverter(FormatChoice(48000, 2, 1, "")).process(stereo)
    assert _snr_db(soxr.resample(stereo[1::2], 48000, 24000)[1200:40000], picked[1200:40000]) > 40


def test_downmix_and_upmix_literal() -> None:
    frames = np.array([100, 300, -5, -6, 32767, 32767], np.int16)
    assert downmix(frames, 2, None).tolist() == [200, -6, 32767]
    assert downmix(frames, 2, 0).tolist() == [100, -5, 32767]
    assert upmix(np.array([1, -2], np.int16), 2).tolist() == [1, 1, -2, -2]


def test_playback_converter_resamples_a_reply_and_flushes_its_tail() -> None:
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(24000) / 24000)).astype(np.int16)
    conv = PlaybackConverter(FormatChoice(44100, 2, None, ""))
    out = np.concatenate([conv.process(tone[i : i + 480]) for i in range(0, 24000, 480)])
    out = np.concatenate([out, conv.flush()])
    assert abs(len(out) - 44100) <= 2
    ref = soxr.resample(tone, 24000, 44100, quality="HQ")
    assert _snr_db(ref[2000:40000], out[2000:40000]) >= 40
    assert conv.process(tone[:480]).dtype == np.int16  # a new reply starts a fresh filter


def _only(table: set[tuple[int, int]]):  # type: ignore[no-untyped-def]
    return lambda pa, device, kind: lambda rate, ch: (rate, ch) in table


def test_one_shot_recording_of_a_48k_stereo_device_is_24k_mono(alsa_rig: AlsaFileRig) -> None:
    from edge_agent.audio.devices import find_device, open_pyaudio
    from edge_agent.audio.probe import record_blocking

    t = np.arange(48000 * 2) / 48000
    left = (8000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    stereo = np.column_stack([left, left // 3]).ravel()
    alsa_rig.write_input(stereo)
    pa = open_pyaudio()
    try:
        dev = find_device(pa, "fakemic", "input")
        choice, got = record_blocking(pa, dev, 1.0, None, _only(USB_MIC_48K_STEREO))
        with pytest.raises(AudioFormatError, match="format problem, not a missing device"):
            record_blocking(pa, dev, 0.1, None, _only(set()))
    finally:
        pa.terminate()
    assert (choice.rate_hz, choice.channels) == (48000, 2) and len(got) == 24000
    ref = soxr.resample(downmix(stereo, 2, None), 48000, 24000)
    assert _snr_db(ref[1200:22000], got[1200:22000]) >= 40
