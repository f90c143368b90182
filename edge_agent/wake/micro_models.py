"""microWakeWord's model files: the built-ins pymicro-wakeword ships, their checksums, custom
models by path, and the JSON manifests that carry each model's cutoff and window.

The pymicro-wakeword wheel ships the four Apache-2.0 models (okay_nabu, hey_jarvis,
hey_mycroft, alexa) with their manifests and the TFLite C library, so nothing is downloaded at
run time: `fetch_micro_models` copies them from the installed package (or its wheel, fetched
with ``pip download --no-deps``) into the models directory, checked against pinned SHA-256s,
and `resolve_micro_models` verifies them again at start. Manifests are outside input: bounded
and validated (types, ranges, and a model file named beside the manifest, nowhere else).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edge_agent.errors import WakeModelError
from edge_agent.tools.sanitize import clean_text
from edge_agent.wake.models import read_source

__all__ = [
    "MICRO_MODELS",
    "MICRO_VERSION",
    "MicroManifest",
    "fetch_micro_models",
    "load_manifest",
    "resolve_micro_models",
    "tflite_library",
]

MICRO_VERSION: Final = "2.5.0"
_WHEEL_DIR: Final = "pymicro_wakeword/models/"
_FIX: Final = "run `edge-agent models fetch`"
_MAX_MANIFEST_BYTES: Final = 64 * 1024

# name -> SHA-256 of (name.json, name.tflite) as pymicro-wakeword 2.5.0 ships them
MICRO_MODELS: Final[dict[str, tuple[str, str]]] = {
    "okay_nabu": (
        "f8026e2ce93a0855ca23483036fd2d74ee924a2588d9ea6a6c6c7478fbf4be57",
        "d89128c4d16a72de429119fb2254ce46649553c2a24f5dd840175c80d7b9d094",
    ),
    "hey_jarvis": (
        "b153867d818675d8abcc9dace474afe7f83551ae0d5a9b1d71a98681320185af",
        "21a7976add39ee24ec96c63d96b7aaa18e24d1d9824b963e451da8feb4b78b77",
    ),
    "hey_mycroft": (
        "57b2b06fe5fdbbe834a242fabc7af31e4194a550fc382b2c88636a6d62d0d57e",
        "c2a9b6ed51182db72e014781d5a4ece1929dc232a40b5b4be384f0295f0e1571",
    ),
    "alexa": (
        "1d999798b35b1fe2606465b75ab840be51c1811d2909d5e620cefb6e96f8abd0",
        "9011a8155b04de858c48038529235cbc0e42e9fca05a55bf588cb80a653a723b",
    ),
}


@dataclass(frozen=True, slots=True)
class MicroManifest:
    """What a microWakeWord JSON manifest says (validated)."""

    wake_word: str
    model: Path  # the .tflite beside the manifest
    probability_cutoff: float
    sliding_window_size: int
    languages: tuple[str, ...] = ()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(path: Path) -> MicroManifest:
    """Parse and check a microWakeWord manifest (``{"model": "x.tflite", "micro": {...}}``).

    Raises:
        WakeModelError: unreadable, not JSON, a missing or out-of-range field, or a model file
            that is not a plain name of an existing file beside the manifest.
    """
    where = f"microWakeWord manifest {str(path)!r}"
    try:
        raw = path.read_bytes()[: _MAX_MANIFEST_BYTES + 1]
    except OSError as exc:
        raise WakeModelError(f"cannot read {where}: {exc.strerror}; check wake.models") from exc
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise WakeModelError(f"{where} is larger than 64 kB; check the file")
    try:
        doc = json.loads(raw)
        micro = doc["micro"]
        model_name = doc["model"]
        cutoff = micro["probability_cutoff"]
        window = micro["sliding_window_size"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WakeModelError(
            f"{where} is not a microWakeWord manifest (needs model, micro.probability_cutoff, "
            f"micro.sliding_window_size): {type(exc).__name__}"
        ) from exc
    if not isinstance(model_name, str) or Path(model_name).name != model_name:
        raise WakeModelError(f"{where}: 'model' must be a file name beside it, not a path")
    if not model_name.endswith(".tflite"):
        raise WakeModelError(f"{where}: 'model' must name a .tflite file")
    ok_cutoff = isinstance(cutoff, int | float) and not isinstance(cutoff, bool)
    if not ok_cutoff or not 0.0 < float(cutoff) <= 1.0:
        raise WakeModelError(f"{where}: micro.probability_cutoff must be a number in (0, 1]")
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 100:
        raise WakeModelError(f"{where}: micro.sliding_window_size must be an integer 1..100")
    model = path.parent / model_name
    if not model.is_file():
        raise WakeModelError(f"{where} names {model_name!r}, which is not beside it; {_FIX}")
    langs = doc.get("trained_languages", [])
    languages = tuple(clean_text(str(x), 16) for x in langs[:32]) if isinstance(langs, list) else ()
    wake_word = clean_text(str(doc.get("wake_word", path.stem)), 64)
    return MicroManifest(wake_word, model, float(cutoff), window, languages)


def tflite_library() -> Path:
    """The TFLite C library inside the installed pymicro-wakeword (found without importing)."""
    spec = importlib.util.find_spec("pymicro_wakeword")
    if spec is None or not spec.submodule_search_locations:
        raise WakeModelError(
            "wake.engine 'microwakeword' needs the pymicro-wakeword package; "
            f"pip install 'pymicro-wakeword=={MICRO_VERSION}'"
        )
    lib_dir = Path(next(iter(spec.submodule_search_locations))) / "lib"
    found = sorted(lib_dir.glob("*tensorflowlite_c.*"))
    if not found:
        raise WakeModelError(f"pymicro-wakeword has no TFLite library in {str(lib_dir)!r}")
    return found[0]


def _installed_dir() -> Path | None:
    spec = importlib.util.find_spec("pymicro_wakeword")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


def _download_wheel(tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["-d", str(tmp), f"pymicro-wakeword=={MICRO_VERSION}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(tmp.glob("pymicro_wakeword-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise WakeModelError(
            f"cannot download pymicro-wakeword=={MICRO_VERSION}: {tail[0]}; "
            f"install it with `pip install pymicro-wakeword=={MICRO_VERSION}`"
        )
    return wheels[0]


def _files(name: str) -> Sequence[tuple[str, str]]:
    json_sha, tflite_sha = MICRO_MODELS[name]
    return ((f"{name}.json", json_sha), (f"{name}.tflite", tflite_sha))


def _valid(path: Path, sha: str) -> bool:
    return path.is_file() and _sha256(path.read_bytes()) == sha


def fetch_micro_models(
    dest: Path, names: Iterable[str] | None = None, *, source: Path | None = None
) -> list[Path]:
    """Store verified copies of the built-in microWakeWord models (manifest + .tflite) under
    ``dest/micro``; idempotent. Returns the manifests' paths.

    Raises:
        WakeModelError: an unknown name, no source, or a checksum that differs.
    """
    from edge_agent.wake.models import _write_atomic

    wanted = list(names or MICRO_MODELS)
    unknown = [n for n in wanted if n not in MICRO_MODELS]
    if unknown:
        raise WakeModelError(
            f"unknown microWakeWord model {unknown[0]!r}; known: {list(MICRO_MODELS)}"
        )
    folder = dest / "micro"
    missing = [(f, sha) for n in wanted for f, sha in _files(n) if not _valid(folder / f, sha)]
    if missing:
        with tempfile.TemporaryDirectory(prefix="edge-agent-wheel-") as tmp:
            src = source or _installed_dir() or _download_wheel(Path(tmp))
            for file_name, sha in missing:
                try:
                    data = read_source(src, file_name, _WHEEL_DIR)
                except (OSError, KeyError) as exc:
                    raise WakeModelError(f"model {file_name!r} not found in {str(src)!r}") from exc
                if _sha256(data) != sha:
                    raise WakeModelError(
                        f"model {file_name!r} from {str(src)!r} fails its sha256 check; "
                        f"reinstall pymicro-wakeword=={MICRO_VERSION}"
                    )
                _write_atomic(folder / file_name, data)
    return [folder / f"{n}.json" for n in wanted]


def resolve_micro_models(specs: Iterable[str], models_dir: Path) -> dict[str, Path]:
    """Detection name -> verified manifest path, for built-in names and custom paths
    (a .json manifest, or a .tflite with a same-named .json beside it).

    Raises:
        WakeModelError: missing or corrupt, with the fix.
    """
    out: dict[str, Path] = {}
    for spec in specs:
        if spec in MICRO_MODELS:
            for file_name, sha in _files(spec):
                path = models_dir / "micro" / file_name
                if not path.is_file():
                    raise WakeModelError(
                        f"wake model {spec!r} (microWakeWord) is missing from "
                        f"{str(models_dir / 'micro')!r}; {_FIX}"
                    )
                if not _valid(path, sha):
                    raise WakeModelError(f"wake model {str(path)!r} fails its sha256 check; {_FIX}")
            out[spec] = models_dir / "micro" / f"{spec}.json"
            continue
        path = Path(spec).expanduser()
        if path.suffix == ".tflite":
            path = path.with_suffix(".json")
        if path.suffix != ".json":
            raise WakeModelError(
                f"wake model {spec!r} is neither a built-in microWakeWord name "
                f"{list(MICRO_MODELS)} nor a .json/.tflite path"
            )
        if not path.is_file():
            raise WakeModelError(
                f"custom wake model manifest {str(path)!r} does not exist; a microWakeWord "
                "model is a .tflite with its .json manifest beside it"
            )
        out[path.stem] = path
    return out
