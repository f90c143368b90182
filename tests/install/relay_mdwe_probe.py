"""Run the relay's whole request path under MemoryDenyWriteExecute=, as systemd enforces it.

``python relay_mdwe_probe.py {prctl,seccomp} CERT KEY``: deny W+X memory (see mdwe_probe.py),
then serve the relay with TLS on 127.0.0.1, add a satellite, ask for a secret (the relay mints
it at the emulator's endpoint) and print one line per step.
"""

from __future__ import annotations

import asyncio
import mmap
import ssl
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.install.mdwe_probe import _deny_with_prctl, _deny_with_seccomp


async def probe(cert: str, key: str) -> None:
    from edge_agent.relay.service import RelayService
    from edge_agent.relay.settings import parse_relay_config
    from edge_agent.relay.store import RelayStore
    from edge_agent.sim.client_secrets import ClientSecretService
    from edge_agent.sim.realtime_server import RealtimeEmulator

    emu = await RealtimeEmulator(api_keys=["sk-probe"]).start()
    upstream = ClientSecretService(emu)
    upstream.start()
    with tempfile.TemporaryDirectory() as state:
        text = (
            f'[relay]\nport = 0\nstate_dir = "{state}"\nupstream_url = "{upstream.endpoint}"\n'
            f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        )
        relay = RelayService(parse_relay_config(text, env={"OPENAI_API_KEY": "sk-probe"}))
        store = RelayStore(state)
        registry, token = store.load_registry().add("probe", "now")
        store.save_registry(registry)
        await relay.start()
        ctx = ssl.create_default_context(cafile=cert)
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port, ssl=ctx)
        body = b'{"model": "gpt-realtime-2.1"}'
        writer.write(
            b"POST /v1/realtime/client_secrets HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        print((await reader.readline()).decode().strip())
        writer.close()
        await relay.stop()
    upstream.stop()
    await emu.stop()


def main(mode: str, cert: str, key: str) -> int:
    (_deny_with_prctl if mode == "prctl" else _deny_with_seccomp)()
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        print("wx-mapping allowed")
    except OSError:
        print("wx-mapping refused")
    from systemd import daemon, journal  # noqa: F401

    asyncio.run(probe(cert, key))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
