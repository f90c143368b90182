"""journald rig: our logging's real datagrams, captured in a private mount namespace.

`edge_agent.sim.journald` binds /run/systemd/journal/socket on a tmpfs that only the child
sees (unshare -m), runs a script that logs through `setup_logging`, and prints the datagrams.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_agent.sim.journald import entry_dict, namespaced, parse_entry

SECRET = "sk-live-TOPSECRET-0123456789"
ROOT = Path(__file__).resolve().parents[2]

CHILD = f"""
import logging
from edge_agent.system.journal import add_secret, setup_logging

add_secret({SECRET!r})
setup_logging("debug")
log = logging.getLogger("edge_agent.rig")
log.debug("debug line")
log.info("state %s -> %s", "idle", "listening",
         extra={{"STATE": "listening", "TURN_ID": "t-1", "WAKE_SCORE": 0.97}})
log.warning("slow reply", extra={{"LATENCY_MS": 812, "TOOL": "get_weather"}})
log.error("device failed", extra={{"DEVICE": "kitchen light", "ERROR_CODE": "device_unreachable"}})
log.critical("giving up")
log.info("line one\\nline two\\nline three")
try:
    raise ValueError("boom")
except ValueError:
    log.exception("tool crashed", extra={{"TOOL": "set_power"}})
log.info("key is %s", {SECRET!r}, extra={{"DEVICE": "x" + {SECRET!r}}})
log.info("lowercase extras are no fields", extra={{"state": "x", "EMPTY": None}})
log.info("no spoofing", extra={{"MESSAGE": "spoof", "PRIORITY": "0", "X" * 65: "too long"}})
print("child done")
"""


def run_in_namespace(
    tmp_path: Path, *, bind_socket: bool, env: dict[str, str] | None = None
) -> Any:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("EDGE_AGENT_LOG_STDERR", None)
    full_env.update(env or {})
    proc = subprocess.run(
        namespaced([sys.executable, str(script)], bind_socket=bind_socket),
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )
    assert proc.returncode == 0, (
        f"unshare/mount rig failed (needs root or user namespaces): {proc.stderr}"
    )
    result = json.loads(proc.stdout)
    assert result["returncode"] == 0, result["stderr"]
    assert result["stdout"] == "child done\n"
    return result


def fields_of(entry: dict[str, str]) -> dict[str, str]:
    """The entry without the fields that depend on the source file."""
    return {k: v for k, v in entry.items() if not k.startswith("CODE_")}


def test_entries_carry_message_priority_identifier_and_fields(tmp_path: Path) -> None:
    result = run_in_namespace(tmp_path, bind_socket=True)
    assert result["stderr"] == ""  # nothing fell back to stderr
    raw = [base64.b64decode(d) for d in result["datagrams"]]
    entries = [entry_dict(d) for d in raw]
    base = {"SYSLOG_IDENTIFIER": "edge-agent", "LOGGER": "edge_agent.rig"}
    assert [fields_of(e) for e in entries[:6]] == [
        {"MESSAGE": "debug line", "PRIORITY": "7", **base},
        {
            "MESSAGE": "state idle -> listening",
            "PRIORITY": "6",
            **base,
            "STATE": "listening",
            "TURN_ID": "t-1",
            "WAKE_SCORE": "0.97",
        },
        {
            "MESSAGE": "slow reply",
            "PRIORITY": "4",
            **base,
            "LATENCY_MS": "812",
            "TOOL": "get_weather",
        },
        {
            "MESSAGE": "device failed",
            "PRIORITY": "3",
            **base,
            "DEVICE": "kitchen light",
            "ERROR_CODE": "device_unreachable",
        },
        {"MESSAGE": "giving up", "PRIORITY": "2", **base},
        {"MESSAGE": "line one\nline two\nline three", "PRIORITY": "6", **base},
    ]
    # The multi-line message used the binary-safe form: NAME\n + u64 LE length + data + \n.
    text = b"line one\nline two\nline three"
    assert b"MESSAGE\n" + struct.pack("<Q", len(text)) + text + b"\n" in raw[5]
    assert entries[0]["CODE_FILE"].endswith("child.py")
    assert entries[0]["CODE_LINE"] == "8"

    crash = entries[6]
    assert crash["PRIORITY"] == "3"
    assert crash["TOOL"] == "set_power"
    lines = crash["MESSAGE"].split("\n")
    assert lines[0] == "tool crashed"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"

    redacted = entries[7]
    assert (redacted["MESSAGE"], redacted["DEVICE"]) == ("key is ***", "x***")
    assert fields_of(entries[8]) == {
        "MESSAGE": "lowercase extras are no fields",
        "PRIORITY": "6",
        **base,
    }
    assert fields_of(entries[9]) == {"MESSAGE": "no spoofing", "PRIORITY": "6", **base}
    assert len(entries) == 10
    assert not any(SECRET.encode() in d for d in raw)


def test_without_socket_stderr_gets_priority_prefixes(tmp_path: Path) -> None:
    result = run_in_namespace(tmp_path, bind_socket=False)
    assert result["datagrams"] == []
    lines = result["stderr"].splitlines()
    assert lines[:10] == [
        "<7>edge_agent.rig: debug line",
        "<6>edge_agent.rig: state idle -> listening STATE=listening TURN_ID=t-1 WAKE_SCORE=0.97",
        "<4>edge_agent.rig: slow reply LATENCY_MS=812 TOOL=get_weather",
        "<3>edge_agent.rig: device failed DEVICE=kitchen light ERROR_CODE=device_unreachable",
        "<2>edge_agent.rig: giving up",
        "<6>edge_agent.rig: line one",
        "<6>  line two",
        "<6>  line three",
        "<3>edge_agent.rig: tool crashed TOOL=set_power",
        "<3>  Traceback (most recent call last):",
    ]
    assert "<3>  ValueError: boom" in lines
    assert "<6>edge_agent.rig: key is *** DEVICE=x***" in lines
    assert lines[-2:] == [
        "<6>edge_agent.rig: lowercase extras are no fields",
        "<6>edge_agent.rig: no spoofing",
    ]
    assert all(line.startswith(("<2>", "<3>", "<4>", "<6>", "<7>")) for line in lines)
    assert SECRET not in result["stderr"]


def test_stderr_can_be_forced_while_the_socket_exists(tmp_path: Path) -> None:
    result = run_in_namespace(tmp_path, bind_socket=True, env={"EDGE_AGENT_LOG_STDERR": "1"})
    assert result["datagrams"] == []
    assert result["stderr"].splitlines()[0] == "<7>edge_agent.rig: debug line"


def test_parse_entry_reads_both_field_forms() -> None:
    data = b"MESSAGE=hi\nBIN\n" + struct.pack("<Q", 5) + b"a\nb=c\nPRIORITY=6\n"
    assert parse_entry(data) == [("MESSAGE", b"hi"), ("BIN", b"a\nb=c"), ("PRIORITY", b"6")]


@pytest.mark.parametrize(
    "data",
    [b"MESSAGE=hi", b"BIN\n" + struct.pack("<Q", 50) + b"short\n", b"BIN\n\x01"],
)
def test_parse_entry_rejects_malformed_datagrams(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_entry(data)


def test_entry_dict_rejects_a_repeated_field() -> None:
    with pytest.raises(ValueError, match="MESSAGE appears twice"):
        entry_dict(b"MESSAGE=a\nMESSAGE=b\n")


def test_stderr_logs_survive_the_pyaudio_quiet_window(capfd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """PyAudio starts in a worker thread with fd 2 on /dev/null; a record logged meanwhile
    (e.g. the start-up model warning) still reaches stderr, ALSA's noise does not."""
    import logging
    import os
    import sys

    from edge_agent.audio.devices import quiet_stderr
    from edge_agent.system.journal import StderrHandler

    # as in the daemon: sys.stderr is the stream on fd 2 (capfd has put its file there)
    monkeypatch.setattr(sys, "stderr", open(2, "w", buffering=1, closefd=False))  # noqa: SIM115
    handler = StderrHandler()
    log = logging.getLogger("edge_agent.test_quiet")
    log.addHandler(handler)
    log.propagate = False
    try:
        with quiet_stderr():
            os.write(2, b"ALSA lib pcm.c: Unknown PCM cards.pcm.rear\n")  # what PortAudio prints
            log.warning("realtime.model 'gpt-realtime' is deprecated")
    finally:
        log.removeHandler(handler)
        log.propagate = True
        handler.close()
    err = capfd.readouterr().err
    assert "<4>edge_agent.test_quiet: realtime.model 'gpt-realtime' is deprecated" in err
    assert "Unknown PCM" not in err
