"""OCR text on disk per (video fingerprint, timestamp): one JSON file per video and engine setting, kept by the
:class:`~clamr_frames.keyed_store.KeyedJsonStore` every context cache uses."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from clamr_frames.errors import InputError
from clamr_frames.keyed_store import KeyedJsonStore

CACHE_FORMAT = "clamr-frames/ocr-cache"
CACHE_VERSION = 1


def _frame_rules() -> int:
    from clamr_frames.video import FRAME_RULES

    return FRAME_RULES


def _ts_key(t: float) -> str:
    t = float(t)
    if not math.isfinite(t):
        raise InputError(f"OCR cache: timestamp must be finite, got {t}")
    return f"{t:.3f}"


def _texts(record: dict[str, Any]) -> dict[str, str]:
    texts = record["texts"]
    if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
        raise ValueError("malformed 'texts'")
    return texts


class OcrCache:
    """OCR text per (video fingerprint, timestamp) as JSON files under ``directory``.

    One file per video fingerprint and engine setting: ``<fingerprint>__<engine>.json`` with both parts
    sanitised to ``[A-Za-z0-9_.-]`` (anything else, or a name too long, is replaced and disambiguated by a hash),
    so no key can name a path outside ``directory``. Timestamps are keyed to the millisecond. Writes go to a
    temporary file in the same directory, then ``os.replace`` (readers never see half a file), under a file
    lock so concurrent writers merge instead of losing entries. An unreadable or foreign file gives a warning
    and is treated as empty (its frames are OCR'd again and the file rewritten); so is, silently, a file written
    under other frame rules (:data:`clamr_frames.video.FRAME_RULES`: which picture a timestamp names).

    Example::

        cache = OcrCache("~/.cache/clamr-frames/ocr")
        cache.put_many(fp, [0.0, 1.0], ["EXIT", "EXIT"], engine=engine.engine_id)
        cache.get(fp, 1.0, engine=engine.engine_id)   # 'EXIT'
    """

    def __init__(self, directory: str | Path) -> None:
        self.store = KeyedJsonStore(directory, format=CACHE_FORMAT, version=CACHE_VERSION, what="OCR cache",
                                    naming="readable", on_unreadable="its frames will be OCR'd again")

    @property
    def directory(self) -> Path:
        return self.store.directory

    def path_for(self, fingerprint: str, engine: str = "") -> Path:
        """The JSON file of one video (and engine setting), always directly inside ``directory``."""
        return self.store.path_for((fingerprint, engine))

    def load(self, fingerprint: str, engine: str = "") -> dict[str, str]:
        """Every cached text of a video: ``{"12.000": text, ...}``."""
        return self._load(fingerprint, engine) or {}

    def _load(self, fingerprint: str, engine: str) -> dict[str, str] | None:
        # a file written when timestamp t named another picture (rotation, edit lists) is stale: read again
        return self.store.load((fingerprint, engine), _texts, match={"fingerprint": fingerprint, "engine": engine},
                               current={"frames": _frame_rules()})

    def get(self, fingerprint: str, timestamp: float, engine: str = "") -> str | None:
        """Cached text of one frame, or None."""
        return self.load(fingerprint, engine).get(_ts_key(timestamp))

    def get_many(self, fingerprint: str, timestamps: Iterable[float], engine: str = "") -> list[str | None]:
        """Cached texts of several frames (None where missing), reading the file once."""
        texts = self.load(fingerprint, engine)
        return [texts.get(_ts_key(t)) for t in timestamps]

    def put(self, fingerprint: str, timestamp: float, text: str, engine: str = "") -> None:
        self.put_many(fingerprint, [timestamp], [text], engine)

    def put_many(self, fingerprint: str, timestamps: Sequence[float], texts: Sequence[str], engine: str = "") -> None:
        """Add (or replace) the texts of several frames in one atomic rewrite (merged under the file's lock).

        Raises:
            IndexCacheError: the cache directory cannot be created or written.
        """
        if len(timestamps) != len(texts):
            raise InputError(f"OCR cache: {len(timestamps)} timestamps but {len(texts)} texts")
        if not all(isinstance(t, str) for t in texts):
            raise InputError("OCR cache: texts must be strings")
        new = {_ts_key(t): s for t, s in zip(timestamps, texts)}

        def merged(current: dict[str, str] | None) -> dict[str, Any]:
            current = {**(current or {}), **new}
            return {"fingerprint": fingerprint, "engine": engine, "frames": _frame_rules(),
                    "texts": dict(sorted(current.items(), key=lambda kv: float(kv[0])))}

        self.store.update((fingerprint, engine), _texts, merged,
                          match={"fingerprint": fingerprint, "engine": engine}, current={"frames": _frame_rules()})


__all__ = ["CACHE_FORMAT", "CACHE_VERSION", "OcrCache"]
