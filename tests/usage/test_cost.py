"""cost.py and prices.py: USD from recorded response.done usage objects, for every model."""

from __future__ import annotations

import json

import pytest

from edge_agent.realtime import protocol as p
from edge_agent.realtime.events import Usage
from edge_agent.realtime.models import MODELS
from edge_agent.usage.cost import Cost, cost_of
from edge_agent.usage.prices import SHIPPED_PRICES, Prices, PriceTable
from tests.realtime.conftest import SERVER_EVENTS

#: a response.done as the service sends it (SDK-validated below): 1200 tokens in, 768 cached
RECORDED = {
    "type": "response.done",
    "event_id": "event_42",
    "response": {
        "id": "resp_7",
        "object": "realtime.response",
        "status": "completed",
        "output": [],
        "usage": {
            "total_tokens": 1450,
            "input_tokens": 1200,
            "output_tokens": 250,
            "input_token_details": {
                "text_tokens": 400,
                "audio_tokens": 800,
                "image_tokens": 0,
                "cached_tokens": 768,
                "cached_tokens_details": {"text_tokens": 384, "audio_tokens": 384},
            },
            "output_token_details": {"text_tokens": 50, "audio_tokens": 200},
        },
    },
}


def recorded_usage() -> Usage:
    SERVER_EVENTS.validate_python(RECORDED)
    ev = p.parse_server_event(json.dumps(RECORDED))
    assert isinstance(ev, p.ResponseDone)
    return ev.usage


# 16 text + 416 audio uncached, 384 + 384 cached, 50 text + 200 audio out
V2 = 16 * 4 + 384 * 0.4 + 50 * 24 + 416 * 32 + 384 * 0.4 + 200 * 64  # micro-USD
V1_5 = 16 * 4 + 384 * 0.4 + 50 * 16 + 416 * 32 + 384 * 0.4 + 200 * 64
MINI = 16 * 0.6 + 384 * 0.06 + 50 * 2.4 + 416 * 10 + 384 * 0.3 + 200 * 20
EXPECTED_USD = {
    "gpt-realtime-2.1": 0.0276832,
    "gpt-realtime-2": 0.0276832,
    "gpt-realtime-2.1-mini": 0.00842784,
    "gpt-realtime-1.5": 0.0272832,
    "gpt-realtime": 0.0272832,
    "gpt-realtime-2025-08-28": 0.0272832,
    "gpt-realtime-mini": 0.00842784,
    "gpt-realtime-mini-2025-10-06": 0.00842784,
    "gpt-realtime-mini-2025-12-15": 0.00842784,
}


def test_the_expected_figures_are_the_hand_sums() -> None:
    assert pytest.approx(EXPECTED_USD["gpt-realtime-2.1"], rel=1e-12) == V2 / 1e6
    assert pytest.approx(EXPECTED_USD["gpt-realtime-1.5"], rel=1e-12) == V1_5 / 1e6
    assert pytest.approx(EXPECTED_USD["gpt-realtime-2.1-mini"], rel=1e-12) == MINI / 1e6


def test_every_shipped_model_is_priced_and_tested() -> None:
    assert set(EXPECTED_USD) == set(SHIPPED_PRICES) == set(MODELS)


@pytest.mark.parametrize("model", sorted(EXPECTED_USD))
def test_cost_of_a_recorded_response_per_model(model: str) -> None:
    cost = cost_of(recorded_usage(), SHIPPED_PRICES[model])
    assert cost.total == pytest.approx(EXPECTED_USD[model], rel=1e-9)


def test_the_split_is_the_bill_lines() -> None:
    cost = cost_of(recorded_usage(), SHIPPED_PRICES["gpt-realtime-2.1"])
    assert _fields(cost) == pytest.approx(
        [0.000064, 0.0001536, 0.0012, 0.013312, 0.0001536, 0.0128], rel=1e-9
    )


def _fields(cost: Cost) -> list[float]:
    return [getattr(cost, f) for f in Cost.__slots__]


def test_cached_tokens_are_billed_at_the_cached_rate() -> None:
    prices = SHIPPED_PRICES["gpt-realtime-2.1"]
    cold = Usage(input_tokens=1000, input_audio_tokens=1000)
    warm = Usage(
        input_tokens=1000, input_audio_tokens=1000, cached_tokens=900, cached_audio_tokens=900
    )
    assert cost_of(cold, prices).total == pytest.approx(0.032)
    assert cost_of(warm, prices).total == pytest.approx(100 * 32e-6 + 900 * 0.4e-6)


def test_usage_without_details_is_billed_as_audio() -> None:
    """The dearer kind: a budget must not under-count what the service left undetailed."""
    usage = Usage(input_tokens=1000, cached_tokens=400, output_tokens=100)
    cost = cost_of(usage, SHIPPED_PRICES["gpt-realtime-2.1"])
    assert _fields(cost) == pytest.approx([0, 0, 0, 600 * 32e-6, 400 * 0.4e-6, 100 * 64e-6])


def test_cached_details_larger_than_the_input_are_capped() -> None:
    usage = Usage(input_text_tokens=10, cached_text_tokens=50, cached_tokens=50)
    cost = cost_of(usage, SHIPPED_PRICES["gpt-realtime-2.1"])
    assert _fields(cost) == pytest.approx([0, 10 * 0.4e-6, 0, 0, 0, 0])


def test_negative_counts_from_a_hostile_frame_count_as_zero() -> None:
    usage = Usage(input_tokens=-5, input_audio_tokens=-5, output_audio_tokens=-100)
    assert cost_of(usage, SHIPPED_PRICES["gpt-realtime-2.1"]).total == 0.0


def test_a_config_row_replaces_the_shipped_one() -> None:
    mine = Prices(1, 0.1, 2, 3, 0.3, 4)
    table = PriceTable([("gpt-realtime-2.1", mine), ("my-azure-deployment", mine)])
    assert table.get("gpt-realtime-2.1") == mine
    assert table.get("my-azure-deployment") == mine
    assert table.get("gpt-realtime-2") == SHIPPED_PRICES["gpt-realtime-2"]
    assert table.get("unknown") is None
