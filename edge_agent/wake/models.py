"""The wake-word model files: which ones exist, where they come from, and how they are checked.

openWakeWord 0.6 downloads its models from GitHub at first use, which fails on a Pi without
internet and in CI. The 0.5.1 wheel ships them all, so `fetch_models` copies them from the
installed package (or from that wheel, fetched with ``pip download --no-deps``), verifies each
file against a pinned SHA-256 and writes it atomically. `resolve_models` turns the configured
names into explicit, verified paths; it never downloads anything.

The pre-trained models are licensed CC BY-NC-SA 4.0 (non-commercial use only).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edge_agent.config import Config
from edge_agent.errors import WakeModelError

__all__ = [
    "BUILTIN_MODELS",
    "FEATURE_MODELS",
    "OWW_VERSION",
    "WAKE_WORDS",
    "ModelPaths",
    "default_models_dir",
    "fetch_models",
    "read_source",
    "resolve_models",
    "sha256_file",
]

log = logging.getLogger(__name__)

OWW_VERSION: Final = "0.5.1"
_WHEEL_DIR: Final = "openwakeword/resources/models/"
FIX_HINT: Final = "run `edge-agent models fetch`"

# name -> (file name in the 0.5.1 wheel, SHA-256 of that file)
BUILTIN_MODELS: Final[dict[str, tuple[str, str]]] = {
    "melspectrogram": (
        "melspectrogram.onnx",
        "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
    ),
    "embedding_model": (
        "embedding_model.onnx",
        "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f",
    ),
    "silero_vad": (
        "silero_vad.onnx",
        "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28",
    ),
    "hey_jarvis": (
        "hey_jarvis_v0.1.onnx",
        "94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb",
    ),
    "alexa": (
        "alexa_v0.1.onnx",
        "6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e",
    ),
    "hey_mycroft": (
        "hey_mycroft_v0.1.onnx",
        "c2a311e8fa1338de89c31b3b46dc4dffd4af2f9a8d6ddead48893c2d301b1f18",
    ),
    "hey_rhasspy": (
        "hey_rhasspy_v0.1.onnx",
        "5a9b3ed3be2910e35780e097905aa9f35a9c10038df47914cf2b3ec4d670f6ea",
    ),
}
FEATURE_MODELS: Final = ("melspectrogram", "embedding_model")
WAKE_WORDS: Final = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy")


@dataclass(frozen=True, slots=True)
class ModelPaths:
    """Explicit, verified model files for one detector.

    openWakeWord: the two feature models and one .onnx per wake word. microWakeWord: no
    feature models; `wake` maps each name to its JSON manifest (the .tflite beside it).
    `vad` is Silero's .onnx (None: no Silero; microVAD needs no file).
    """

    melspectrogram: Path | None
    embedding: Path | None
    wake: dict[str, Path]  # wake-word name (as reported in detections) -> .onnx / .json
    vad: Path | None = None
    engine: str = "openwakeword"


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_models_dir(cfg: Config | None = None) -> Path:
    """$EDGE_AGENT_MODELS_DIR, else the configured models directory."""
    env = os.environ.get("EDGE_AGENT_MODELS_DIR")
    if env:
        return Path(env)
    return (cfg or Config()).models_dir


def _installed_models_dir() -> Path | None:
    """The models folder of an installed openwakeword 0.5.1, found without importing it.

    Importing openwakeword would pull scipy and scikit-learn; find_spec does not run it.
    """
    spec = importlib.util.find_spec("openwakeword")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "resources" / "models"
    return folder if folder.is_dir() else None


def _download_wheel(tmp: Path) -> Path:
    """`pip download --no-deps openwakeword==0.5.1` into tmp; returns the wheel."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["-d", str(tmp), f"openwakeword=={OWW_VERSION}"]
    log.info("downloading openwakeword %s wheel for its models", OWW_VERSION)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(tmp.glob("openwakeword-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise WakeModelError(
            f"cannot download openwakeword=={OWW_VERSION}: {tail[0]}; "
            "install it with `pip install --no-deps openwakeword==0.5.1` or check the network"
        )
    return wheels[0]


def read_source(source: Path, file_name: str, wheel_dir: str = _WHEEL_DIR) -> bytes:
    """One model file's bytes from a models folder or a wheel (``wheel_dir`` inside it).

    Raises OSError (also for a file that is not a zip) or KeyError (not in the wheel).
    zipfile is imported here only: a daemon whose models are in place never needs it (0.4 MB).
    """
    if source.is_dir():
        return (source / file_name).read_bytes()
    import zipfile

    try:
        with zipfile.ZipFile(source) as wheel:
            return wheel.read(wheel_dir + file_name)
    except zipfile.BadZipFile as exc:
        raise OSError(f"not a wheel: {exc}") from exc


def _write_atomic(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _is_valid(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_file(path) == sha256


def fetch_models(
    dest: Path, names: Iterable[str] | None = None, *, source: Path | None = None
) -> list[Path]:
    """Store verified copies of the built-in models in `dest`; idempotent.

    Args:
        dest: the models directory.
        names: built-in model names (default: all of BUILTIN_MODELS).
        source: a models folder or an openwakeword 0.5.1 wheel; default: the installed
            package, else a wheel fetched with `pip download`.

    Returns:
        The paths written or already valid, in the order of `names`.

    Raises:
        WakeModelError: a name is unknown, the source is unavailable, or a checksum differs.
    """
    wanted = list(names or BUILTIN_MODELS)
    unknown = [n for n in wanted if n not in BUILTIN_MODELS]
    if unknown:
        raise WakeModelError(
            f"unknown built-in model {unknown[0]!r}; known: {list(BUILTIN_MODELS)}"
        )
    missing = [
        n for n in wanted if not _is_valid(dest / BUILTIN_MODELS[n][0], BUILTIN_MODELS[n][1])
    ]
    if missing:
        with tempfile.TemporaryDirectory(prefix="edge-agent-wheel-") as tmp:
            src = source or _installed_models_dir() or _download_wheel(Path(tmp))
            for name in missing:
                _copy_one(src, dest, name)
    return [dest / BUILTIN_MODELS[n][0] for n in wanted]


def _copy_one(source: Path, dest: Path, name: str) -> None:
    file_name, sha256 = BUILTIN_MODELS[name]
    try:
        data = read_source(source, file_name)
    except (OSError, KeyError) as exc:
        raise WakeModelError(f"model {file_name!r} not found in {str(source)!r}: {exc}") from exc
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise WakeModelError(
            f"model {file_name!r} from {str(source)!r} has sha256 {got[:16]}…, "
            f"expected {sha256[:16]}…; reinstall openwakeword=={OWW_VERSION}"
        )
    _write_atomic(dest / file_name, data)
    log.info("stored wake model %s", file_name, extra={"MODEL": name})


def _builtin_path(models_dir: Path, name: str) -> Path:
    file_name, sha256 = BUILTIN_MODELS[name]
    path = models_dir / file_name
    if not path.is_file():
        raise WakeModelError(f"wake model {name!r} is missing from {str(models_dir)!r}; {FIX_HINT}")
    if sha256_file(path) != sha256:
        raise WakeModelError(f"wake model {str(path)!r} fails its sha256 check; {FIX_HINT}")
    return path


def _custom_path(spec: str) -> tuple[str, Path]:
    path = Path(spec).expanduser()
    if path.suffix != ".onnx":
        raise WakeModelError(
            f"wake model {spec!r} is neither a built-in name {list(WAKE_WORDS)} nor an .onnx path"
        )
    if not path.is_file():
        raise WakeModelError(f"custom wake model {spec!r} does not exist; check wake.models")
    return path.stem, path


def resolve_models(
    cfg: Config, models_dir: Path | None = None, *, vad: bool | None = None
) -> ModelPaths:
    """Explicit, verified paths for the configured wake models (no download).

    Args:
        cfg: the configuration (wake.models, wake.vad_threshold, models dir).
        models_dir: overrides $EDGE_AGENT_MODELS_DIR and the configured directory.
        vad: load a VAD; default: yes (the VAD gate and the wake word's end estimate use it).
            Silero's file unless wake.vad_model picks microVAD ('auto': with microwakeword).

    Raises:
        WakeModelError: a model is missing, corrupt or not an .onnx file, with the fix.
    """
    folder = models_dir or default_models_dir(cfg)
    use_vad = True if vad is None else vad
    if cfg.wake.engine == "microwakeword":
        from edge_agent.wake.micro_models import resolve_micro_models

        silero = use_vad and cfg.wake.vad_model == "silero"
        return ModelPaths(
            None,
            None,
            resolve_micro_models(cfg.wake.models, folder),
            _builtin_path(folder, "silero_vad") if silero else None,
            "microwakeword",
        )
    wake: dict[str, Path] = {}
    for spec in cfg.wake.models:
        name, path = (
            (spec, _builtin_path(folder, spec)) if spec in WAKE_WORDS else _custom_path(spec)
        )
        wake[name] = path
    silero = use_vad and cfg.wake.vad_model != "micro"
    return ModelPaths(
        melspectrogram=_builtin_path(folder, "melspectrogram"),
        embedding=_builtin_path(folder, "embedding_model"),
        wake=wake,
        vad=_builtin_path(folder, "silero_vad") if silero else None,
    )
