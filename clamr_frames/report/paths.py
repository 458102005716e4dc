"""The one check of every path the local app is asked for: it must name a file inside the served folder."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from clamr_frames.errors import InputError


class PathRefused(InputError):
    """A path that is absolute, climbs out with ``..``, or resolves (through a symlink) outside the folder."""


def resolve_inside(root: str | Path, relative: str) -> Path:
    """The real path of ``relative`` under ``root``; :class:`PathRefused` unless it stays inside ``root``.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); open(os.path.join(d, "a.mp4"), "w").close()
    >>> resolve_inside(d, "a.mp4").name
    'a.mp4'
    >>> resolve_inside(d, "../etc/passwd")
    Traceback (most recent call last):
    ...
    clamr_frames.report.paths.PathRefused: '../etc/passwd': paths may not contain '..'
    """
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        raise PathRefused(f"{relative!r}: not a path inside the served folder")
    text = relative.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise PathRefused(f"{relative!r}: absolute paths are refused (give a path inside the served folder)")
    if ".." in PurePosixPath(text).parts:
        raise PathRefused(f"{relative!r}: paths may not contain '..'")
    base = Path(root).resolve()
    full = (base / text).resolve()  # symlinks followed: a link pointing out is refused below
    if full != base and base not in full.parents:
        raise PathRefused(f"{relative!r}: resolves outside the served folder")
    return full
