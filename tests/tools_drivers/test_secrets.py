"""No token or password shows in a DeviceError, its causes, or any log record, for every family."""

from __future__ import annotations

import logging

import pytest

from edge_agent.sim.devices.esphome import EsphomeEmulator
from edge_agent.sim.devices.homeassistant import HomeAssistantEmulator
from edge_agent.sim.devices.hue import HueEmulator
from edge_agent.tools.drivers.base import DeviceError, Driver
from edge_agent.tools.drivers.esphome import EsphomeDriver
from edge_agent.tools.drivers.homeassistant import HomeAssistantDriver
from edge_agent.tools.drivers.hue import HueDriver
from tests.tools_drivers.conftest import device

SECRET = "s3cr3t-Zq9-do-not-leak"
WRONG = "wr0ng-Xk4-do-not-leak"

CASES = [
    ("hue", HueEmulator, HueDriver, {"channel": 1}, "token"),
    ("homeassistant", HomeAssistantEmulator, HomeAssistantDriver, {"entity": "light.k"}, "token"),
    (
        "esphome",
        EsphomeEmulator,
        EsphomeDriver,
        {"entity": "light/K", "username": "admin"},
        "password",
    ),
]


def _texts(exc: BaseException) -> list[str]:
    out: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        out += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return out


def _record_texts(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.getMessage()} {r.__dict__!r}" for r in records]


@pytest.mark.parametrize(("family", "emu_cls", "drv_cls", "extra", "secret_key"), CASES)
async def test_no_secret_in_errors_or_logs(
    caplog, serve, http, family, emu_cls, drv_cls, extra, secret_key
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    emu = serve(emu_cls.for_device(device(family, **extra, **{secret_key: SECRET})))
    good = drv_cls(device(family, port=emu.port, **extra, **{secret_key: SECRET}), http, 0.5)
    wrong = drv_cls(device(family, port=emu.port, **extra, **{secret_key: WRONG}), http, 0.5)
    errors: list[DeviceError] = []
    await good.set_power(True)  # a success is logged too
    for driver, fault in (
        (wrong, None),
        (good, "garbage_next"),
        (good, "fail_next"),
        (good, "hang"),
    ):
        if fault == "hang":
            emu.hang = True
        elif fault:
            setattr(emu, fault, 1 if fault == "garbage_next" else 2)
        calls = [driver.get_state, lambda d=driver: d.set_power(False)]
        # ESPHome judges a POST by its status only (200, empty body): garbage is a read fault
        for call in calls[:1] if fault == "garbage_next" else calls:
            with pytest.raises(DeviceError) as err:
                await call()
            errors.append(err.value)
    assert {e.code for e in errors} >= {"unauthorized", "timeout"}
    texts = [t for e in errors for t in _texts(e)] + _record_texts(caplog.records)
    assert caplog.records, "the drivers log their requests"
    for secret in (SECRET, WRONG):
        leaks = [t for t in texts if secret in t]
        assert leaks == [], f"{family}: {secret_key} leaked"
    assert all(isinstance(d, Driver) for d in (good, wrong))
