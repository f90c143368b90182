"""A small real HTTP server for device and web-service emulators (stdlib, one thread).

Each emulator subclasses `EmulatedHttpService` and implements `handle(request) -> Response`.
The base class gives every emulator what the tests need: a random port on 127.0.0.1, a request
log, and fault injection (`delay_ms`, `hang`, `fail_next`, `garbage_next`, `drop_next`).
Requests are served one at a time, like the single-threaded firmware of ESP8266/ESP32 devices.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["EmulatedHttpService", "Request", "Response"]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # URL-decoded path
    raw_path: str  # as sent, with the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        import json

        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        self.headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode()


class EmulatedHttpService:
    """Base class: start() serves on 127.0.0.1 in a thread; stop() ends it."""

    name = "service"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.delay_ms = 0
        self.hang = False  # accept, read the request, never answer
        self.fail_next = 0  # answer the next N requests with HTTP 500
        self.garbage_next = 0  # answer the next N requests with 200 and non-JSON bytes
        self.drop_next = 0  # close the next N connections without answering
        self.lock = threading.Lock()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._hang_release = threading.Event()
        self._open: set[socket.socket] = set()  # accepted connections, closed by stop()

    # -- to implement --------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        scheme = (
            "https" if isinstance(self._server and self._server.socket, ssl.SSLSocket) else "http"
        )
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self, port: int = 0, *, tls: ssl.SSLContext | None = None) -> EmulatedHttpService:
        """Serve on 127.0.0.1:`port` (0 = a free one); with `tls`, serve https with that context."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                with service.lock:
                    service._open.add(self.connection)

            def finish(self) -> None:
                with service.lock:
                    service._open.discard(self.connection)
                super().finish()

            def _serve(self) -> None:
                service._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._server = HTTPServer(("127.0.0.1", port), Handler)
        if tls is not None:  # the handshake runs in accept(); a refused one is just dropped
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.timeout = 0.5
        server = self._server
        self._thread = threading.Thread(
            # A short poll interval: stop() waits up to one interval (tests stop many servers).
            target=lambda: server.serve_forever(poll_interval=0.05),
            name=f"emu-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._hang_release.set()
        # An idle keep-alive connection pins the single server thread in readline(): shut the
        # open connections down so shutdown() cannot wait on a client that never closes.
        with self.lock:
            open_connections = list(self._open)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> EmulatedHttpService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- plumbing ------------------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        split = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        req = Request(
            method=h.command,
            path=unquote(split.path),
            raw_path=h.path,
            query=query,
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        with self.lock:
            self.requests.append(req)
            drop, hang = self.drop_next > 0, self.hang
            if drop:
                self.drop_next -= 1
        if drop:
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        if hang:
            self._hang_release.wait(30)
            h.close_connection = True
            return
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                resp = Response(500, "Internal Server Error")
            elif self.garbage_next > 0:
                self.garbage_next -= 1
                resp = Response(200, b"\x00\xffnot json{", {"Content-Type": "application/json"})
            else:
                resp = self.handle(req)
        data = resp.payload()
        try:
            h.send_response(resp.status)
            for k, v in resp.headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            h.close_connection = True
