"""One keyed, locked, versioned, atomic JSON store: what every context cache (OCR text, transcripts) keeps on disk.

A :class:`KeyedJsonStore` holds one JSON file per key (a tuple of strings: the video's content fingerprint and the
stage's settings) directly inside its directory:

- **keyed** — a key becomes a file name that cannot leave the directory: ``naming="hashed"`` names the file by a
  sha256 of the key parts, ``naming="readable"`` keeps the parts readable, each reduced to ``[A-Za-z0-9_.-]`` with
  no leading dot and disambiguated by a hash whenever anything was changed or cut (two keys never share a file);
- **locked** — :meth:`KeyedJsonStore.lock` is a file lock beside the file (``<file>.lock``), so processes that
  read, merge and rewrite one key take turns instead of losing each other's entries;
- **versioned** — every file starts with the store's ``format`` and ``version``; a file of another format or
  version, or one written for another key, is foreign: a warning, and it reads as absent. Fields a caller names as
  ``current`` (e.g. the video reader's frame rules) make an outdated file read as absent without a warning;
- **atomic** — a write goes to a temporary file in the same directory, is fsync'ed, and replaces the file in one
  rename (:func:`clamr_frames._fs.atomic_write_bytes`): readers see the old file or the new one, never half.

It is a base module: it knows files, not stages (the caches of :mod:`clamr_frames.context` use it).

>>> import tempfile
>>> store = KeyedJsonStore(tempfile.mkdtemp(), format="example/notes", version=1, what="notes cache")
>>> store.save(("video-fp", "settings"), {"texts": {"1.000": "EXIT"}})
>>> store.load(("video-fp", "settings"), lambda record: record["texts"])
{'1.000': 'EXIT'}
>>> store.load(("other-fp", "settings"), lambda record: record["texts"]) is None
True
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from clamr_frames._fs import atomic_write_bytes
from clamr_frames.errors import IndexCacheError, InputError

T = TypeVar("T")

#: How a key becomes a file name (see the module docstring).
NAMINGS = ("hashed", "readable")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def readable_part(s: str, limit: int = 64) -> str:
    """A file-name-safe rendering of ``s``: only ``[A-Za-z0-9_.-]``, no leading dot, plus a hash of the original
    whenever anything was changed or cut (so two keys never collide into one file).

    >>> readable_part("abc123"), readable_part("../x")
    ('abc123', '_x-d6b96a97d147daaa')
    """
    clean = _UNSAFE.sub("_", s).lstrip(".")[:limit]
    if clean != s or not clean:
        clean = f"{clean[:limit - 17]}-{hashlib.sha256(s.encode('utf-8')).hexdigest()[:16]}".lstrip("-.")
    return clean


def hashed_name(parts: Sequence[str]) -> str:
    """The file stem of a key named by hash: 40 hex digits of sha256 over the parts joined by NUL."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


def readable_name(parts: Sequence[str]) -> str:
    """The file stem of a key named readably: the non-empty parts, each :func:`readable_part`, joined by ``__``."""
    return "__".join(readable_part(p) for p in parts if p)


class KeyedJsonStore:
    """JSON records under ``directory``, one file per key (see the module docstring).

    Args:
        directory: where the files live (created on the first write).
        format / version: written at the top of every file and required on reading.
        what: how messages name the store (``"OCR cache"``, ``"transcript cache"``).
        naming: ``"hashed"`` or ``"readable"`` file names.
        on_unreadable: the end of the warning about a foreign or unreadable file (what happens instead).
    """

    def __init__(self, directory: str | Path, *, format: str, version: int, what: str, naming: str = "hashed",
                 on_unreadable: str = "it is treated as absent") -> None:
        if naming not in NAMINGS:
            raise InputError(f"{what}: naming must be one of {NAMINGS}, got {naming!r}")
        self.directory = Path(directory).expanduser()
        self.format = format
        self.version = version
        self.what = what
        self.naming = naming
        self.on_unreadable = on_unreadable

    def path_for(self, key: Sequence[str]) -> Path:
        """The file of ``key`` (its first part, the video fingerprint, must be a non-empty string); always directly
        inside ``directory``.

        Raises:
            InputError: an empty fingerprint, a part that is not a string.
        """
        if not key or not isinstance(key[0], str) or not key[0]:
            raise InputError(f"{self.what}: the video fingerprint must be a non-empty string")
        if not all(isinstance(p, str) for p in key):
            raise InputError(f"{self.what}: key parts must be strings, got {key!r}")
        stem = hashed_name(key) if self.naming == "hashed" else readable_name(key)
        path = self.directory / f"{stem}.json"
        if path.resolve().parent != self.directory.resolve():  # defence in depth: the naming forbids this
            raise InputError(f"{self.what}: key {key[0]!r} would leave {self.directory}")
        return path

    def lock(self, key: Sequence[str]) -> Any:
        """A file lock (``filelock.FileLock``) that serialises every process working on ``key``.

        Raises:
            IndexCacheError: the directory cannot be created.
        """
        from filelock import FileLock

        path = self.path_for(key)
        self._make_directory(path)
        return FileLock(str(path) + ".lock")

    def load(self, key: Sequence[str], parse: Callable[[dict[str, Any]], T], *,
             match: Mapping[str, Any] | None = None, current: Mapping[str, Any] | None = None) -> T | None:
        """``parse(record)`` of the file of ``key``, or None when there is none.

        Args:
            parse: turns the file's JSON object into the caller's value; a ``ValueError``, ``KeyError`` or
                ``TypeError`` it raises marks the file unreadable.
            match: fields the file must hold with these values (what it was written for); a mismatch is a foreign
                file (a warning, None).
            current: fields that date the file (e.g. frame rules); a mismatch is an outdated file: None, silently.

        A missing file is None; an unreadable one, or one of another format or version, gives a warning and None.
        """
        path = self.path_for(key)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != self.format or data.get("version") != self.version:
                raise ValueError(f"not a {self.what} file of this version")
            if any(data.get(k) != v for k, v in (match or {}).items()):
                raise ValueError("written for another video or settings")
            if any(data.get(k) != v for k, v in (current or {}).items()):
                return None
            return parse(data)
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            warnings.warn(f"{path}: unreadable {self.what} file ({e}); {self.on_unreadable}", stacklevel=3)
            return None

    def save(self, key: Sequence[str], record: Mapping[str, Any]) -> None:
        """Write ``record`` (after the store's ``format`` and ``version``) as the file of ``key``, atomically.
        Take :meth:`lock` around a read-merge-write.

        Raises:
            IndexCacheError: the directory cannot be created or written.
        """
        path = self.path_for(key)
        blob = json.dumps({"format": self.format, "version": self.version, **record}, ensure_ascii=False)
        self._make_directory(path)
        try:
            atomic_write_bytes(path, blob.encode("utf-8"))
        except OSError as e:
            raise self._unusable(e, path) from None

    def update(self, key: Sequence[str], parse: Callable[[dict[str, Any]], T], change: Callable[[T | None], Mapping[str, Any]],
               *, match: Mapping[str, Any] | None = None, current: Mapping[str, Any] | None = None) -> None:
        """Read, change and rewrite the file of ``key`` under its lock, so concurrent writers merge instead of losing
        entries: ``change`` gets what :meth:`load` gives (None when absent or unusable) and returns the new record.

        Raises:
            IndexCacheError: the directory, the lock or the file cannot be created or written.
        """
        path = self.path_for(key)
        try:
            with self.lock(key):
                self.save(key, change(self.load(key, parse, match=match, current=current)))
        except OSError as e:  # the lock file itself
            raise self._unusable(e, path) from None

    def _make_directory(self, path: Path) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise self._unusable(e, path) from None

    def _unusable(self, e: OSError, path: Path) -> IndexCacheError:
        return IndexCacheError(self.directory, f"{self.what} directory cannot be created or written "
                                               f"({e.strerror or e}: {e.filename or path})")


__all__ = ["NAMINGS", "KeyedJsonStore", "hashed_name", "readable_name", "readable_part"]
