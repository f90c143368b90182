"""A real broker for the MQTT tests: Debian's mosquitto on a free loopback port, with a
password file, started by the tests themselves (never the system service).

`Broker` starts and stops mosquitto (persistence off, so a restart loses every retained message
and only what the daemon re-publishes comes back); `retained()` collects what a fresh
subscriber gets on a filter; `publish()` sends test messages with the real client library.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

USER = "edge"
PASSWORD = "s3cret-broker-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One mosquitto process; `start()`/`stop()` can be repeated (same port, same users)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user, self.password = USER, PASSWORD
        self.password_file = root / "broker.password"  # what edge-agent reads (the secret)
        self.password_file.write_text(PASSWORD + "\n")
        self.passwd = root / "passwd"  # mosquitto's hashed user list
        subprocess.run(
            ["mosquitto_passwd", "-b", "-c", str(self.passwd), USER, PASSWORD],
            check=True,
            capture_output=True,
        )
        self.conf = root / "mosquitto.conf"
        self.log = root / "mosquitto.log"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {self.passwd}\n"
            "persistence false\n"
            f"log_dest file {self.log}\n"
            "log_type all\n"
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert shutil.which("mosquitto"), "apt-get install mosquitto (scripts/lib/setup.sh)"
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"mosquitto exited: {err}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not listen within 10 s") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def client(self, **kw: object) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host, self.port, username=self.user, password=self.password, **kw
        )

    async def retained(self, topic_filter: str, wait_s: float = 0.5) -> dict[str, bytes]:
        """What a new subscriber to `topic_filter` receives as retained messages."""
        got: dict[str, bytes] = {}
        async with self.client() as c:
            await c.subscribe(topic_filter, qos=1)
            try:
                async with asyncio.timeout(wait_s):
                    async for m in c.messages:
                        if m.retain:
                            got[m.topic.value] = bytes(m.payload)  # type: ignore[arg-type]
            except TimeoutError:
                pass
        return got

    async def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        async with self.client() as c:
            await c.publish(topic, payload, qos=1, retain=retain)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session", autouse=True)
def _models() -> None:
    """The wake models the e2e config points at (as tests/e2e does)."""
    from edge_agent.wake.models import fetch_models
    from tests.e2e.conftest import MODELS_DIR

    fetch_models(MODELS_DIR)


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `predicate` every 20 ms; TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout_s:g} s")
        await asyncio.sleep(0.02)


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    """gpiozero mock pins for the rig's status LED and buttons (as tests/e2e)."""
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()
