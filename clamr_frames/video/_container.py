"""Is a video file shorter than its container says? A byte-level look at the top-level structure.

A download or a recording cut off leaves a file whose container promised more bytes than it holds. FFmpeg
either cannot open such a file (an MP4 whose index, the ``moov`` box, was to come after the media data) or
reads the frames before the cut and logs a "Read error"; neither tells the user that the file is incomplete.
The three containers video files mostly come in declare their sizes up front:

- ISO BMFF (MP4, MOV, M4V, 3GP): a sequence of boxes, each starting with its size;
- RIFF (AVI): ``RIFF`` chunks (more than one in OpenDML files over 1 GiB), each with its size;
- EBML (Matroska, WebM): a header element, then a ``Segment`` element with its size (or "unknown size", which
  live recordings write and which says nothing).

Only a declared end beyond the end of the file counts; trailing bytes after the last element do not.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

_BMFF_TOP = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"moof", b"mfra", b"styp",
             b"sidx", b"meta", b"pdin", b"prft", b"emsg"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_SEGMENT_ID = b"\x18\x53\x80\x67"


def cut_off(path: str | Path) -> str | None:
    """Why the file ends before its container does (a phrase for an error message), or None.

    None also for containers this does not know and for files too damaged to parse: this check only ever adds
    a diagnosis, it never rejects a file on its own.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(16)
            if len(head) >= 8 and head[4:8] in _BMFF_TOP:
                return _bmff(f, size)
            if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
                return _riff(f, size)
            if head[:4] == _EBML_MAGIC:
                return _ebml(f, size)
    except OSError:
        return None
    return None


def _cut(kind: str, needed: int, size: int, extra: str = "") -> str:
    return f"the file is incomplete: cut off at byte {size:,}, but its {kind} runs to byte {needed:,}{extra}"


def _bmff(f, size: int) -> str | None:
    at, seen = 0, set()
    while at + 8 <= size:
        f.seek(at)
        head = f.read(16)
        box_size, kind = struct.unpack(">I4s", head[:8])
        if box_size == 1 and len(head) >= 16:
            box_size = struct.unpack(">Q", head[8:16])[0]
        elif box_size == 0:  # the box runs to the end of the file, whatever its length
            return None
        if box_size < 8 or kind not in _BMFF_TOP and not kind.isalnum():
            return None  # not a box boundary: not something this check can judge
        if at + box_size > size:
            name = kind.decode("latin-1")
            missing = "" if b"moov" in seen or name == "moov" else "; the index of the frames ('moov') is missing"
            return _cut(f"'{name}' box", at + box_size, size, missing)
        seen.add(kind)
        at += box_size
    return None


def _riff(f, size: int) -> str | None:
    at = 0
    while at + 12 <= size:
        f.seek(at)
        tag, chunk = struct.unpack("<4sI", f.read(8))
        if tag != b"RIFF":
            return None
        if chunk == 0:  # a writer that never came back to fill in the size
            return None
        if at + 8 + chunk > size:
            return _cut("RIFF chunk", at + 8 + chunk, size)
        at += 8 + chunk + (chunk & 1)  # chunks are padded to an even length
    return None


def _vint(f) -> tuple[int, bool] | None:
    """An EBML variable-length size: (value, unknown) or None when malformed."""
    first = f.read(1)
    if not first:
        return None
    b = first[0]
    length = 8 - b.bit_length() + 1
    if length > 8:
        return None
    rest = f.read(length - 1)
    if len(rest) != length - 1:
        return None
    value = b & ((1 << (8 - length)) - 1)
    for x in rest:
        value = (value << 8) | x
    return value, value == (1 << (7 * length)) - 1


def _ebml(f, size: int) -> str | None:
    f.seek(4)
    header = _vint(f)
    if header is None or header[1]:
        return None
    f.seek(f.tell() + header[0])
    if f.read(4) != _SEGMENT_ID:
        return None
    seg = _vint(f)
    if seg is None or seg[1]:  # "unknown size": a live recording; nothing to compare with
        return None
    end = f.tell() + seg[0]
    return _cut("Matroska segment", end, size) if end > size else None
