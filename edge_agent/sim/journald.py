"""A stand-in journald: capture the native-protocol datagrams a program sends, without systemd.

systemd-python (libsystemd) always writes to ``/run/systemd/journal/socket``. Owning that
path needs a private mount namespace: `namespaced` wraps a command in
``unshare -m --propagation private`` (plus ``-r``, a user namespace, when not root) with a
tmpfs over /run/systemd, so the host's journal is never touched. Inside, ``python -m
edge_agent.sim.journald -- CMD...`` binds the socket, runs CMD, and prints one JSON object on
stdout: the raw datagrams (base64), CMD's exit code, stdout and stderr.

Wire format (systemd's "native protocol"): one datagram per entry, fields as ``NAME=value\\n``,
or, for values holding a newline, ``NAME\\n`` + 8-byte little-endian length + bytes + ``\\n``.
Large entries arrive as a sealed memfd passed with SCM_RIGHTS and an empty datagram.
"""

from __future__ import annotations

import argparse
import array
import base64
import contextlib
import json
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Final

__all__ = ["JOURNAL_SOCKET", "JournalSink", "entry_dict", "namespaced", "parse_entry"]

JOURNAL_SOCKET: Final = "/run/systemd/journal/socket"
_MAX_DATAGRAM: Final = 1 << 20


def parse_entry(data: bytes) -> list[tuple[str, bytes]]:
    """Split one native-protocol datagram into (field, value) pairs, in order.

    Raises:
        ValueError: the datagram is malformed (a truncated binary value, a line without '=').
    """
    fields: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            raise ValueError(f"unterminated field at byte {pos}")
        line = data[pos:end]
        if b"=" in line:
            name, _, value = line.partition(b"=")
            fields.append((name.decode("ascii"), value))
            pos = end + 1
            continue
        if end + 9 > len(data):
            raise ValueError(f"truncated binary field {line!r}")
        (size,) = struct.unpack("<Q", data[end + 1 : end + 9])
        start = end + 9
        if start + size + 1 > len(data) or data[start + size : start + size + 1] != b"\n":
            raise ValueError(f"bad length {size} for binary field {line!r}")
        fields.append((line.decode("ascii"), data[start : start + size]))
        pos = start + size + 1
    return fields


def entry_dict(data: bytes) -> dict[str, str]:
    """One entry as {field: text}.

    Raises:
        ValueError: malformed, or a field appears twice (our logger never sends that).
    """
    out: dict[str, str] = {}
    for name, value in parse_entry(data):
        if name in out:
            raise ValueError(f"field {name} appears twice")
        out[name] = value.decode("utf-8", errors="replace")
    return out


class JournalSink:
    """An AF_UNIX/SOCK_DGRAM socket bound where journald's would be; collects datagrams."""

    def __init__(self, path: str = JOURNAL_SOCKET) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(path)
        self.datagrams: list[bytes] = []

    def receive(self, timeout_s: float) -> int:
        """Collect what arrives within `timeout_s` (0: only what is queued); returns the count."""
        count = 0
        while select.select([self.sock], [], [], timeout_s)[0]:
            self.datagrams.append(self._recv_one())
            count += 1
            timeout_s = 0
        return count

    def _recv_one(self) -> bytes:
        fds = array.array("i")
        data, ancdata, _flags, _addr = self.sock.recvmsg(
            _MAX_DATAGRAM, socket.CMSG_SPACE(4 * fds.itemsize)
        )
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        for fd in fds:  # a large entry: the payload is the memfd's content
            with os.fdopen(fd, "rb") as memfd:
                memfd.seek(0)
                data = memfd.read()
        return data

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def namespaced(cmd: Sequence[str], *, bind_socket: bool = True) -> list[str]:
    """`cmd` run by the capture helper inside a private mount namespace with a tmpfs /run/systemd.

    With `bind_socket=False` nothing listens there: the journal socket is absent.
    """
    mount = (
        "set -e; if [ -d /run/systemd ]; then m=/run/systemd; else m=/run; fi; "
        'mount -t tmpfs tmpfs "$m"; mkdir -p /run/systemd/journal; exec "$@"'
    )
    helper = [sys.executable, "-m", "edge_agent.sim.journald"]
    if not bind_socket:
        helper.append("--no-socket")
    user = [] if os.geteuid() == 0 else ["-r"]
    return [
        "unshare",
        *user,
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        mount,
        "sh",
        *helper,
        "--",
        *cmd,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge_agent.sim.journald",
        description="Bind the journal socket, run CMD, print its journal datagrams as JSON. "
        "Run it in a private mount namespace (see edge_agent.sim.journald.namespaced).",
    )
    parser.add_argument(
        "--socket", default=JOURNAL_SOCKET, help="socket path (default %(default)s)"
    )
    parser.add_argument("--no-socket", action="store_true", help="bind nothing: journal absent")
    parser.add_argument("cmd", nargs="+", help="the command to run")
    args = parser.parse_args(argv)
    sink = None if args.no_socket else JournalSink(args.socket)
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(args.cmd, stdout=out_f, stderr=err_f)  # files: never a full pipe
        while proc.poll() is None:
            if sink:
                sink.receive(0.05)
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.05)
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if sink:
        sink.receive(0.2)  # anything still queued after the child exited
        sink.close()
    json.dump(
        {
            "returncode": proc.returncode,
            "stdout": out.decode("utf-8", "replace"),
            "stderr": err.decode("utf-8", "replace"),
            "datagrams": [
                base64.b64encode(d).decode("ascii") for d in (sink.datagrams if sink else [])
            ],
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
