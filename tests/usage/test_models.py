"""Model lifecycle: the shipped table, GET /v1/models/{model} from a local server, the doctor's
model and budget lines, the start-up warning, and the model_not_found message."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from edge_agent.config import Config, RealtimeConfig, Secret
from edge_agent.doctor import Status, budget_result, model_result
from edge_agent.probes.models import (
    connect_model_warning,
    lookup_model,
    model,
    models_url,
    startup_model_warning,
)
from edge_agent.realtime.models import (
    CHEAP_MODEL,
    DEFAULT_MODEL,
    deprecation,
    model_not_found_message,
    parse_shutdown_date,
)
from edge_agent.sim.http import EmulatedHttpService, Request, Response

KEY = "sk-models-0123456789abcdef"
TODAY = dt.date(2026, 12, 2)


class ModelsApi(EmulatedHttpService):
    """A stand-in for GET /v1/models/{model}: answers from `models`, 404s like the service."""

    name = "models"

    def __init__(self, models: dict[str, Any]) -> None:
        super().__init__()
        self.models = models

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return Response(401, {"error": {"code": "invalid_api_key", "message": "no"}})
        name = request.path.removeprefix("/v1/models/")
        if name in self.models:
            return Response(200, self.models[name])
        return Response(404, {"error": {"code": "model_not_found", "message": f"{name}?"}})


def entry(name: str, shutdown: str | None) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1, "owned_by": "system",
            "shutdown_date": shutdown}  # fmt: skip


@pytest.fixture
def api() -> Iterator[ModelsApi]:
    with ModelsApi(
        {
            "gpt-realtime": entry("gpt-realtime", "2027-01-20"),
            "gpt-realtime-2.1": entry("gpt-realtime-2.1", None),
            "gpt-realtime-1.5": entry("gpt-realtime-1.5", "2027-06-30"),
            "odd-date": entry("odd-date", "soon"),
        }
    ) as service:
        yield service


def cfg_for(url: str, model_name: str, key: str = KEY, **rt: Any) -> Config:
    realtime = RealtimeConfig(url=url, model=model_name, **rt)
    return Config(realtime=realtime, api_key=Secret(key))


def ws_url(api: ModelsApi) -> str:
    return f"ws://127.0.0.1:{api.port}/v1/realtime"


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the table and the pure verdicts ---------------------------------------------------------


def test_models_url_sits_beside_the_realtime_endpoint() -> None:
    assert models_url("wss://api.openai.com/v1/realtime", "gpt-realtime-2.1") == (
        "https://api.openai.com/v1/models/gpt-realtime-2.1"
    )
    assert models_url("ws://127.0.0.1:9/v1/realtime?x=1", "a/b") == (
        "http://127.0.0.1:9/v1/models/a%2Fb"
    )


def test_the_table_knows_the_announced_shutdowns() -> None:
    for name, replacement in (
        ("gpt-realtime", DEFAULT_MODEL),
        ("gpt-realtime-2025-08-28", DEFAULT_MODEL),
        ("gpt-realtime-mini", CHEAP_MODEL),
        ("gpt-realtime-mini-2025-12-15", CHEAP_MODEL),
    ):
        notice = deprecation(name, None, asked=False)
        assert notice is not None and notice.shutdown == dt.date(2027, 1, 20), name
        assert notice.replacement == replacement and notice.source == "table"
    for name in (DEFAULT_MODEL, CHEAP_MODEL, "gpt-realtime-2", "gpt-realtime-1.5", "azure-dep"):
        assert deprecation(name, None, asked=False) is None, name


def test_the_service_overrides_the_table_both_ways() -> None:
    assert deprecation("gpt-realtime", None, asked=True) is None
    later = deprecation("gpt-realtime-2.1", dt.date(2027, 9, 1), asked=True)
    assert later is not None and later.source == "service"


def test_the_deprecation_message_names_date_days_and_fix() -> None:
    notice = deprecation("gpt-realtime", None, asked=False)
    assert notice is not None
    assert notice.message(TODAY) == (
        "realtime.model 'gpt-realtime' is deprecated and shuts down on 2027-01-20 (in 49 "
        "day(s)); set realtime.model = 'gpt-realtime-2.1'"
    )
    assert notice.message(dt.date(2027, 2, 1)) == (
        "realtime.model 'gpt-realtime' is deprecated and shut down since 2027-01-20; set "
        "realtime.model = 'gpt-realtime-2.1'"
    )


def test_shutdown_dates_from_outside_are_parsed_or_dropped() -> None:
    assert parse_shutdown_date("2027-01-20") == dt.date(2027, 1, 20)
    assert parse_shutdown_date("2027-01-20T00:00:00Z") == dt.date(2027, 1, 20)
    for bad in ("soon", "", None, 20270120, "2027-13-01"):
        assert parse_shutdown_date(bad) is None


def test_model_not_found_names_the_model_and_the_replacement() -> None:
    assert model_not_found_message("gpt-realtime-mini", "The model does not exist.") == (
        "realtime model 'gpt-realtime-mini' not found (service: The model does not exist): it "
        "was deprecated (shutdown 2027-01-20); set realtime.model = 'gpt-realtime-2.1-mini'"
    )
    assert model_not_found_message("gpt-realtime-2.1") == (
        "realtime model 'gpt-realtime-2.1' not found: the key's project has no access to it; "
        "give the project Realtime access, or set realtime.model = 'gpt-realtime-2.1-mini'"
    )
    assert model_not_found_message("gpt-realtme-2.1") == (
        "realtime model 'gpt-realtme-2.1' not found: the service does not know it (a typo, or "
        "on Azure: not a deployment name); set realtime.model = 'gpt-realtime-2.1' (Azure: "
        "your deployment's name)"
    )


def test_model_result_lines() -> None:
    warned = model_result("gpt-realtime", None, asked=False, not_found=False,
                          why_not="offline", today=TODAY)  # fmt: skip
    assert (warned.status, warned.detail, warned.hint) == (
        Status.WARN,
        "realtime.model 'gpt-realtime' is deprecated and shuts down on 2027-01-20 (in 49 "
        "day(s)) (shipped table; offline)",
        "set realtime.model = 'gpt-realtime-2.1'",
    )
    gone = model_result("gpt-realtime", dt.date(2027, 1, 20), asked=True, not_found=False,
                        why_not="", today=dt.date(2027, 3, 1))  # fmt: skip
    assert gone.status is Status.FAIL and gone.detail.endswith("(service)")
    missing = model_result("x", None, asked=True, not_found=True, why_not="", today=TODAY)
    assert missing.status is Status.FAIL and missing.detail.startswith("realtime model 'x'")
    current = model_result(DEFAULT_MODEL, None, asked=True, not_found=False, why_not="",
                           today=TODAY)  # fmt: skip
    assert (current.status, current.detail) == (
        Status.OK, "'gpt-realtime-2.1': current, no shutdown announced (service)"
    )  # fmt: skip


def test_budget_result_lines() -> None:
    assert budget_result("ok", "within budget", False).status is Status.OK
    reached = budget_result("refuse", "reached the daily budget", True)
    assert reached.status is Status.WARN and "raise [budget]" in reached.hint


# -- against a real HTTP server ----------------------------------------------------------------


async def test_the_service_says_deprecated(api: ModelsApi) -> None:
    got = await model(cfg_for(ws_url(api), "gpt-realtime-1.5"), 2.0, TODAY)
    assert got.status is Status.WARN
    assert "shuts down on 2027-06-30 (in 210 day(s)) (service)" in got.detail
    assert api.requests[-1].path == "/v1/models/gpt-realtime-1.5"
    assert api.requests[-1].headers["authorization"] == f"Bearer {KEY}"


async def test_the_service_says_current_though_the_table_disagrees(api: ModelsApi) -> None:
    api.models["gpt-realtime"] = entry("gpt-realtime", None)
    got = await model(cfg_for(ws_url(api), "gpt-realtime"), 2.0, TODAY)
    assert got.status is Status.OK and got.detail.endswith("(service)")


async def test_the_service_does_not_know_the_model(api: ModelsApi) -> None:
    got = await model(cfg_for(ws_url(api), "gpt-realtme"), 2.0, TODAY)
    assert got.status is Status.FAIL
    assert "not found" in got.detail and "gpt-realtime-2.1" in got.hint


async def test_azure_gets_its_api_key_header(api: ModelsApi) -> None:
    found = await lookup_model(cfg_for(ws_url(api), "gpt-realtime", auth="api-key"), 2.0)
    assert api.requests[-1].headers.get("api-key") == KEY
    assert "authorization" not in api.requests[-1].headers
    assert not found.asked and found.why_not == "the models endpoint answered http 401"


async def test_offline_falls_back_to_the_table() -> None:
    url = f"ws://127.0.0.1:{closed_port()}/v1/realtime"
    got = await model(cfg_for(url, "gpt-realtime-mini"), 2.0, TODAY)
    assert got.status is Status.WARN
    assert got.detail.startswith("realtime.model 'gpt-realtime-mini' is deprecated and shuts down")
    assert "(shipped table; the service did not answer: connection refused)" in got.detail
    assert got.hint == "set realtime.model = 'gpt-realtime-2.1-mini'"


async def test_a_hostile_answer_falls_back_to_the_table(api: ModelsApi) -> None:
    found = await lookup_model(cfg_for(ws_url(api), "odd-date"), 2.0)
    assert not found.asked and "not a date" in found.why_not
    api.models["big"] = {"id": "big", "pad": "x" * 100_000}
    found = await lookup_model(cfg_for(ws_url(api), "big"), 2.0)
    assert not found.asked and found.why_not == "the answer is too large"
    api.garbage_next = 1
    found = await lookup_model(cfg_for(ws_url(api), "gpt-realtime"), 2.0)
    assert not found.asked


async def test_with_a_relay_the_service_is_not_asked(api: ModelsApi) -> None:
    cfg = cfg_for(ws_url(api), "gpt-realtime", key="", token_url="http://127.0.0.1:9/token")
    found = await lookup_model(cfg, 2.0)
    assert (found.asked, found.why_not) == (False, "a relay holds the key")
    assert api.requests == []


async def test_startup_warns_at_once_from_the_table_without_asking(
    api: ModelsApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Start-up makes no request (no HTTP client in an idle daemon): the table answers."""
    caplog.set_level(logging.WARNING, logger="edge_agent.probes.models")
    text = startup_model_warning(cfg_for(ws_url(api), "gpt-realtime"), today=TODAY)
    assert text is not None and "2027-01-20 (in 49 day(s))" in text
    (record,) = caplog.records
    assert record.getMessage() == f"{text} (from the shipped table)"
    assert (record.MODEL, record.SHUTDOWN_DATE) == ("gpt-realtime", "2027-01-20")  # type: ignore[attr-defined]
    assert api.requests == []


async def test_first_connect_warns_of_a_shutdown_only_the_service_knows(
    api: ModelsApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge_agent.probes.models")
    cfg = cfg_for(ws_url(api), "gpt-realtime-1.5")  # current in the table, 2027-06-30 served
    table = startup_model_warning(cfg, today=TODAY)
    assert table is None and caplog.records == []
    text = await connect_model_warning(cfg, table=table, today=TODAY)
    assert text is not None and "shuts down on 2027-06-30 (in 210 day(s))" in text
    (record,) = caplog.records
    assert record.getMessage() == f"{text} (from the service)"
    assert record.SHUTDOWN_DATE == "2027-06-30"  # type: ignore[attr-defined]
    assert [r.path for r in api.requests] == ["/v1/models/gpt-realtime-1.5"]
    assert KEY not in caplog.text


async def test_first_connect_does_not_repeat_what_the_table_said(
    api: ModelsApi, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = cfg_for(ws_url(api), "gpt-realtime")  # the service's date is the table's
    table = startup_model_warning(cfg, today=TODAY)
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="edge_agent.probes.models")
    assert await connect_model_warning(cfg, table=table, today=TODAY) is None
    assert len(api.requests) == 1 and caplog.records == []


async def test_first_connect_warns_when_the_service_does_not_know_the_model(
    api: ModelsApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge_agent.probes.models")
    text = await connect_model_warning(cfg_for(ws_url(api), "gpt-realtim"), table=None)
    assert text is not None and "realtime model 'gpt-realtim' not found" in text
    assert caplog.records[0].ERROR_CODE == "model_not_found"  # type: ignore[attr-defined]


async def test_first_connect_waits_no_longer_than_its_timeout(
    api: ModelsApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.hang = True
    cfg = cfg_for(ws_url(api), "gpt-realtime")
    table = startup_model_warning(cfg, today=TODAY)
    start = time.monotonic()
    assert await connect_model_warning(cfg, table=table, timeout_s=0.3, today=TODAY) is None
    assert time.monotonic() - start < 2.0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"{table} (from the shipped table)"
    ]  # the table's warning stands alone


async def test_daemon_check_asks_the_service_only_once_a_session_is_ready(
    api: ModelsApi, caplog: pytest.LogCaptureFixture
) -> None:
    """`edge-agent run`'s task: the table's warning at once, the request after the connect."""
    import asyncio

    from edge_agent.commands.run import _model_warning

    caplog.set_level(logging.WARNING, logger="edge_agent.probes.models")
    ready, connected = asyncio.Event(), asyncio.Event()
    cfg = cfg_for(ws_url(api), "gpt-realtime-1.5")
    task = asyncio.create_task(_model_warning(cfg, ready, connected))
    ready.set()
    await asyncio.sleep(0.3)
    assert api.requests == [] and not task.done()
    connected.set()
    await asyncio.wait_for(task, 5.0)
    assert [r.path for r in api.requests] == ["/v1/models/gpt-realtime-1.5"]
    (record,) = caplog.records
    assert "2027-06-30" in record.getMessage() and record.getMessage().endswith(
        "(from the service)"
    )


async def test_startup_is_quiet_for_a_current_model(
    api: ModelsApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    cfg = cfg_for(ws_url(api), DEFAULT_MODEL)
    assert startup_model_warning(cfg, today=TODAY) is None
    assert await connect_model_warning(cfg, table=None, today=TODAY) is None
    assert caplog.records == []
