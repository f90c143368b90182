"""`edge-agent leds test` as a user runs it: a subprocess with gpiozero's mock pin factory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RGB = '[status.led]\ntype = "rgb"\nred_pin = "GPIO17"\ngreen_pin = "GPIO27"\nblue_pin = "GPIO22"\n'


def run(tmp_path: Path, toml: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GPIOZERO_")}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", "leds", "test", "--config", str(path), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cycles_every_state_and_prints_its_name(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        RGB + 'idle = "dim #203040"\n',
        "--seconds",
        "0.05",
        GPIOZERO_PIN_FACTORY="mock",
        GPIOZERO_MOCK_PIN_CLASS="mockpwmpin",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "idle       dim #203040",
        "listening  on blue",
        "thinking   blink cyan",
        "speaking   pulse green",
        "muted      dim red",
        "error      fast_blink red",
    ]


def test_no_gpio_exits_69_with_the_reason(tmp_path: Path) -> None:
    done = run(tmp_path, RGB, "--seconds", "0", GPIOZERO_PIN_FACTORY="no-such-factory")
    assert done.returncode == 69
    assert "leds test: no gpio on this machine" in done.stderr
    assert done.stdout == ""


def test_pwm_led_without_pwm_pins_names_the_pin(tmp_path: Path) -> None:
    toml = '[status.led]\ntype = "pwm"\npin = "BOARD12"\n'
    done = run(tmp_path, toml, "--seconds", "0", GPIOZERO_PIN_FACTORY="mock")
    assert done.returncode == 69
    assert "gpio pin 'BOARD12' (status.led.pin) cannot do pwm" in done.stderr


@pytest.mark.parametrize(
    ("toml", "code", "fragment"),
    [
        ("", 78, "no status LED configured"),
        ('[status.led]\ntype = "single"\n', 78, "status.led.pin: missing"),
        ('[status.led]\ntype = "single"\npin = "GPIO17"\nidle = "glow"\n', 78, "'glow'"),
    ],
)
def test_config_problems_exit_78(tmp_path: Path, toml: str, code: int, fragment: str) -> None:
    done = run(tmp_path, toml, GPIOZERO_PIN_FACTORY="mock")
    assert done.returncode == code
    assert fragment in done.stderr
