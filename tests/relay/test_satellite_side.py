"""The satellite's side against a real relay: what the daemon's Credentials make of each answer,
the usage-report client, and upstream statuses the emulator does not produce by itself."""

from __future__ import annotations

import logging

import httpx
import pytest

from edge_agent.config import RealtimeConfig, Secret, parse_config
from edge_agent.errors import ConfigError, FatalRealtimeError, RealtimeError
from edge_agent.realtime.auth import Credentials
from edge_agent.relay.report import report_usage, usage_url
from edge_agent.sim.client_secrets import ClientSecretService
from edge_agent.sim.http import Request, Response
from tests.relay.conftest import UPSTREAM_KEY, add_satellite, ask, report


def credentials(relay, token: str, model: str = "gpt-realtime-2.1") -> Credentials:
    url = f"{relay.url}/v1/realtime/client_secrets"
    return Credentials(RealtimeConfig(token_url=url, model=model), Secret(token))


async def test_credentials_send_the_token_and_get_a_secret(make_relay, upstream) -> None:
    relay = await make_relay()
    creds = credentials(relay, add_satellite(relay, "kitchen"))
    try:
        headers = await creds.headers()
    finally:
        await creds.aclose()
    assert headers == {"Authorization": f"Bearer {upstream.minted[0]['value']}"}


async def test_a_refused_token_is_fatal_and_a_budget_is_retried(make_relay, upstream) -> None:
    relay = await make_relay(satellite_daily_usd=0.05)
    token = add_satellite(relay, "kitchen")
    wrong = credentials(relay, token[:-2] + "zz")
    with pytest.raises(FatalRealtimeError, match=r"refused us \(http 401: unauthorized\)"):
        await wrong.headers()
    await wrong.aclose()
    other_model = credentials(relay, token, model="gpt-realtime")
    with pytest.raises(FatalRealtimeError, match=r"http 403: model_not_allowed"):
        await other_model.headers()
    await other_model.aclose()
    async with httpx.AsyncClient() as http:
        await report(http, relay, token, cost_usd=0.05)
    spent = credentials(relay, token)
    with pytest.raises(
        RealtimeError, match=r"http 429: budget_reached, retry after 21600 s"
    ) as info:
        await spent.headers()
    await spent.aclose()
    assert not isinstance(info.value, FatalRealtimeError)
    assert upstream.requests == []


async def test_report_usage_counts_once_and_never_raises(make_relay, caplog) -> None:
    relay = await make_relay()
    token = Secret(add_satellite(relay, "kitchen"))
    url = f"{relay.url}/v1/realtime/client_secrets"
    assert usage_url(url) == f"{relay.url}/v1/usage"
    assert usage_url("https://relay.lan:8443/token?x=1") == "https://relay.lan:8443/v1/usage"
    turn = {"cost_usd": 0.004, "input_tokens": 500, "output_tokens": 60, "model": "m"}
    async with httpx.AsyncClient() as http:
        first = await report_usage(http, url, token, turn_id="turn-7", **turn)
        again = await report_usage(http, url, token, turn_id="turn-7", **turn)
        refused = await report_usage(http, url, Secret("eas_nope"), turn_id="t", **turn)
        too_much = await report_usage(http, url, token, turn_id="t8", **{**turn, "cost_usd": 99.0})
        down = await report_usage(http, "http://127.0.0.1:9/v1/realtime/client_secrets", token, turn_id="t9", **turn)  # fmt: skip
    assert first is not None and first.today_usd == pytest.approx(0.004)
    assert again == first  # the same turn id counts once
    assert (refused, too_much, down) == (None, None, None)
    assert relay.policy.ledger.day("2026-12-02", "kitchen").reports == 1
    assert "the relay did not take the usage report: http 401" in caplog.text
    assert token.reveal() not in caplog.text


def test_a_plain_http_relay_on_the_lan_is_warned_about(tmp_path) -> None:
    token = tmp_path / "relay_token"
    token.write_text("eas_x\n")
    lan = parse_config(
        f'[realtime]\ntoken_url = "http://192.168.1.10:8443/v1/realtime/client_secrets"\n'
        f'token_file = "{token}"\n'
    )
    assert lan.warnings == (
        "<string>: realtime.token_url = 'http://192.168.1.10:8443/v1/realtime/client_secrets': "
        "plain http: this satellite's relay token and its secrets cross the network in clear; "
        "give the relay a certificate and use https:// (docs/relay.md: TLS)",
    )
    local = parse_config(
        f'[realtime]\ntoken_url = "http://127.0.0.1:8443/x"\ntoken_file = "{token}"\n'
    )
    assert local.warnings == () and local.api_key.reveal() == "eas_x"
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match=r"realtime.token_ca_file = '.*nope.pem': cannot read it"):
        parse_config(f'[realtime]\ntoken_url = "https://r/x"\ntoken_ca_file = "{missing}"\n')


class _Answering(ClientSecretService):
    """The emulator's endpoint answering every mint with one status and body."""

    status = 429
    body: object = None

    def _answer(self, request: Request) -> Response:
        return Response(self.status, self.body, {"x-request-id": "req_123"})


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, {"error": {"code": "rate_limit_exceeded", "message": "slow down"}}, (503, "upstream_rate_limited", "10")),
        (400, {"error": {"code": "invalid_value", "message": f"key {UPSTREAM_KEY}"}}, (502, "upstream_rejected", None)),
        (403, {"error": {"type": "Not A Word!", "message": "x"}}, (502, "upstream_refused_key", None)),
        (200, {"value": "ek_x", "expires_at": "soon"}, (502, "upstream_bad_answer", None)),
        (200, {"value": "ek_ok_value_1234", "expires_at": True}, (502, "upstream_bad_answer", None)),
    ],
)  # fmt: skip
async def test_upstream_statuses_are_mapped_without_their_words(
    make_relay, upstream: ClientSecretService, caplog, status, body, expected
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.__class__ = _Answering
    upstream.status, upstream.body = status, body  # type: ignore[attr-defined]
    relay = await make_relay()
    token = add_satellite(relay, "kitchen")
    async with httpx.AsyncClient() as http:
        resp = await ask(http, relay, token)
    assert (
        resp.status_code,
        resp.json()["error"]["code"],
        resp.headers.get("retry-after"),
    ) == expected
    assert "x-request-id" not in resp.headers
    assert "slow down" not in resp.text and UPSTREAM_KEY not in resp.text + caplog.text
    assert "Not A Word" not in resp.text
    assert relay.policy.ledger.day("2026-12-02", "kitchen").mints == 0
