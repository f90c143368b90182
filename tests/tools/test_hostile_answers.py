"""Attacks by whatever answers at a device's (or the weather service's) address (issue 14 §1, §7, §8).

Every test goes through the registry the model uses, against a `HostilePeer` on loopback, and
asserts on what the peer received and on the process: RSS growth and event-loop stalls.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpcore._backends.anyio  # noqa: F401  (lazy on first use: not the answer's stall)
import pytest

import edge_agent.tools.drivers.wled  # noqa: F401  (lazy on first use, like the one above)
from edge_agent.config import Config, DaemonConfig, DeviceConfig, Secret, ToolsConfig, WeatherConfig
from edge_agent.sim.devices.tasmota import TasmotaEmulator
from edge_agent.tools.drivers import driver_class
from edge_agent.tools.drivers.base import DeviceError
from edge_agent.tools.home import build_registry

from .conftest import TIME_SCALE
from .hostile import MB, HostilePeer, Meter, drip, gzip_answer, hang, huge, reply

MAX_RSS_GROWTH = 16 * MB
MAX_STALL_S = 0.05 * TIME_SCALE


def config(tmp_path: Path, *devices: DeviceConfig, **weather: Any) -> Config:
    return Config(
        daemon=DaemonConfig(state_dir=str(tmp_path)),
        tools=ToolsConfig(enabled=("weather", "home"), timeout_s=3.0, http_timeout_s=1.0),
        weather=WeatherConfig(**weather),
        devices=devices,
    )


def wled(port: int, name: str = "Strip") -> DeviceConfig:
    return DeviceConfig(name=name, family="wled", host="127.0.0.1", port=port, kind="light")


async def call(reg: Any, name: str, **args: Any) -> dict[str, Any]:
    return json.loads(await reg.call(name, json.dumps(args)))


WLED_STATE = {"on": True, "bri": 128, "seg": [{"id": 0, "col": [[255, 0, 0]]}]}


@pytest.mark.parametrize(
    ("answer", "code", "detail"),
    [
        pytest.param(huge(), "bad_response", "answer too large", id="50MB-close-delimited"),
        pytest.param(huge(declared=True), "bad_response", "answer too large", id="50MB-declared"),
        pytest.param(gzip_answer(), "bad_response", "compressed", id="gzip-bomb"),
        pytest.param(drip(), "timeout", "no answer in 1 s", id="slow-drip"),
    ],
)
async def test_device_answers_are_bounded(tmp_path, http, answer, code, detail) -> None:
    with HostilePeer(answer) as peer:
        reg = build_registry(config(tmp_path, wled(peer.port)), http)
        async with Meter() as meter:
            started = time.monotonic()
            result = await call(reg, "get_state", device="strip")
            elapsed = time.monotonic() - started
        await reg.aclose()
    assert result["ok"] is False and result["error"] == code, result
    assert detail in result["detail"]
    assert peer.received[0].headers["accept-encoding"] == "identity"
    assert meter.rss_growth < MAX_RSS_GROWTH, f"RSS grew {meter.rss_growth / MB:.1f} MB"
    assert meter.max_stall_s < MAX_STALL_S, f"loop stalled {meter.max_stall_s * 1000:.0f} ms"
    assert elapsed < 1.5 * TIME_SCALE  # the deadline covers the body, drip included


async def test_a_large_allowed_answer_is_parsed_without_stalling_the_loop(tmp_path, http) -> None:
    body = json.dumps({**WLED_STATE, "pad": ["x" * 60] * 3000}).encode()  # ~200 kB < 256 KiB
    with HostilePeer(reply("200 OK", body)) as peer:
        reg = build_registry(config(tmp_path, wled(peer.port)), http)
        async with Meter() as meter:
            result = await call(reg, "get_state", device="strip")
        await reg.aclose()
    assert result == {"ok": True, "device": "Strip",
                      "state": {"on": True, "brightness_pct": 50, "rgb": [255, 0, 0]}}  # fmt: skip
    assert meter.max_stall_s < MAX_STALL_S, f"loop stalled {meter.max_stall_s * 1000:.0f} ms"


@pytest.mark.parametrize("answer", [huge(), gzip_answer()], ids=["50MB", "gzip-bomb"])
async def test_weather_answers_are_bounded(tmp_path, http, answer) -> None:
    with HostilePeer(answer) as peer:
        cfg = config(tmp_path, geocoding_url=peer.url + "/v1/search",
                     forecast_url=peer.url + "/v1/forecast")  # fmt: skip
        reg = build_registry(cfg, http)
        async with Meter() as meter:
            result = await call(reg, "get_weather", location="Toronto")
        await reg.aclose()
    assert result["ok"] is False and result["error"] == "bad_response", result
    assert peer.received[0].headers["accept-encoding"] == "identity"
    assert meter.rss_growth < MAX_RSS_GROWTH, f"RSS grew {meter.rss_growth / MB:.1f} MB"
    assert meter.max_stall_s < MAX_STALL_S


async def test_hung_devices_do_not_starve_a_healthy_one(tmp_path, http) -> None:
    """21 hung devices hold connections; a healthy device still answers at once (§7)."""
    with HostilePeer(hang()) as peer, TasmotaEmulator() as plug:
        hung = [wled(peer.port, f"Hung {i}") for i in range(21)]
        healthy = DeviceConfig(name="Plug", family="tasmota", host="127.0.0.1", port=plug.port)
        reg = build_registry(config(tmp_path, *hung, healthy), http)
        stuck = [asyncio.create_task(call(reg, "get_state", device=f"hung {i}"))
                 for i in range(21)]  # fmt: skip
        for _ in range(50):
            await asyncio.sleep(0.01)
            if len(peer.received) == 21:
                break
        assert len(peer.received) == 21, [t.result() for t in stuck if t.done()]
        started = time.monotonic()
        result = await call(reg, "set_power", device="plug", state="on")
        elapsed = time.monotonic() - started
        results = await asyncio.gather(*stuck)
        await reg.aclose()
    assert result["ok"] is True and plug.requests[-1].query["cmnd"] == "Power ON"
    assert elapsed < 0.5 * TIME_SCALE, f"the healthy device waited {elapsed:.2f} s"
    assert {r["error"] for r in results} == {"timeout"}


async def test_a_call_queued_behind_a_hung_one_keeps_its_deadline(tmp_path, http) -> None:
    """Two calls to one hung device: the second fails within one deadline, not two (§7)."""
    with HostilePeer(hang()) as peer:
        reg = build_registry(config(tmp_path, wled(peer.port)), http)
        first = asyncio.create_task(call(reg, "get_state", device="strip"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        second = await call(reg, "get_state", device="strip")
        elapsed = time.monotonic() - started
        await first
        await reg.aclose()
    assert second["error"] == "timeout"
    assert elapsed < 1.0 * 1.3 * TIME_SCALE, f"queued call took {elapsed:.2f} s (deadline 1 s)"


def family_device(family: str, port: int) -> DeviceConfig:
    extra: dict[str, Any] = {
        "homeassistant": {"entity": "switch.heater", "token": Secret("ha-token-123")},
        "esphome": {"entity": "switch/Heater"},
        "hue": {"entity": "light/1", "token": Secret("hue-user-123")},
    }.get(family, {})
    return DeviceConfig(name="Heater", family=family, host="127.0.0.1", port=port, **extra)  # type: ignore[arg-type]


SUCCESS_LOOKING = {
    "shelly_gen1": {"ison": True},
    "shelly_gen2": {"was_on": False},
    "tasmota": {"POWER": "ON"},
    "wled": {"on": True, "bri": 128},
    "hue": [{"success": {"/lights/1/state/on": True}}],
    "homeassistant": [],
    "esphome": "",
}


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "304 Not Modified"])
@pytest.mark.parametrize("family", sorted(SUCCESS_LOOKING))
async def test_a_redirected_write_is_a_device_error(http, family, status) -> None:
    """A 3xx with a success-looking body is not a success, in any driver (§8)."""
    body = SUCCESS_LOOKING[family]
    raw = b"" if body == "" else json.dumps(body).encode()
    answer = reply(status, raw, {"Location": "http://192.0.2.66/elsewhere"})
    with HostilePeer(answer) as peer:
        drv = driver_class(family)(family_device(family, peer.port), http, 1.0)
        with pytest.raises(DeviceError) as err:
            await drv.set_power(True)
        await drv.aclose()
    assert err.value.code == "device_error" and "http 3" in err.value.detail
    assert len(peer.received) == 1  # never followed


async def test_http_errors_are_never_success(http) -> None:
    """The same for a 2xx-less answer with a success body: 418 on ESPHome (was: only ≥400)."""
    with HostilePeer(reply("418 I'm a teapot", b"")) as peer:
        drv = driver_class("esphome")(family_device("esphome", peer.port), http, 1.0)
        with pytest.raises(DeviceError) as err:
            await drv.set_power(True)
    assert err.value.code == "device_error"
