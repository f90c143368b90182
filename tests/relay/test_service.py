"""The relay over real HTTP, fronting the emulator's client-secret endpoint: who gets a secret,
what upstream received, refusals, concurrency, and that the real key never leaks."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import httpx
import pytest

from edge_agent.relay.httpserver import HttpRequest, HttpResponse, HttpServer
from edge_agent.sim.client_secrets import ClientSecretService
from edge_agent.sim.realtime_server import RealtimeEmulator
from tests.relay.conftest import UPSTREAM_KEY, Clock, add_satellite, ask, report, revoke


def upstream_bodies(upstream: ClientSecretService) -> list[dict]:
    return [json.loads(r.body) for r in upstream.requests]


async def test_a_satellite_token_gets_a_pinned_secret(
    make_relay, upstream: ClientSecretService, emulator: RealtimeEmulator
) -> None:
    relay = await make_relay(max_output_tokens=800, secret_ttl_s=120)
    token = add_satellite(relay, "kitchen")
    async with httpx.AsyncClient() as http:
        resp = await ask(http, relay, token, {"model": "gpt-realtime-2.1-mini", "voice": "x"})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer == {
        "value": upstream.minted[0]["value"],
        "expires_at": upstream.minted[0]["expires_at"],
        "session": {"type": "realtime", "model": "gpt-realtime-2.1-mini", "max_output_tokens": 800},
    }
    assert answer["value"].startswith("ek_") and answer["value"] in emulator.client_secrets
    # What upstream received: the real key, and only what the relay pins.
    assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {UPSTREAM_KEY}"]
    assert upstream_bodies(upstream) == [
        {
            "expires_after": {"anchor": "created_at", "seconds": 120},
            "session": {
                "type": "realtime",
                "model": "gpt-realtime-2.1-mini",
                "max_output_tokens": 800,
            },
        }
    ]
    assert "openai-organization" not in resp.headers  # upstream headers are not passed on
    assert resp.headers["cache-control"] == "no-store"
    assert relay.policy.ledger.day("2026-12-02", "kitchen").mints == 1


async def test_the_default_model_and_a_model_it_may_not_have(
    make_relay, upstream: ClientSecretService
) -> None:
    relay = await make_relay(models=["gpt-realtime-2.1-mini"])
    token = add_satellite(relay, "kitchen")
    async with httpx.AsyncClient() as http:
        plain = await ask(http, relay, token, {})
        other = await ask(http, relay, token, {"model": "gpt-realtime-2"})
    assert plain.json()["session"]["model"] == "gpt-realtime-2.1-mini"
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "model_not_allowed"
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("kind", ["wrong", "revoked", "missing", "malformed", "not bearer"])
async def test_no_valid_token_is_401_and_nothing_is_minted(
    make_relay, upstream: ClientSecretService, kind: str
) -> None:
    relay = await make_relay()
    token = add_satellite(relay, "kitchen")
    headers: dict[str, str] = {}
    if kind == "wrong":
        headers["Authorization"] = f"Bearer {token[:-4]}AAAA"
    elif kind == "revoked":
        revoke(relay, "kitchen")  # while the relay runs: it takes effect at once
        headers["Authorization"] = f"Bearer {token}"
    elif kind == "malformed":
        headers["Authorization"] = "Bearer sk-something-else"
    elif kind == "not bearer":
        headers["Authorization"] = f"Basic {token}"
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{relay.url}/v1/realtime/client_secrets",
            json={"model": "gpt-realtime-2.1"},
            headers=headers,
        )
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Bearer realm="edge-agent-relay"'
    assert resp.json()["error"]["code"] == "unauthorized"
    assert upstream.requests == []
    assert "ek_" not in resp.text


async def test_revoke_then_add_again_gives_a_new_token(make_relay) -> None:
    relay = await make_relay()
    old = add_satellite(relay, "kitchen")
    async with httpx.AsyncClient() as http:
        assert (await ask(http, relay, old)).status_code == 200
        revoke(relay, "kitchen")
        assert (await ask(http, relay, old)).status_code == 401
        new = add_satellite(relay, "kitchen")
        assert (await ask(http, relay, new)).status_code == 200
        assert (await ask(http, relay, old)).status_code == 401


async def test_over_the_rate_is_429_with_retry_after(
    make_relay, upstream: ClientSecretService, clock: Clock
) -> None:
    relay = await make_relay(requests_per_minute=3)
    kitchen, hall = add_satellite(relay, "kitchen"), add_satellite(relay, "hall")
    async with httpx.AsyncClient() as http:
        first = [(await ask(http, relay, kitchen)).status_code for _ in range(4)]
        other = await ask(http, relay, hall)  # its own bucket
        refused = await ask(http, relay, kitchen)
        clock.mono_s += 20  # one token back (3 a minute)
        again = await ask(http, relay, kitchen)
    assert first == [200, 200, 200, 429]
    assert other.status_code == 200
    assert refused.status_code == 429 and refused.headers["retry-after"] == "20"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert again.status_code == 200
    assert len(upstream.requests) == 5


async def test_over_budget_is_429_until_the_day_rolls_over(
    make_relay, upstream: ClientSecretService, clock: Clock
) -> None:
    relay = await make_relay(satellite_daily_usd=0.10, household_monthly_usd=1.0)
    kitchen, hall = add_satellite(relay, "kitchen"), add_satellite(relay, "hall")
    async with httpx.AsyncClient() as http:
        assert (await ask(http, relay, kitchen)).status_code == 200
        got = await report(
            http, relay, kitchen, id="t1", cost_usd=0.06, input_tokens=900, output_tokens=200
        )
        assert got.json() == {
            "accepted": True,
            "duplicate": False,
            "today_usd": 0.06,
            "month_usd": 0.06,
        }
        again = await report(http, relay, kitchen, id="t1", cost_usd=0.06)  # a retried report
        assert again.json()["duplicate"] is True and again.json()["today_usd"] == 0.06
        assert (await ask(http, relay, kitchen)).status_code == 200
        await report(http, relay, kitchen, id="t2", cost_usd=0.05)
        over = await ask(http, relay, kitchen)
        hall_ok = await ask(http, relay, hall)
        clock.local += timedelta(hours=6, minutes=1)  # 00:01 the next day
        next_day = await ask(http, relay, kitchen)
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "budget_reached"
    assert over.headers["retry-after"] == str(6 * 3600)  # 18:00 to local midnight
    assert hall_ok.status_code == 200  # a per-satellite budget
    assert next_day.status_code == 200
    assert len(upstream.requests) == 4


async def test_the_household_budget_holds_every_satellite(make_relay, upstream) -> None:
    relay = await make_relay(household_daily_usd=0.2)
    tokens = [add_satellite(relay, name) for name in ("a", "b", "c")]
    async with httpx.AsyncClient() as http:
        for token in tokens[:2]:
            await report(http, relay, token, cost_usd=0.1)
        answers = [(await ask(http, relay, t)).status_code for t in tokens]
    assert answers == [429, 429, 429]
    assert upstream.requests == []


async def test_mint_cap_holds_without_any_report(make_relay, upstream) -> None:
    relay = await make_relay(max_mints_per_day=2)
    token = add_satellite(relay, "kitchen")
    async with httpx.AsyncClient() as http:
        codes = [(await ask(http, relay, token)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert len(upstream.requests) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"cost_usd": -1},
        {"cost_usd": 50.0},
        {"cost_usd": "0.1"},
        {"cost_usd": 0.1, "input_tokens": 1.5},
        {"cost_usd": 0.1, "extra": 1},
        {"cost_usd": 0.1, "id": "x" * 65},
        {"input_tokens": 3},
    ],
)
async def test_bad_usage_reports_are_400_and_count_nothing(make_relay, fields) -> None:
    relay = await make_relay()
    token = add_satellite(relay, "kitchen")
    async with httpx.AsyncClient() as http:
        resp = await report(http, relay, token, **fields)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_report"
    assert relay.policy.ledger.day("2026-12-02").reports == 0


async def test_fifty_concurrent_requests_from_five_satellites(
    make_relay, upstream: ClientSecretService, emulator: RealtimeEmulator
) -> None:
    relay = await make_relay(requests_per_minute=20)
    tokens = {name: add_satellite(relay, name) for name in ("a", "b", "c", "d", "e")}
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(limits=limits, timeout=20) as http:
        answers = await asyncio.gather(
            *(ask(http, relay, tokens[name]) for name in tokens for _ in range(10))
        )
    assert [r.status_code for r in answers] == [200] * 50
    values = [r.json()["value"] for r in answers]
    assert len(set(values)) == 50
    assert set(values) == set(emulator.client_secrets)  # each is one upstream really minted
    assert len(upstream.requests) == 50
    for name in tokens:
        assert relay.policy.ledger.day("2026-12-02", name).mints == 10


@pytest.mark.parametrize("fault", ["401", "500", "garbage", "drop"])
async def test_upstream_failures_are_clear_and_never_leak(
    make_relay, upstream: ClientSecretService, emulator: RealtimeEmulator, caplog, fault: str
) -> None:
    caplog.set_level(logging.DEBUG)
    relay = await make_relay()
    token = add_satellite(relay, "kitchen")
    if fault == "401":
        emulator.api_keys.clear()  # upstream now refuses the relay's key, quoting part of it
    elif fault == "500":
        upstream.fail_next = 1
    elif fault == "garbage":
        upstream.garbage_next = 1
    else:
        upstream.drop_next = 1
    expected = {
        "401": (502, "upstream_refused_key"),
        "500": (502, "upstream_error"),
        "garbage": (502, "upstream_bad_answer"),
        "drop": (502, "upstream_unreachable"),
    }
    async with httpx.AsyncClient() as http:
        resp = await ask(http, relay, token)
    assert (resp.status_code, resp.json()["error"]["code"]) == expected[fault]
    shown = resp.text + json.dumps(dict(resp.headers)) + caplog.text
    assert UPSTREAM_KEY not in shown
    assert UPSTREAM_KEY[:3] + "***" not in shown  # not even the service's partial quote
    assert UPSTREAM_KEY[-4:] not in shown
    assert token not in shown
    if fault == "401":
        assert "invalid_api_key" in resp.json()["error"]["message"]


async def test_an_upstream_that_hangs_is_a_504(make_relay, upstream: ClientSecretService) -> None:
    relay = await make_relay(upstream_timeout_s=1.0)
    token = add_satellite(relay, "kitchen")
    upstream.hang = True
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await ask(http, relay, token)
    assert resp.status_code == 504 and resp.json()["error"]["code"] == "upstream_timeout"


async def test_key_and_tokens_never_in_answers_or_logs(
    make_relay, upstream: ClientSecretService, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    relay = await make_relay(requests_per_minute=2, satellite_daily_usd=0.01)
    token = add_satellite(relay, "kitchen")
    seen: list[str] = []
    async with httpx.AsyncClient() as http:
        for resp in [
            await ask(http, relay, token),
            await ask(http, relay, token + "x"),
            await report(http, relay, token, cost_usd=0.02),
            await ask(http, relay, token),
            await ask(http, relay, token),
            await http.get(f"{relay.url}/healthz"),
            await http.get(f"{relay.url}/nope"),
        ]:
            seen.append(f"{resp.status_code} {dict(resp.headers)} {resp.text}")
    everything = "\n".join(seen) + caplog.text
    assert [s.split()[0] for s in seen] == ["200", "401", "200", "429", "429", "200", "404"]
    assert UPSTREAM_KEY not in everything
    assert token not in everything
    assert "minted a secret for kitchen (model gpt-realtime-2.1" in caplog.text
    assert upstream.minted[0]["value"] not in caplog.text  # the secret only in its answer


async def test_hostile_http_is_refused_cleanly(make_relay, upstream) -> None:
    relay = await make_relay()
    token = add_satellite(relay, "kitchen")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as http:
        big = await http.post(f"{relay.url}/v1/usage", content=b"x" * 20000, headers=auth)
        bad = await http.post(f"{relay.url}/v1/usage", content=b"{nope", headers=auth)
        get = await http.get(f"{relay.url}/v1/realtime/client_secrets", headers=auth)
        listy = await ask(http, relay, token, ["model"])
    assert big.status_code == 413
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    assert get.status_code == 405 and get.headers["allow"] == "POST"
    assert listy.status_code == 400
    reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 20000 + b"\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.startswith(b"HTTP/1.1 431")
    assert upstream.requests == []


async def test_deeply_nested_json_is_a_400(make_relay) -> None:
    relay = await make_relay()
    token = add_satellite(relay, "kitchen")
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{relay.url}/v1/usage",
            content=b"[" * 15000,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_request"


async def test_a_request_head_dribbled_in_is_cut_off() -> None:
    """A client sending one header byte at a time cannot hold a connection past read_timeout_s."""

    async def handler(req: HttpRequest) -> HttpResponse:
        return HttpResponse(200, b"{}")

    server = await HttpServer(handler, read_timeout_s=0.3, idle_timeout_s=5.0).start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        loop = asyncio.get_running_loop()
        start = loop.time()
        closed_after = None
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.02)
            if reader.at_eof() or (await _closed(reader)):
                closed_after = loop.time() - start
                break
        writer.close()
    finally:
        await server.stop()
    assert closed_after is not None and closed_after < 1.5


async def _closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), 0.001) == b""
    except TimeoutError:
        return False
