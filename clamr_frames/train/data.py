"""Training data: the JSONL format, its validation, and builders from other annotation layouts.

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

Builders: :func:`examples_from_synthetic` / :func:`write_synthetic_dataset` (the synthetic generator),
:func:`examples_from_qa` (QA annotations with evidence timestamps), :func:`read_charades_sta` and
:func:`read_qvhighlights` (temporal grounding). All return :class:`Example` lists; :func:`write_jsonl` writes them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clamr_frames._fs import atomic_write_bytes, atomic_writer
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


# ---------------------------------------------------------------------------------------------- builders
_SYNTH_TYPES = {"ocr": "ocr", "asr": "asr", "vision": "video"}


def examples_from_synthetic(
    videos: Sequence[Any],
    *,
    oracle_ocr: bool = True,
    extra_phrasings: Sequence[int] = (),
) -> list[Example]:
    """One example per question of generated videos (:func:`clamr_frames.synth.generate_video` results).

    Args:
        videos: :class:`~clamr_frames.synth.SyntheticVideo` objects.
        oracle_ocr: attach each sign's text over its span as the OCR context (what a perfect OCR pass reads),
            so text-only encoders can learn OCR questions without running OCR on every frame.
        extra_phrasings: more question templates to add as extra phrasings of each query (the first phrasing
            stays the one the video's questions were generated with).
    """
    from clamr_frames.synth.plan import make_questions

    out = []
    for v in videos:
        ocr = tuple((n.start, n.end, n.text) for n in v.needles if n.kind == "ocr") if oracle_ocr else None
        # the generator's own templates: the same needles asked with other phrasings
        others = [make_questions(v.seed, v.video_id, v.duration, v.needles, int(t)) for t in extra_phrasings]
        # enough to re-render the frames without decoding (collate.SyntheticSource)
        scene = {"seed": int(v.seed), "duration": float(v.duration), "fps": float(v.fps), "width": int(v.width),
                 "height": int(v.height),
                 "needles": [[n.kind, n.start, n.end, n.key, n.text, [list(d) for d in n.details]] for n in v.needles]}
        for i, (needle, q) in enumerate(zip(v.needles, v.questions)):
            queries = [q["question"]]
            for alt in others:
                if alt[i]["question"] not in queries:
                    queries.append(alt[i]["question"])
            out.append(
                Example(
                    video=Path(v.video_path).resolve(), queries=tuple(queries), query_type=_SYNTH_TYPES[needle.kind],
                    positives=((needle.start, needle.end),), subtitles=Path(v.srt_path).resolve(),
                    ocr=ocr or None, duration=float(v.duration), id=q["question_id"],
                    source=(str(v.questions_path), None), meta={"synthetic": scene},
                )
            )
    return out


def write_synthetic_dataset(
    out_dir: str | Path,
    *,
    n_videos: int,
    seed: int = 0,
    duration: float | tuple[float, float] = 300.0,
    phrasing: int | Sequence[int] | None = 0,
    oracle_ocr: bool = True,
    jsonl_name: str = "examples.jsonl",
    **generator_kw: Any,
) -> Path:
    """Generate ``n_videos`` synthetic videos (:func:`clamr_frames.synth.generate_dataset`) and their JSONL.

    Reuses the videos when ``out_dir`` already holds this dataset (same arguments), so a config can name a
    generated dataset without regenerating it each run. Returns the JSONL path.
    """
    from clamr_frames.synth import generate_dataset

    out = Path(out_dir)
    spec = {"n_videos": n_videos, "seed": seed, "duration": duration, "phrasing": phrasing,
            "oracle_ocr": oracle_ocr, **{k: v for k, v in generator_kw.items()}}
    stamp = out / ".dataset.json"
    target = out / jsonl_name
    if target.is_file() and stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == json.loads(json.dumps(spec)):
                return target
        except ValueError:
            pass
    # The stamp goes first and comes back last, so an interrupted regeneration never leaves a stamp that
    # vouches for files of another spec.
    stamp.unlink(missing_ok=True)
    videos = generate_dataset(out, n_videos=n_videos, seed=seed, duration=duration, layout="flat",
                              phrasing=phrasing, **generator_kw)
    write_jsonl(examples_from_synthetic(videos, oracle_ocr=oracle_ocr), target)
    atomic_write_bytes(stamp, json.dumps(spec).encode("utf-8"))
    return target


def _find_video(video_dir: Path, vid: str, ext: str | None) -> Path:
    if ext is not None:
        return (video_dir / f"{vid}{ext if ext.startswith('.') else '.' + ext}").resolve()
    for e in _VIDEO_EXTS:
        p = video_dir / f"{vid}{e}"
        if p.exists():
            return p.resolve()
    return (video_dir / f"{vid}.mp4").resolve()


def examples_from_qa(
    records: Iterable[dict[str, Any]] | str | Path,
    video_dir: str | Path,
    *,
    video_key: str = "video",
    question_key: str = "question",
    evidence_key: str = "evidence",
    query_type_key: str | None = "query_type",
    options_key: str | None = None,
    subtitle_dir: str | Path | None = None,
    ext: str | None = None,
    source: str = "qa",
) -> list[Example]:
    """Examples from QA annotations that carry evidence timestamps.

    Each record names its video (a path, or an id looked up as ``video_dir/<id>.<ext>``), a question and its
    evidence: spans ``[[start, end], ...]`` and/or timestamps in seconds (any of the forms :func:`parse_spans`
    reads, or a dict ``{"start": s, "end": e}``). Records without evidence are skipped (they cannot train a frame
    retriever). The synthetic generator's questions (Video-MME schema + ``needle``) are read with
    ``video_key="videoID", evidence_key="needle"``.

    Args:
        records: a list of dicts, or a .json (list) / .jsonl file.
        video_dir: folder of the videos.
        options_key: when given, the options are appended to the query
            (:func:`~clamr_frames.encoders.query.build_query`, the format ``FrameSelector.select`` queries with).
        subtitle_dir: folder of ``<id>.srt`` subtitle files, if any.
        ext: the videos' extension (default: the first of .mp4/.mkv/.webm/.avi/.mov that exists).
    """
    path_hint = source
    if isinstance(records, (str, Path)):
        path_hint = str(records)
        records = _read_records(Path(records))
    vdir = Path(video_dir)
    out = []
    for i, rec in enumerate(records, 1):
        where = (path_hint, i)
        if not isinstance(rec, dict):
            raise DataError(path_hint, i, f"expected an object, got {type(rec).__name__}")
        vid = rec.get(video_key)
        q = rec.get(question_key)
        ev = rec.get(evidence_key)
        if ev is None or ev == [] or ev == {}:
            continue
        if isinstance(ev, dict):
            ev = [[ev.get("start"), ev.get("end")]]
        if not isinstance(vid, str) or not isinstance(q, str):
            raise DataError(path_hint, i, f"record needs a string {video_key!r} and {question_key!r}")
        try:
            spans = parse_spans(ev, evidence_key)
            qtype = parse_query_type(rec.get(query_type_key)) if query_type_key else "video"
        except ValueError as e:
            raise DataError(path_hint, i, str(e)) from None
        if options_key and rec.get(options_key):
            from clamr_frames.encoders.query import build_query

            q = build_query(q, rec[options_key])
        vpath = Path(vid) if Path(vid).suffix in _VIDEO_EXTS else _find_video(vdir, vid, ext)
        if not vpath.is_absolute():
            vpath = (vdir / vpath).resolve()
        subs = None
        if subtitle_dir is not None:
            cand = Path(subtitle_dir) / f"{Path(vid).stem}.srt"
            subs = cand.resolve() if cand.exists() else None
        out.append(Example(video=vpath, queries=(q,), query_type=qtype, positives=spans, subtitles=subs,
                           id=str(rec.get("question_id", rec.get("qid", f"{Path(path_hint).name}:{i}"))),
                           source=where))
    return out


def _read_records(p: Path) -> list[Any]:
    if not p.is_file():
        raise DataError(p, None, "annotation file not found")
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix == ".jsonl":
        recs = []
        for no, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    recs.append(json.loads(line))
                except ValueError as e:
                    raise DataError(p, no, f"invalid JSON ({e})") from None
        return recs
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise DataError(p, None, f"invalid JSON ({e})") from None
    if not isinstance(obj, list):
        raise DataError(p, None, "expected a JSON list of records")
    return obj


def read_charades_sta(
    path: str | Path, video_dir: str | Path, *, ext: str | None = ".mp4", on_error: str = "raise"
) -> list[Example]:
    """Charades-STA annotations: one ``"<vid> <start> <end>##<sentence>"`` per line (seconds).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "sta.txt").write_text("3MSZA 24.3 30.4##person turn a light on.\\n")
    >>> ex = read_charades_sta(d / "sta.txt", d)[0]
    >>> ex.video.name, ex.queries, ex.positives
    ('3MSZA.mp4', ('person turn a light on.',), ((24.3, 30.4),))
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(p, None, "annotation file not found")
    out = []
    for no, line in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            head, sep, sentence = line.partition("##")
            parts = head.split()
            if not sep or len(parts) != 3 or not sentence.strip():
                raise ValueError("expected '<video id> <start> <end>##<sentence>'")
            vid, a, b = parts[0], float(parts[1]), float(parts[2])
            spans = parse_spans([[a, b]])
        except ValueError as e:
            _handle(DataError(p, no, str(e)), on_error)
            continue
        out.append(Example(video=_find_video(Path(video_dir), vid, ext), queries=(" ".join(sentence.split()),),
                           query_type="video", positives=spans, id=f"{vid}#{no}", source=(str(p), no)))
    return out


def read_qvhighlights(
    path: str | Path, video_dir: str | Path, *, ext: str | None = ".mp4", on_error: str = "raise"
) -> list[Example]:
    """QVHighlights annotations: JSONL with ``qid``, ``query``, ``vid``, ``duration`` and ``relevant_windows``.

    Windows are ``[[start, end], ...]`` in seconds; the file's ``duration`` is kept for the span check.
    """
    p = Path(path)
    out = []
    for i, rec in enumerate(_read_records(p), 1):
        try:
            if not isinstance(rec, dict):
                raise ValueError("expected a JSON object")
            vid, query, windows = rec.get("vid"), rec.get("query"), rec.get("relevant_windows")
            if not isinstance(vid, str) or not isinstance(query, str) or not query.strip():
                raise ValueError("needs string 'vid' and 'query'")
            spans = parse_spans(windows, "relevant_windows")
            if not spans:
                raise ValueError("no relevant_windows")
            duration = rec.get("duration")
            duration = _number(duration, "duration") if duration is not None else None
        except ValueError as e:
            _handle(DataError(p, i, str(e)), on_error)
            continue
        out.append(Example(video=_find_video(Path(video_dir), vid, ext), queries=(" ".join(query.split()),),
                           query_type="video", positives=spans, duration=duration,
                           id=str(rec.get("qid", f"{vid}#{i}")), source=(str(p), i)))
    return out
