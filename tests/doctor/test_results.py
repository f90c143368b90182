"""The doctor's pure core: verdicts, rendering, JSON, exit code and redaction."""

from __future__ import annotations

import json

import pytest

from edge_agent.doctor import (
    MAX_EXIT_CODE,
    Account,
    CheckResult,
    Status,
    api_key_result,
    device_result,
    echo_result,
    exit_code,
    fail,
    gpio_failure,
    handshake_result,
    level_result,
    ok,
    redact,
    render,
    render_line,
    skip,
    to_json,
    user_result,
    warn,
)

URL = "wss://api.openai.com/v1/realtime"


def test_handshake_verdicts() -> None:
    assert handshake_result(URL, 101) == ok("realtime", f"{URL}: key accepted")
    for status in (401, 403):
        got = handshake_result(URL, status)
        assert (got.status, got.detail) == (Status.FAIL, f"{URL}: key rejected (http {status})")
    got = handshake_result(URL, 404)
    assert got.status is Status.FAIL and "http 404" in got.detail and "realtime.model" in got.hint
    got = handshake_result(URL, None, "tls certificate not accepted: certificate is not yet valid")
    assert got.status is Status.FAIL and "timedatectl" in got.hint
    got = handshake_result(URL, None, "no answer within 5 s")
    assert got.detail == f"{URL}: unreachable: no answer within 5 s"
    assert "network" in got.hint


def test_api_key_verdicts() -> None:
    assert api_key_result(True, "") == ok("api key", "present (not shown)")
    assert api_key_result(False, "http://relay/token").status is Status.OK
    got = api_key_result(False, "")
    assert got.status is Status.FAIL and "realtime.token_url" in got.hint


@pytest.mark.parametrize(
    ("dbfs", "status"), [(float("-inf"), Status.FAIL), (-60.5, Status.FAIL), (-59.5, Status.OK)]
)
def test_level_threshold(dbfs: float, status: Status) -> None:
    got = level_result("fakemic", dbfs, 1.0)
    assert got.status is status
    assert ("silent" in got.detail) is (status is Status.FAIL)


def test_device_verdicts_name_the_config_entry() -> None:
    assert device_result("lamp", 2, "wled", "10.0.0.5", 0, "", "on=True") == ok(
        "device 'lamp'", "wled at 10.0.0.5: on=True"
    )
    got = device_result("lamp", 2, "wled", "lamp.lan", 8080, "unreachable", "refused")
    assert got.detail == "wled at lamp.lan:8080: unreachable: refused"
    assert "`ping lamp.lan`" in got.hint
    for code, words in {
        "unreachable": "devices[2].host/port",
        "timeout": "tools.http_timeout_s",
        "unauthorized": "devices[2].username",
        "bad_response": "devices[2].family",
        "something_new": "edge-agent devices test",
    }.items():
        got = device_result("lamp", 2, "wled", "10.0.0.5", 0, code, "detail")
        assert got.status is Status.FAIL and words in got.hint, code
        assert got.detail == f"wled at 10.0.0.5: {code}: detail"


GROUPS = {"root", "audio", "gpio", "video"}


@pytest.mark.parametrize(
    ("current", "service", "existing", "status", "words"),
    [
        (
            Account("edge-agent", frozenset({"audio", "gpio"})),
            None,
            GROUPS,
            Status.OK,
            "running as",
        ),
        (
            Account("edge-agent", frozenset({"audio"})),
            None,
            GROUPS,
            Status.FAIL,
            "usermod -aG gpio",
        ),
        # no gpio group on this machine (not a Pi): audio alone is enough
        (Account("edge-agent", frozenset({"audio"})), None, GROUPS - {"gpio"}, Status.OK, "audio"),
        (Account("pi", frozenset()), None, GROUPS, Status.WARN, "does not exist"),
        (
            Account("pi", frozenset()),
            Account("edge-agent", frozenset({"gpio"})),
            GROUPS,
            Status.FAIL,
            "not in group(s) audio",
        ),
        (
            Account("pi", frozenset()),
            Account("edge-agent", frozenset({"audio", "gpio"})),
            GROUPS,
            Status.WARN,
            "sudo -u edge-agent edge-agent doctor",
        ),
    ],
)
def test_user_verdicts(
    current: Account, service: Account | None, existing: set[str], status: Status, words: str
) -> None:
    got = user_result(current, service, existing)
    assert got.status is status
    assert words in got.detail + got.hint


def test_gpio_failure_splits_fact_and_fix() -> None:
    busy = gpio_failure("gpio pin 'GPIO5' (status.led.pin) is busy: in use; choose another pin")
    assert busy.detail == "gpio pin 'GPIO5' (status.led.pin) is busy: in use"
    assert busy.hint.startswith("stop the daemon first") and busy.hint.endswith("another pin")
    bad = gpio_failure("gpio pin 'X' (status.led.pin) does not exist: no; use 'GPIO17'")
    assert (bad.detail, bad.hint) == (
        "gpio pin 'X' (status.led.pin) does not exist: no",
        "use 'GPIO17'",
    )


def test_exit_code_counts_failures_only_and_is_capped() -> None:
    results = [ok("a", ""), warn("b", ""), skip("c", "x"), fail("d", "", ""), fail("e", "", "")]
    assert exit_code(results) == 2
    assert exit_code([fail(str(i), "", "") for i in range(150)]) == MAX_EXIT_CODE


def test_render_marks_hints_and_ascii() -> None:
    good = ok("config", "valid")
    bad = fail("mic", "silent\nsecond line", "unmute it")
    assert render_line(good) == "✓ config           valid"
    assert render_line(bad).splitlines() == [
        "✗ mic              silent",
        "                   second line",
        "                   fix: unmute it",
    ]
    assert render_line(skip("gpio", "not configured")).startswith("– gpio ")
    assert render_line(warn("user", "x", "y")).splitlines()[1].endswith("fix: y")
    assert render_line(bad, unicode=False).startswith("x mic ")
    assert render([good, bad]).splitlines()[-1] == (
        "1 check(s) failed (1 ok, 1 failed, 0 warning(s), 0 skipped)"
    )
    assert render([good]).splitlines()[-1].startswith("all checks passed")


def test_json_report() -> None:
    report = to_json([ok("a", "fine"), fail("b", "broken", "fix it")])
    assert json.loads(json.dumps(report)) == {
        "failures": 1,
        "exit_code": 1,
        "checks": [
            {"check": "a", "status": "ok", "detail": "fine", "hint": "", "duration_ms": 0},
            {
                "check": "b",
                "status": "fail",
                "detail": "broken",
                "hint": "fix it",
                "duration_ms": 0,
            },
        ],
    }


def test_redact_removes_secrets_but_not_short_strings() -> None:
    got = redact(fail("x", "key sk-abcdef rejected", "rotate sk-abcdef"), ["sk-abcdef", "ab"])
    assert got == CheckResult("x", Status.FAIL, "key *** rejected", "rotate ***")
    same = ok("x", "nothing here")
    assert redact(same, ["sk-abcdef"]) is same


def test_echo_verdicts_say_whether_it_is_on_and_if_that_suits_the_duplex_mode() -> None:
    half = echo_result("off", "half")
    assert half.status is Status.OK and half.detail.startswith("off (half duplex")
    full = echo_result("off", "full")
    assert full.status is Status.WARN and "echo can interrupt it" in full.detail
    assert "audio.echo_cancel = 'speex'" in full.hint
    on = echo_result("speex", "full")
    assert on.status is Status.OK and on.detail.startswith("on (speex, libspeexdsp loads)")
    missing = echo_result("speex", "full", "needs libspeexdsp (not found)")
    assert missing.status is Status.FAIL and missing.hint == "sudo apt-get install libspeexdsp1"
