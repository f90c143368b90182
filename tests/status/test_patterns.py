"""Pattern strings → frames (pure), and the [status] checks `config check` runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.cli import main
from edge_agent.config import LedConfig, StatusConfig, parse_config
from edge_agent.errors import ConfigError
from edge_agent.status.patterns import (
    DIM_LEVEL,
    STATE_KEYS,
    TICK_S,
    Pattern,
    PatternError,
    frames,
    led_patterns,
    parse_pattern,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", Pattern("off")),
        ("dim", Pattern("dim")),
        ("  pulse  ", Pattern("pulse")),
        ("ON red", Pattern("on", (1.0, 0.0, 0.0), "red")),
        ("pulse blue", Pattern("pulse", (0.0, 0.0, 1.0), "blue")),
        ("blink #ff8000", Pattern("blink", (1.0, 128 / 255, 0.0), "#ff8000")),
        ("fast_blink green", Pattern("fast_blink", (0.0, 1.0, 0.0), "green")),
    ],
)
def test_parse_pattern(text: str, expected: Pattern) -> None:
    got = parse_pattern(text)
    assert got.shape == expected.shape and got.colour_name == expected.colour_name
    assert got.colour == pytest.approx(expected.colour) if expected.colour else got.colour is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty pattern"),
        ("blnk", "unknown pattern 'blnk'"),
        ("pulse bleu", "unknown colour 'bleu'"),
        ("on red green", "unknown colour 'red green'"),
    ],
)
def test_parse_pattern_rejects(text: str, fragment: str) -> None:
    with pytest.raises(PatternError, match=fragment):
        parse_pattern(text)


def test_blink_is_half_a_second_on_and_off() -> None:
    period = frames(parse_pattern("blink"))
    assert len(period) == round(1.0 / TICK_S)
    ons = [f for f in period if f == (1.0, 1.0, 1.0)]
    assert len(ons) == round(0.5 / TICK_S)
    assert set(period) == {(1.0, 1.0, 1.0), (0.0, 0.0, 0.0)}


def test_pulse_fades_through_levels_and_respects_brightness() -> None:
    period = frames(parse_pattern("pulse green"), brightness=0.5)
    greens = [f[1] for f in period]
    assert {f[0] for f in period} == {0.0} and {f[2] for f in period} == {0.0}
    assert max(greens) == pytest.approx(0.5) and min(greens) == 0.0
    assert len({round(g, 2) for g in greens}) > 10  # a fade, not a blink


def test_dim_is_a_low_level_or_a_short_flash() -> None:
    assert frames(parse_pattern("dim red")) == ((DIM_LEVEL, 0.0, 0.0),)
    flash = frames(parse_pattern("dim"), dimmable=False)
    assert sum(1 for f in flash if f[0]) * TICK_S == pytest.approx(0.1)
    assert len(flash) * TICK_S == pytest.approx(2.0)


def test_mono_leds_ignore_colour() -> None:
    assert frames(parse_pattern("on red"), colour=False) == ((1.0, 1.0, 1.0),)
    assert frames(parse_pattern("on red"), dimmable=False, brightness=0.3) == ((1.0, 0.0, 0.0),)


@pytest.mark.parametrize(("dimmable", "colour"), [(False, False), (True, False), (True, True)])
def test_default_patterns_tell_every_state_apart(dimmable: bool, colour: bool) -> None:
    """single, pwm and rgb LEDs: no two states look the same with the defaults."""
    shown = {
        key: frames(p, dimmable=dimmable, colour=colour)
        for key, p in led_patterns(LedConfig()).items()
    }
    assert sorted(shown) == sorted(STATE_KEYS)
    assert len(set(shown.values())) == len(STATE_KEYS)


def test_bad_pattern_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[status.led]\nthinking = "spin"\n', source="c.toml", require_api_key=False)
    assert info.value.messages == [
        "c.toml: status.led.thinking = 'spin': unknown pattern 'spin'; expected one of off, dim, "
        "on, blink, fast_blink, pulse, optionally followed by a colour (e.g. 'pulse blue')"
    ]


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('type = "pwm"', "status.led.pin: missing"),
        ('type = "rgb"\nred_pin = "GPIO17"', "status.led.green_pin: missing"),
        ('type = "single"\npin = "GPIO17"\nerror = "blink purpel"', "unknown colour 'purpel'"),
    ],
)
def test_led_checks(toml: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_config(f"[status.led]\n{toml}\n", require_api_key=False)


def test_pins_must_differ_and_levels_must_fit_the_pull() -> None:
    text = (
        '[status.led]\ntype = "single"\npin = "GPIO17"\n'
        '[status.buttons]\nmute_pin = "gpio17"\npull = "none"\n'
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.toml", require_api_key=False)
    text = "\n".join(info.value.messages)
    assert "status.buttons.mute_pin = 'gpio17': already used by status.led.pin" in text
    assert "status.buttons.active = 'auto'" in text


def test_valid_status_section_parses() -> None:
    cfg = parse_config(
        '[status.led]\ntype = "rgb"\nred_pin = "GPIO17"\ngreen_pin = "GPIO27"\n'
        'blue_pin = "GPIO22"\nidle = "dim blue"\n'
        '[status.buttons]\nmute_pin = "GPIO5"\ntalk_pin = "GPIO6"\npull = "none"\n'
        'active = "high"\n',
        require_api_key=False,
    )
    assert cfg.status.led.idle == "dim blue" and cfg.status.buttons.active == "high"
    assert cfg.status == StatusConfig(led=cfg.status.led, buttons=cfg.status.buttons)


def test_config_check_exits_78_on_a_bad_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[status.led]\nmuted = "on rde"\n')
    assert main(["config", "check", "--no-api-key", "--config", str(path)]) == 78
    assert "status.led.muted = 'on rde': unknown colour 'rde'" in capsys.readouterr().err
