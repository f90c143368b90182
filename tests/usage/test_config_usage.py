"""[usage], [[usage.prices]], [budget] and the new [realtime] keys: parsed, checked, dumped."""

from __future__ import annotations

import pytest

from edge_agent.config import PriceConfig, dump_toml, parse_config
from edge_agent.errors import ConfigError

ENV = {"OPENAI_API_KEY": "sk-test-0123456789"}
ROW = """
[[usage.prices]]
model = "{model}"
text_in = 1.0
text_cached = 0.1
text_out = 2.0
audio_in = 3.0
audio_cached = 0.3
audio_out = 4.0
"""


def test_price_rows_and_budget_parse() -> None:
    cfg = parse_config(
        ROW.format(model="gpt-realtime-2.1")
        + '[budget]\ndaily_usd = 1.5\nmonthly_usd = 20\naction = "mini"\n',
        env=ENV,
    )
    assert cfg.usage.prices == (PriceConfig("gpt-realtime-2.1", 1.0, 0.1, 2.0, 3.0, 0.3, 4.0),)
    assert (cfg.budget.daily_usd, cfg.budget.monthly_usd, cfg.budget.action) == (1.5, 20.0, "mini")


def test_the_effective_config_dumps_and_parses_back() -> None:
    cfg = parse_config(ROW.format(model="a") + ROW.format(model="b"), env=ENV)
    again = parse_config(dump_toml(cfg), env=ENV)
    assert again.usage == cfg.usage and again.budget == cfg.budget
    assert [r.model for r in again.usage.prices] == ["a", "b"]


def test_defaults_are_the_current_model_and_no_budget() -> None:
    cfg = parse_config("", env=ENV)
    assert cfg.realtime.model == "gpt-realtime-2.1"
    assert (cfg.budget.daily_usd, cfg.budget.monthly_usd, cfg.budget.action) == (0.0, 0.0, "warn")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            ROW.format(model="m") + ROW.format(model="m"),
            "usage.prices[1].model = 'm': already priced by usage.prices[0]; keep one row per "
            "model",
        ),
        (ROW.format(model=" "), "usage.prices[0].model: empty; name the model it prices"),
        (
            '[[usage.prices]]\nmodel = "m"\ntext_in = 1.0\n',
            "usage.prices[0].text_cached: missing; expected cached text input, USD per 1M tokens",
        ),
        (
            ROW.format(model="m").replace("audio_out = 4.0", "audio_out = -1"),
            "usage.prices[0].audio_out = -1: expected a number between 0.0 and 1000.0",
        ),
        (
            '[budget]\naction = "stop"\n',
            "budget.action = 'stop': expected one of 'warn', 'mini', 'refuse' (default 'warn')",
        ),
        ('[budget]\nmini_model = ""\n', "budget.mini_model: empty; name a cheaper model"),
        (
            '[status.led]\nbudget = "wobble"\n',
            "status.led.budget = 'wobble'",
        ),
        (
            '[realtime]\nturn_detection = "semantic"\n',
            "realtime.turn_detection = 'semantic': expected one of 'server_vad', 'semantic_vad'",
        ),
        (
            '[realtime]\nreasoning_effort = "max"\n',
            "realtime.reasoning_effort = 'max': expected one of 'minimal', 'low', 'medium', "
            "'high', 'xhigh'",
        ),
    ],
)
def test_bad_values_name_file_key_and_fix(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="/etc/edge-agent/config.toml", env=ENV)
    assert any(
        m.startswith("/etc/edge-agent/config.toml: ") and expected in m for m in info.value.messages
    ), info.value.messages
