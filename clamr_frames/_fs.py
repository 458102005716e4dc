"""File-system helpers shared by the stages that write caches (OCR and transcript caches, index store) or
check files."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)

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


def _open_temp(path: Path) -> tuple[int, Path]:
    """A new temporary file beside ``path``, created with mode 0o666 so that the kernel applies the process
    umask, as for any other file the user creates (``tempfile.mkstemp`` always gives 0600, which makes a cache
    shared between users unreadable to the others). Reading the umask is never needed (``os.umask`` can only be
    read by setting it, which races with other threads)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, so that readers see the old file or the new one, never a torn
    write.

    The bytes go to a temporary file in the same directory (mode 0o666 minus the umask), are fsync'ed, and replace
    ``path`` in one rename when the block ends; on any error the temporary file is removed and the error re-raised.
    """
    fd, tmp = _open_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as f:
        f.write(data)


def sha256_file(path: str | Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks (never the whole file in memory).

    Raises:
        OSError: the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def fsync_tree(root: Path) -> None:
    """fsync every file under ``root`` and every directory (``root`` included), so that a rename that publishes
    ``root`` afterwards never publishes files whose bytes are still only in the page cache."""
    root = Path(root)
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms that cannot open a directory (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on a directory
        pass
    finally:
        os.close(fd)


_ASIDE = ".old-"


def staging_directory(path: Path) -> Path:
    """A new, uniquely named empty directory beside ``path`` to fill and then :func:`publish_directory`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def publish_directory(staging: Path, path: Path) -> None:
    """Replace ``path`` with the filled ``staging`` directory so that at every instant ``path`` is the old
    complete directory or the new complete one (or, for a moment, the old one renamed aside, which
    :func:`recover_directory` puts back after a crash).

    Every file of ``staging`` is fsync'ed, the old ``path`` (if any) is renamed to ``.<name>.old-<token>``,
    ``staging`` renamed into place, and the old copy deleted.
    """
    staging, path = Path(staging), Path(path)
    fsync_tree(staging)
    aside = None
    if path.exists():
        aside = path.parent / f".{path.name}{_ASIDE}{secrets.token_hex(6)}"
        os.replace(path, aside)
    os.replace(staging, path)
    _fsync_dir(path.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


@contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """A fresh directory to fill; when the block ends it replaces ``path`` (:func:`publish_directory`), on any
    error it is removed and the error re-raised.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "ckpt") as d:
    ...     _ = (d / "a.txt").write_text("new")
    >>> sorted(p.name for p in root.iterdir()), (root / "ckpt" / "a.txt").read_text()
    (['ckpt'], 'new')
    """
    tmp = staging_directory(path)
    try:
        yield tmp
        publish_directory(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def recover_directory(path: Path) -> bool:
    """Undo what a crash inside :func:`atomic_directory`'s swap left: when ``path`` is missing and an old copy
    was renamed aside, rename it back; remove leftover temporary and aside directories of ``path``.

    Returns:
        True when ``path`` exists afterwards.
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return False
    prefix = f".{path.name}"
    asides = sorted(p for p in parent.iterdir() if p.name.startswith(prefix + _ASIDE))
    temps = [p for p in parent.iterdir() if p.name.startswith(prefix + ".") and p.name.endswith(".tmp")]
    if not path.exists() and asides:
        os.replace(asides.pop(), path)
        _fsync_dir(parent)
    for leftover in asides + temps:
        shutil.rmtree(leftover, ignore_errors=True)
    return path.exists()
