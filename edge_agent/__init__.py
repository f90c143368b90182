"""edge-agent: a voice-assistant daemon for the Raspberry Pi."""

import os
import sys

__all__ = ["__version__"]

# httpx imports its command-line tool (`httpx._main`: click, pygments, rich) whenever those are
# installed; they are test-only here and never on a device, where the import fails and httpx
# falls back to a stub. Make it fail here too, so a daemon run from this venv (the benches)
# carries what a device does (-1.9 MB RSS measured by bench/pipeline.py).
sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]


def _is_ours(project: str) -> bool:
    """`edge_agent-0.1.0` / `edge_agent`: the name before the version, normalised."""
    return project.split("-")[0].lower().replace(".", "_") == "edge_agent"


def _read_version(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    return None  # end of the headers
    except OSError:
        pass
    return None


def _version() -> str:
    """The installed distribution's version, read from its metadata file on sys.path.

    `importlib.metadata.version` finds the same file the same way, but importing it costs the
    daemon ~3 MB of RSS (zipfile, email, csv...) for one start-up log line; it is still the
    fallback when no metadata directory is found here.
    """
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            for suffix, meta in ((".dist-info", "METADATA"), (".egg-info", "PKG-INFO")):
                if name.endswith(suffix) and _is_ours(name[: -len(suffix)]):
                    found = _read_version(os.path.join(entry or ".", name, meta))
                    if found:
                        return found
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edge-agent")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0+src"


__version__ = _version()
