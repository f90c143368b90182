"""`edge-agent doctor`'s results and verdicts: pure, no I/O.

Owns: what one check's outcome is (`CheckResult`), how a raw observation (an HTTP status, a
level in dBFS, a user's groups, a device error code) becomes a verdict with a fix hint, how a
list of results is shown (one line each, ✓/✗/–/!) or serialised (``--json``), and the exit code
(the number of failures, capped at 100). Secrets are scrubbed from every result here, as a last
line of defence.
Must not: open sockets, sound devices, pins or files; `edge_agent.probes` does that and feeds
its observations into the functions below.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from edge_agent.realtime.models import deprecation, model_info, model_not_found_message

__all__ = [
    "MAX_EXIT_CODE",
    "SILENT_DBFS",
    "Account",
    "CheckResult",
    "Status",
    "api_key_result",
    "budget_result",
    "device_result",
    "exit_code",
    "fail",
    "gpio_failure",
    "handshake_result",
    "homeassistant_result",
    "level_result",
    "mcp_server_result",
    "model_result",
    "ok",
    "redact",
    "render",
    "render_line",
    "skip",
    "summary",
    "to_json",
    "user_result",
    "warn",
]

MAX_EXIT_CODE: Final = 100
"""Exit codes above 125 mean other things to shells; 100 failures is already "everything"."""
SILENT_DBFS: Final = -60.0
"""A mic quieter than this over a whole second delivers no usable sound (a room is ~-50 dBFS)."""
NEEDED_GROUPS: Final = ("audio", "gpio")


class Status(enum.Enum):
    """A check's outcome; only FAIL counts towards the exit code."""

    OK = "ok"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


MARKS: Final = {Status.OK: "✓", Status.FAIL: "✗", Status.WARN: "!", Status.SKIP: "–"}
ASCII_MARKS: Final = {Status.OK: "+", Status.FAIL: "x", Status.WARN: "!", Status.SKIP: "-"}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the doctor's report."""

    check: str
    """What was checked: 'config', 'realtime', "device 'kitchen light'" ..."""
    status: Status
    detail: str
    """What was found, never a secret."""
    hint: str = ""
    """How to fix it (failures and warnings)."""
    duration_ms: int = 0

    @property
    def is_failure(self) -> bool:
        return self.status is Status.FAIL


def ok(check: str, detail: str) -> CheckResult:
    return CheckResult(check, Status.OK, detail)


def fail(check: str, detail: str, hint: str) -> CheckResult:
    return CheckResult(check, Status.FAIL, detail, hint)


def warn(check: str, detail: str, hint: str = "") -> CheckResult:
    return CheckResult(check, Status.WARN, detail, hint)


def skip(check: str, why: str) -> CheckResult:
    return CheckResult(check, Status.SKIP, f"skipped: {why}")


# --------------------------------------------------------------------------------------------
# Verdicts


def api_key_result(has_key: bool, token_url: str) -> CheckResult:
    """The key is present (never shown), or a relay hands out ephemeral secrets.

    With a relay, `has_key` means this satellite's relay token (realtime.token_file).
    """
    if token_url:
        token = (
            "relay token present (not shown)" if has_key else "no relay token (realtime.token_file)"
        )
        return ok("api key", f"none needed on this device: realtime.token_url is set; {token}")
    if has_key:
        return ok("api key", "present (not shown)")
    return fail(
        "api key",
        "no OpenAI API key found",
        "put it in /etc/edge-agent/openai_api_key (the unit's LoadCredential), set "
        "realtime.api_key_file, or export OPENAI_API_KEY; or set realtime.token_url",
    )


def handshake_result(url: str, status: int | None, error: str = "") -> CheckResult:
    """The WebSocket upgrade's outcome: 101 accepted, 401/403 key rejected, else unreachable.

    Args:
        url: the Realtime URL (with no secret in it).
        status: the HTTP status of the upgrade answer; None when no answer came.
        error: why there was no answer (DNS, refused, timeout, TLS ...).
    """
    if status == 101:
        return ok("realtime", f"{url}: key accepted")
    if status in (401, 403):
        return fail(
            "realtime",
            f"{url}: key rejected (http {status})",
            "check the API key (a typo, a revoked key, or a project without Realtime access), "
            "or the token relay's key; realtime.auth must be 'api-key' for Azure",
        )
    if status is not None:
        return fail(
            "realtime",
            f"{url}: unexpected answer http {status}",
            "check realtime.url and realtime.model (404 = wrong path or model); "
            "429/5xx: the service is busy, try again later",
        )
    if error.startswith("tls"):
        return fail(
            "realtime",
            f"{url}: unreachable: {error}",
            "check the clock (`timedatectl`: a Pi has no RTC and needs NTP before certificates "
            "are valid), the ca-certificates package, and any proxy that intercepts TLS",
        )
    return fail(
        "realtime",
        f"{url}: unreachable: {error}",
        "check the network and DNS (see the network line), realtime.url, and any firewall "
        "or proxy between this device and the service",
    )


def model_result(
    model: str,
    service_shutdown: dt.date | None,
    *,
    asked: bool,
    not_found: bool,
    why_not: str,
    today: dt.date,
) -> CheckResult:
    """The configured model: unknown to the service, deprecated (with its date), or current.

    Args:
        service_shutdown: ``shutdown_date`` from ``GET /v1/models/{model}`` when `asked`.
        asked: the service answered; else the shipped table decides (`why_not` says why).
    """
    if not_found:
        fact, _, fix = model_not_found_message(model).partition("; ")
        return fail("model", fact, fix)
    notice = deprecation(model, service_shutdown, asked=asked)
    source = "service" if asked else "shipped table" + (f"; {why_not}" if why_not else "")
    if notice is not None:
        fact, _, fix = notice.message(today).partition("; ")
        detail = f"{fact} ({source})"
        if notice.shutdown < today:
            return fail("model", detail, fix)
        return warn("model", detail, fix)
    if not asked and model_info(model) is None:
        return ok(
            "model",
            f"{model!r}: not in the shipped table, cannot tell its lifecycle "
            f"({why_not or 'service not asked'})",
        )
    return ok("model", f"{model!r}: current, no shutdown announced ({source})")


def budget_result(action: str, reason: str, reached: bool) -> CheckResult:
    """The budget's verdict now (`edge_agent.usage.budget.Verdict` fields)."""
    if action == "ok":
        return ok("budget", reason)
    hint = (
        "raise [budget] daily_usd/monthly_usd, or wait for the rollover; `edge-agent usage` "
        "shows what was spent"
        if reached
        else "`edge-agent usage` shows what was spent"
    )
    return warn("budget", reason, hint)


_HA_HINTS: Final = {
    "unauthorized": "create a long-lived access token in Home Assistant (your profile → "
    "Security → Long-lived access tokens) and put it in homeassistant.token_file; if the MCP "
    "server integration requires an admin, the token's user must be one",
    "not_found": "enable the Model Context Protocol Server integration in Home Assistant "
    "(Settings → Devices & services → Add integration → Model Context Protocol Server) and "
    "select the Assist API",
    "unreachable": "check homeassistant.url (e.g. http://homeassistant.local:8123), that Home "
    "Assistant runs, and the network between them",
    "timeout": "Home Assistant did not answer in time: check it is not overloaded; "
    "homeassistant.timeout_s sets the limit",
}


def homeassistant_result(url: str, code: str, detail: str, tools: Sequence[str]) -> CheckResult:
    """Home Assistant's MCP endpoint: reachable, token accepted, integration enabled, N tools."""
    if code:
        hint = _HA_HINTS.get(code, "see Home Assistant's log (Settings → System → Logs)")
        return fail("homeassistant", f"{url}: {detail}", hint)
    if not tools:
        return warn(
            "homeassistant",
            f"{url}: token accepted, but no tools",
            "expose entities to Assist (Settings → Voice assistants → Expose)",
        )
    if "GetLiveContext" not in tools:
        return warn(
            "homeassistant",
            f"{url}: {len(tools)} tools, but no GetLiveContext",
            "update Home Assistant: without the live context, unlocking and opening are refused",
        )
    return ok("homeassistant", f"{url}: MCP server on, token accepted, {len(tools)} tools")


_MCP_HINTS: Final = {
    "unauthorized": "check the token or header files of mcp.servers[{i}]",
    "not_found": "check mcp.servers[{i}].url: no MCP endpoint there (a path like /mcp?)",
    "unreachable": "check mcp.servers[{i}].url and that the server runs",
    "unavailable": "check mcp.servers[{i}].command and args: run them by hand to see why",
    "server_died": "run mcp.servers[{i}].command by hand to see why it exits",
    "timeout": "the server did not answer in time; raise mcp.servers[{i}].timeout_s or fix it",
    "mcp_unsupported": "update the server: it speaks an MCP version edge-agent does not",
}


def mcp_server_result(
    index: int, name: str, code: str, detail: str, tools: Sequence[str], allowed: Sequence[str]
) -> CheckResult:
    """One ``[[mcp.servers]]`` entry: connected, its tools, and which of them are offered."""
    check = f"mcp {name}"
    if code:
        hint = _MCP_HINTS.get(code, "see the server's own log").format(i=index)
        return fail(check, detail, hint)
    offered = [t for t in tools if "*" in allowed or t in allowed]
    rest = [t for t in tools if t not in offered]
    shown = ", ".join(offered) or "none"
    if not offered:
        return warn(
            check,
            f"{len(tools)} tools, none allowed: {', '.join(rest[:12]) or '-'}",
            f"list the ones the model may use in mcp.servers[{index}].allow",
        )
    return ok(
        check,
        f"{len(tools)} tools; offered: {shown}" + (f"; not allowed: {len(rest)}" if rest else ""),
    )


def level_result(device: str, dbfs: float, seconds: float) -> CheckResult:
    """The mic delivered `seconds` of audio at `dbfs`; silence means a muted or dead mic."""
    shown = "-inf" if dbfs == float("-inf") else f"{dbfs:.1f}"
    if dbfs < SILENT_DBFS:
        return fail(
            "mic",
            f"{device!r}: silent ({shown} dBFS over {seconds:.1f} s, threshold {SILENT_DBFS:g})",
            "unmute it and raise its capture level (`alsamixer -c N`, F4), check "
            "audio.input_device names the right card (`edge-agent audio list`), then "
            "`edge-agent audio test`",
        )
    return ok("mic", f"{device!r}: {shown} dBFS over {seconds:.1f} s")


def echo_result(echo_cancel: str, duplex: str, error: str = "") -> CheckResult:
    """Echo cancellation: on (and its library loads) or off, and whether that suits the duplex
    mode (full duplex without it lets the reply's echo interrupt the reply)."""
    if echo_cancel == "off":
        if duplex == "full":
            return warn(
                "echo",
                "off, with audio.duplex = 'full': the reply's own echo can interrupt it "
                "(only the first conversation.barge_guard_ms of a reply are guarded)",
                "set audio.echo_cancel = 'speex', use a mic with hardware echo cancellation, "
                "or audio.duplex = 'half' (docs/audio.md)",
            )
        return ok("echo", "off (half duplex: the mic is not streamed while a reply plays)")
    if error:
        return fail(
            "echo",
            f"audio.echo_cancel = {echo_cancel!r}: {error}",
            "sudo apt-get install libspeexdsp1",
        )
    return ok(
        "echo",
        f"on ({echo_cancel}, libspeexdsp loads), audio.duplex = {duplex!r}; the echo path is "
        "measured from the first reply (barge-in by voice from then on)",
    )


_DEVICE_HINTS: Final = {
    "unreachable": "check devices[{i}].host/port, that it is powered and on this network "
    "(`ping {host}`)",
    "timeout": "it did not answer in time: check that it is on, or raise tools.http_timeout_s",
    "unauthorized": "check devices[{i}].username and password_file/token_file",
    "bad_response": "the host answers, but not like a {family} device: check devices[{i}].family "
    "and port",
    "device_error": "the device reported an error: check devices[{i}].channel/entity",
    "not_supported": "this {family} device cannot be read: check devices[{i}].family",
}


def device_result(
    name: str, index: int, family: str, host: str, port: int, code: str, detail: str
) -> CheckResult:
    """A device read's outcome; `code` is '' on success, else a driver error code.

    Args:
        port: the configured port, 0 for the family's default.
    """
    check = f"device {name!r}"
    where = f"{family} at {host}:{port}" if port else f"{family} at {host}"
    if not code:
        return ok(check, f"{where}: {detail or 'answers'}")
    hint = _DEVICE_HINTS.get(code, "check devices[{i}] and `edge-agent devices test`")
    return fail(
        check,
        f"{where}: {code}: {detail}".rstrip(": "),
        hint.format(i=index, host=host, family=family),
    )


def gpio_failure(message: str) -> CheckResult:
    """A `GpioError` message ("fact; fix") as a failure; a busy pin is most often the daemon."""
    fact, _, fix = message.partition("; ")
    if " is busy" in fact:
        fix = (
            f"stop the daemon first (sudo systemctl stop edge-agent), it holds its pins; else {fix}"
        )
    return fail("gpio", fact, fix or "check the pins in [status]")


@dataclass(frozen=True, slots=True)
class Account:
    """A user and the groups it belongs to (names)."""

    name: str
    groups: frozenset[str]


def user_result(
    current: Account,
    service: Account | None,
    existing_groups: Iterable[str],
    *,
    service_user: str = "edge-agent",
    needed: Sequence[str] = NEEDED_GROUPS,
) -> CheckResult:
    """Who runs this and whether the service user can reach the sound card and GPIO.

    Groups that do not exist on this machine (no `gpio` group off a Pi) are not required.

    Args:
        current: the account running the doctor.
        service: `service_user`'s account, None when it does not exist.
        existing_groups: every group name on this machine.
    """
    required = [g for g in needed if g in set(existing_groups)]
    if current.name == service_user:
        missing = [g for g in required if g not in current.groups]
        if missing:
            return fail(
                "service user",
                f"running as {service_user!r}, not in group(s) {', '.join(missing)}",
                f"run: sudo usermod -aG {','.join(missing)} {service_user} "
                "&& sudo systemctl restart edge-agent",
            )
        return ok("service user", f"running as {service_user!r} in {', '.join(required) or '-'}")
    if service is None:
        return warn(
            "service user",
            f"running as {current.name!r}; the service user {service_user!r} does not exist",
            "install with scripts/install.sh; results here may differ from the service's",
        )
    missing = [g for g in required if g not in service.groups]
    if missing:
        return fail(
            "service user",
            f"{service_user!r} is not in group(s) {', '.join(missing)}",
            f"run: sudo usermod -aG {','.join(missing)} {service_user}",
        )
    return warn(
        "service user",
        f"running as {current.name!r}, not as the service user {service_user!r} "
        f"(which is in {', '.join(required) or '-'})",
        f"for the service's view run: sudo -u {service_user} edge-agent doctor",
    )


# --------------------------------------------------------------------------------------------
# Showing


def redact(result: CheckResult, secrets: Iterable[str]) -> CheckResult:
    """The result with every secret (4+ characters) replaced by '***'."""
    detail, hint = result.detail, result.hint
    for secret in secrets:
        if len(secret) >= 4:
            detail = detail.replace(secret, "***")
            hint = hint.replace(secret, "***")
    if (detail, hint) == (result.detail, result.hint):
        return result
    return dataclasses.replace(result, detail=detail, hint=hint)


def exit_code(results: Iterable[CheckResult]) -> int:
    """The number of failures, capped at MAX_EXIT_CODE."""
    return min(MAX_EXIT_CODE, sum(r.is_failure for r in results))


def render_line(result: CheckResult, *, unicode: bool = True, width: int = 16) -> str:
    """`✓ check  detail`, plus an indented `fix:` line for failures and warnings."""
    mark = (MARKS if unicode else ASCII_MARKS)[result.status]
    indent = " " * (width + 3)
    first, *more = result.detail.split("\n")
    lines = [f"{mark} {result.check:<{width}} {first}", *(f"{indent}{m}" for m in more)]
    if result.hint and result.status in (Status.FAIL, Status.WARN):
        lines.append(f"{indent}fix: {result.hint}")
    return "\n".join(lines)


def summary(results: Sequence[CheckResult]) -> str:
    counts = {s: sum(r.status is s for r in results) for s in Status}
    failed = counts[Status.FAIL]
    head = "all checks passed" if not failed else f"{failed} check(s) failed"
    return (
        f"{head} ({counts[Status.OK]} ok, {failed} failed, {counts[Status.WARN]} warning(s), "
        f"{counts[Status.SKIP]} skipped)"
    )


def render(results: Sequence[CheckResult], *, unicode: bool = True) -> str:
    lines = [render_line(r, unicode=unicode) for r in results]
    return "\n".join([*lines, summary(results)]) + "\n"


def to_json(results: Sequence[CheckResult]) -> dict[str, object]:
    """The machine-readable report (`--json`)."""
    return {
        "failures": sum(r.is_failure for r in results),
        "exit_code": exit_code(results),
        "checks": [
            {
                "check": r.check,
                "status": r.status.value,
                "detail": r.detail,
                "hint": r.hint,
                "duration_ms": r.duration_ms,
            }
            for r in results
        ],
    }
