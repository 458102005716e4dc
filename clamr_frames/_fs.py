"""File-system helpers shared by the stages that write caches (OCR and transcript caches, index store)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

#: Environment variable naming the cache root (indexes, OCR text, transcripts).
CACHE_ENV = "CLAMR_FRAMES_CACHE"
_SAMPLE_BYTES = 1 << 20


def default_cache_dir() -> Path:
    """``$CLAMR_FRAMES_CACHE`` if set, else the user's cache directory (e.g. ``~/.cache/clamr-frames``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("clamr-frames"))


def video_fingerprint(path: str | Path) -> str:
    """Content fingerprint of a file: its size plus sha256 of three 1 MiB samples (head, middle, tail).

    Path and mtime are deliberately not part of it: a copied or touched file keeps its index, an edited
    one (same name, other bytes) does not.
    """
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        for pos in sorted({0, max(0, size // 2 - _SAMPLE_BYTES // 2), max(0, size - _SAMPLE_BYTES)}):
            f.seek(pos)
            h.update(f.read(_SAMPLE_BYTES))
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a torn write.

    The bytes go to a temporary file in the same directory, are fsync'ed, and replace ``path`` in one rename;
    on any error the temporary file is removed and the error re-raised.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
