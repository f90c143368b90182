"""What an idle daemon does not import: each of these costs resident memory for good once
imported, and is needed only off the idle path (docs/pipeline.md "Idle memory")."""

from __future__ import annotations

from tests.imports import loaded_after

NOT_AT_IDLE = {
    "zipfile": "model wheels are read at fetch time only (0.4 MB)",
    "difflib": "close-match hints for a bad config key or a misheard device",
    "httpcore": "httpx runs on edge_agent.net.http1",
    "anyio": "httpcore's asyncio backend, which the daemon does not use",
    "certifi": "the CA store is the system's, loaded at the first TLS connection",
    "numpy.fft": "the mel spectrogram and the end estimate use a DFT basis",
    "numpy.ma": "np.median's NaN check; the end estimate sorts instead",
}


def test_the_daemons_modules_leave_out_what_idle_never_uses() -> None:
    code = "import edge_agent.commands.run, edge_agent.pipeline.build, edge_agent.wake.micro_models"
    assert loaded_after(code, NOT_AT_IDLE) == []
