"""Training data: the JSONL format and its validation (builders from other layouts: :mod:`~clamr_frames.train.builders`).

One line of a training JSONL is one example: a video, one or more phrasings of a query, the query's type and
the time spans (or frame timestamps) where the answer is. Paths are relative to the JSONL file's folder::

    {"video": "videos/talk.mp4", "query": ["Who wins the match?", "Which team wins?"], "query_type": "asr",
     "positives": [[612.0, 618.5], 1040.0], "negatives": [[10, 20]], "subtitles": "videos/talk.srt",
     "ocr": [[600.0, 605.0, "FINAL SCORE 2-1"]], "duration": 3600.0, "id": "talk-q1"}

Fields:

- ``video`` (required): the video file.
- ``query`` (required): a string or a non-empty list of strings (one is drawn per epoch; all are evaluated).
- ``query_type``: ``video`` (default), ``asr`` or ``ocr`` — the modality that holds the answer (the gold modality
  of the modality losses); ``speech`` is read as ``asr``, ``vision`` / ``visual`` as ``video``.
- ``positives`` (required, non-empty): spans ``[start, end]`` in seconds and/or single frame timestamps.
  ``positive_timestamps`` / ``timestamps`` are accepted as aliases.
- ``negatives`` (optional, alias ``hard_negatives``): spans / timestamps of hard negatives in the same video.
- ``subtitles`` (optional): .srt / .vtt / LongVideoBench .json; gives each frame its ASR context.
- ``ocr`` (optional): on-screen text, as a subtitle-format file or an inline list of ``[start, end, text]``;
  a frame's OCR context is the text of the entries on screen at its timestamp.
- ``duration`` (optional): seconds; when absent the video is probed to check that the spans lie inside it.
- ``id`` (optional): a name for messages and logs (default ``<file>:<line>``).

A bad line (invalid JSON, a missing video or query, no positives, a span outside the video, ...) raises
:class:`DataError` naming the file and the line, or is skipped with a warning (``on_error="skip"``).

Builders (:mod:`clamr_frames.train.builders`) turn the synthetic generator, QA annotations with evidence
timestamps, Charades-STA and QVHighlights into :class:`Example` lists; :func:`write_jsonl` writes them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clamr_frames._fs import atomic_writer
from clamr_frames.errors import InputError
from clamr_frames.types import Modality

QUERY_TYPES = ("video", "asr", "ocr")
_QUERY_TYPE_ALIASES = {"speech": "asr", "audio": "asr", "subtitle": "asr", "subtitles": "asr", "vision": "video",
                       "visual": "video", "frame": "video", "text": "ocr"}
QUERY_MODALITY = {"video": Modality.VIDEO, "asr": Modality.ASR, "ocr": Modality.OCR}
ON_ERROR = ("raise", "skip")
#: how far (seconds) a span may overshoot the video's end before it counts as outside (container rounding)
SPAN_TOLERANCE = 0.5
_KNOWN_KEYS = {"video", "query", "queries", "query_type", "positives", "positive_timestamps", "timestamps",
               "negatives", "hard_negatives", "subtitles", "ocr", "duration", "id", "meta"}
_VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".avi", ".mov")


class DataError(InputError):
    """A training annotation is unusable. ``path`` and ``line`` (1-based, or None) say where."""

    def __init__(self, path: str | Path, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Example:
    """One training / evaluation example (a parsed, validated JSONL line).

    Attributes:
        video: absolute path of the video.
        queries: one or more phrasings of the query.
        query_type: ``video`` / ``asr`` / ``ocr``.
        positives: evidence spans ``(start, end)`` in seconds; a frame timestamp ``t`` is ``(t, t)``.
        negatives: hard-negative spans in the same video.
        subtitles: subtitle file (ASR context), or None.
        ocr: OCR file, or inline ``(start, end, text)`` entries, or None.
        duration: the video's length if known.
        id: a name for logs.
        source: ``(file, line)`` the example came from, for messages.
    """

    video: Path
    queries: tuple[str, ...]
    query_type: str = "video"
    positives: tuple[tuple[float, float], ...] = ()
    negatives: tuple[tuple[float, float], ...] = ()
    subtitles: Path | None = None
    ocr: Path | tuple[tuple[float, float, str], ...] | None = None
    duration: float | None = None
    id: str = ""
    source: tuple[str, int | None] = ("", None)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def modality(self) -> int:
        """Gold :class:`~clamr_frames.types.Modality` id of the query."""
        return int(QUERY_MODALITY[self.query_type])

    @property
    def video_key(self) -> int:
        """A stable signed 64-bit id of the video (used to recognise frames of the same video across processes)."""
        return video_key(self.video)

    def to_json(self, base_dir: Path | None = None) -> dict[str, Any]:
        """The JSONL object of this example (paths relative to ``base_dir`` when given)."""

        def rel(p: Path) -> str:
            if base_dir is None:
                return str(p)
            return os.path.relpath(p, base_dir)

        obj: dict[str, Any] = {
            "id": self.id,
            "video": rel(self.video),
            "query": self.queries[0] if len(self.queries) == 1 else list(self.queries),
            "query_type": self.query_type,
            "positives": [_span_json(s) for s in self.positives],
        }
        if self.negatives:
            obj["negatives"] = [_span_json(s) for s in self.negatives]
        if self.subtitles is not None:
            obj["subtitles"] = rel(self.subtitles)
        if isinstance(self.ocr, Path):
            obj["ocr"] = rel(self.ocr)
        elif self.ocr:
            obj["ocr"] = [[a, b, t] for a, b, t in self.ocr]
        if self.duration is not None:
            obj["duration"] = self.duration
        if self.meta:
            obj["meta"] = self.meta
        return obj


def video_key(path: str | Path) -> int:
    """Signed 64-bit hash of a video's resolved path.

    >>> video_key("/a/b.mp4") == video_key("/a/b.mp4"), video_key("/a/b.mp4") == video_key("/a/c.mp4")
    (True, False)
    """
    digest = hashlib.blake2b(str(Path(path).resolve()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _span_json(span: tuple[float, float]) -> float | list[float]:
    return span[0] if span[0] == span[1] else [span[0], span[1]]


# ---------------------------------------------------------------------------------------------- parsing
def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ValueError(f"{what} must be a finite number of seconds, got {v!r}")
    return float(v)


def parse_spans(value: Any, what: str = "positives") -> tuple[tuple[float, float], ...]:
    """Spans and timestamps → ``((start, end), ...)``; a number ``t`` becomes ``(t, t)``.

    >>> parse_spans([[1, 2.5], 7])
    ((1.0, 2.5), (7.0, 7.0))
    """
    if value is None:
        return ()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} must be a list of [start, end] spans or timestamps, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, (list, tuple)):
            if len(item) != 2:
                raise ValueError(f"{what}[{i}] must be [start, end], got {item!r}")
            a, b = _number(item[0], f"{what}[{i}] start"), _number(item[1], f"{what}[{i}] end")
        else:
            a = b = _number(item, f"{what}[{i}]")
        if a < 0:
            raise ValueError(f"{what}[{i}] starts before the video ({a:g} s < 0)")
        if b < a:
            raise ValueError(f"{what}[{i}] ends before it starts ({a:g} > {b:g})")
        out.append((a, b))
    return tuple(out)


def _parse_ocr(value: Any, base: Path) -> Path | tuple[tuple[float, float, str], ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        p = _resolve(value, base)
        if not p.is_file():
            raise ValueError(f"ocr file not found: {p}")
        return p
    if not isinstance(value, (list, tuple)):
        raise ValueError("ocr must be a file path or a list of [start, end, text]")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, (list, tuple)) or len(item) != 3 or not isinstance(item[2], str):
            raise ValueError(f"ocr[{i}] must be [start, end, text], got {item!r}")
        a, b = _number(item[0], f"ocr[{i}] start"), _number(item[1], f"ocr[{i}] end")
        if b < a:
            raise ValueError(f"ocr[{i}] ends before it starts")
        out.append((a, b, item[2]))
    return tuple(out)


def _resolve(p: str, base: Path) -> Path:
    path = Path(os.path.expanduser(p))
    return (path if path.is_absolute() else base / path).resolve()


def parse_query_type(value: Any) -> str:
    """Normalise a query type (``speech`` → ``asr``, ``visual`` → ``video``, ...).

    >>> parse_query_type("Speech"), parse_query_type(None)
    ('asr', 'video')
    """
    if value is None:
        return "video"
    if not isinstance(value, str):
        raise ValueError(f"query_type must be a string, got {value!r}")
    v = value.strip().lower()
    v = _QUERY_TYPE_ALIASES.get(v, v)
    if v not in QUERY_TYPES:
        raise ValueError(f"unknown query_type {value!r}; expected one of {QUERY_TYPES} (or speech/vision)")
    return v


def parse_example(obj: Any, base_dir: str | Path, *, source: tuple[str, int | None] = ("", None)) -> Example:
    """Parse one JSONL object (see the module docstring). Raises ``ValueError`` with the reason."""
    base = Path(base_dir)
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    video = obj.get("video")
    if not isinstance(video, str) or not video.strip():
        raise ValueError("missing 'video' (the path of the video file)")
    q = obj.get("query", obj.get("queries"))
    if isinstance(q, str):
        q = [q]
    if not isinstance(q, (list, tuple)) or not q or not all(isinstance(x, str) for x in q):
        raise ValueError("'query' must be a non-empty string or a non-empty list of strings")
    queries = tuple(" ".join(x.split()) for x in q)
    if any(not x for x in queries):
        raise ValueError("'query' contains an empty string")
    qtype = parse_query_type(obj.get("query_type"))
    pos_value = obj.get("positives", obj.get("positive_timestamps", obj.get("timestamps")))
    positives = parse_spans(pos_value, "positives")
    if not positives:
        raise ValueError("no positives: give at least one [start, end] span or frame timestamp")
    negatives = parse_spans(obj.get("negatives", obj.get("hard_negatives")), "negatives")
    duration = obj.get("duration")
    if duration is not None:
        duration = _number(duration, "duration")
        if duration <= 0:
            raise ValueError(f"duration must be > 0, got {duration}")
    subtitles = obj.get("subtitles")
    subs_path = None
    if subtitles is not None:
        if not isinstance(subtitles, str):
            raise ValueError("'subtitles' must be a path")
        subs_path = _resolve(subtitles, base)
        if not subs_path.is_file():
            raise ValueError(f"subtitles file not found: {subs_path}")
    ident = obj.get("id")
    ident = str(ident) if ident is not None else f"{Path(source[0]).name}:{source[1]}"
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise ValueError("'meta' must be an object")
    return Example(
        video=_resolve(video, base), queries=queries, query_type=qtype, positives=positives, negatives=negatives,
        subtitles=subs_path, ocr=_parse_ocr(obj.get("ocr"), base), duration=duration, id=ident, source=source,
        meta=meta,
    )


# ---------------------------------------------------------------------------------------------- validation
def probe_duration(path: str | Path) -> float:
    """Length of a video in seconds, from the container (:func:`clamr_frames.video.probe`)."""
    from clamr_frames.video import probe

    return float(probe(path).duration)


def check_example(
    ex: Example,
    *,
    duration_fn: Callable[[Path], float] | None = probe_duration,
    tolerance: float = SPAN_TOLERANCE,
) -> Example:
    """Check what parsing cannot: the video exists and the spans lie inside it. Returns ``ex`` (with duration).

    Raises ``ValueError`` with the reason. ``duration_fn`` (default: probe the file) runs only when the example
    carries no ``duration``; pass None to skip the span check for such examples.
    """
    if not ex.video.exists():
        raise ValueError(f"video not found: {ex.video}")
    if not ex.video.is_file():
        raise ValueError(f"video is not a file: {ex.video}")
    duration = ex.duration
    if duration is None and duration_fn is not None:
        try:
            duration = float(duration_fn(ex.video))
        except Exception as e:  # any reader failure means this example cannot be used
            raise ValueError(f"cannot read the video {ex.video}: {e}") from e
    if duration is not None:
        for what, spans in (("positives", ex.positives), ("negatives", ex.negatives)):
            for i, (a, b) in enumerate(spans):
                if a > duration + tolerance or b > duration + tolerance:
                    raise ValueError(
                        f"{what}[{i}] = [{a:g}, {b:g}] lies outside the video (duration {duration:g} s)"
                    )
        if ex.duration is None:
            ex = Example(**{**ex.__dict__, "duration": duration})
    return ex


def _handle(err: DataError, on_error: str) -> None:
    if on_error == "raise":
        raise err
    warnings.warn(f"skipping {err}", stacklevel=3)


def read_jsonl(
    path: str | Path,
    *,
    on_error: str = "raise",
    duration_fn: Callable[[Path], float] | None = probe_duration,
    check_videos: bool = True,
) -> list[Example]:
    """Read and validate a training JSONL file.

    Args:
        path: the file (blank lines and lines starting with ``#`` are ignored).
        on_error: ``"raise"`` (stop at the first bad line with a :class:`DataError`) or ``"skip"`` (warn, go on).
        duration_fn: how to get a video's length when a line has no ``duration`` (default: probe the file).
        check_videos: check that videos exist and spans lie inside them (:func:`check_example`).

    Raises:
        DataError: the file is missing or unreadable, a bad line with ``on_error="raise"``, or no usable line.
    """
    if on_error not in ON_ERROR:
        raise InputError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    p = Path(path)
    if not p.is_file():
        raise DataError(p, None, "training data file not found")
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(p, None, f"cannot read ({e})") from e
    base = p.resolve().parent
    out: list[Example] = []
    n_bad = 0
    for no, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            n_bad += 1
            _handle(DataError(p, no, f"invalid JSON ({e})"), on_error)
            continue
        try:
            ex = parse_example(obj, base, source=(str(p), no))
            if check_videos:
                ex = check_example(ex, duration_fn=duration_fn)
        except ValueError as e:
            n_bad += 1
            _handle(DataError(p, no, str(e)), on_error)
            continue
        out.append(ex)
    if not out:
        raise DataError(p, None, f"no usable example ({n_bad} bad line(s))" if n_bad else "no examples")
    return out


def validate_examples(
    examples: Iterable[Example],
    *,
    on_error: str = "raise",
    duration_fn: Callable[[Path], float] | None = probe_duration,
) -> list[Example]:
    """:func:`check_example` over builder output; messages name each example's annotation file and line."""
    out = []
    for ex in examples:
        try:
            out.append(check_example(ex, duration_fn=duration_fn))
        except ValueError as e:
            _handle(DataError(ex.source[0] or ex.id, ex.source[1], str(e)), on_error)
    return out


def write_jsonl(examples: Iterable[Example], path: str | Path) -> Path:
    """Write examples as JSONL (paths relative to the file's folder), atomically (a uniquely named temporary
    file, fsync'ed, then renamed over ``path``: readers and concurrent writers never see a torn file); returns
    the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    base = p.resolve().parent
    with atomic_writer(p) as f:
        for ex in examples:
            f.write((json.dumps(ex.to_json(base), ensure_ascii=False) + "\n").encode("utf-8"))
    return p
