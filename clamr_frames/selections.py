"""Selections files: the frames picked per question, as a shareable, versioned JSON Lines artefact.

One line per question. A selections file written by ``python -m qa_harness select-task`` (or by the lmms-eval
model's ``log_selections=``) is read back by the lmms-eval model's ``selections=FILE``, which then answers from
exactly those frames without loading a scorer, and by the report viewer. Schema, version 1 (one JSON object per
line)::

    {"format": "clamr-frames/selections", "version": 1,
     "task": str | null, "doc_id": str | int | null, "question_id": str | null,
     "video": str, "video_fingerprint": str,          # clamr_frames._fs.video_fingerprint of the file
     "question": str, "options": [str] | null, "k": int,
     "candidates": {"fps": float | null, "num_candidates": int | null, "count": int},
     "indices": [int],          # candidate indices of the picked frames (ascending; repeats where the policy repeats)
     "frame_indices": [int],    # native frame index of each pick
     "timestamps": [float],     # seconds (container time) of each pick
     "scores": [float],         # score of each pick
     "all_scores": [float] | null,                     # optional: every candidate's score (for viewers)
     "scorer": {"name": str, "revision": str | null}, "policy": {"name": str, "knobs": {}},
     "query": str,              # the text the scorer was queried with
     "asr_source": "subtitles" | "speech" | "none", "ocr": bool,
     # optional: "answer", "ground_truth", "correct", "gt_window": [start, end], "asr_detail": str}

Keys outside the schema are kept (``SelectionRecord.extra``) and written back, so newer writers' additions survive
a round trip through this version. Writing appends one complete line per record with a single ``write`` and an
fsync, so an interrupted run leaves whole lines plus at most one torn last line; the next
:func:`write_selections` cuts that torn tail off (with a warning) before appending, and
:func:`completed_keys` tells a resumed run which questions are done.

>>> rec = SelectionRecord(video="v.mp4", video_fingerprint="ab12", question="What is on the sign?", k=2,
...     candidates={"fps": 1.0, "num_candidates": None, "count": 60}, indices=[3, 40], frame_indices=[6, 80],
...     timestamps=[3.0, 40.0], scores=[0.9, 0.7], scorer={"name": "default", "revision": None},
...     policy={"name": "topk", "knobs": {}}, query="What is on the sign?", asr_source="subtitles", ocr=False)
>>> SelectionRecord.from_json(rec.to_json()) == rec
True
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from clamr_frames.errors import InputError

FORMAT = "clamr-frames/selections"
VERSION = 1
#: The values of ``asr_source`` (where the scorer's ASR context came from).
ASR_SOURCES = ("subtitles", "speech", "none")

_REQUIRED = ("video", "video_fingerprint", "question", "k", "candidates", "indices", "frame_indices", "timestamps",
             "scores", "scorer", "policy", "query", "asr_source", "ocr")
_OPTIONAL = ("task", "doc_id", "question_id", "options", "all_scores", "answer", "ground_truth", "correct",
             "gt_window", "asr_detail")


@dataclass
class SelectionRecord:
    """One question's selection (one line of a selections file); see the module doc for the fields."""

    video: str
    video_fingerprint: str
    question: str
    k: int
    candidates: dict[str, Any]
    indices: list[int]
    frame_indices: list[int]
    timestamps: list[float]
    scores: list[float]
    scorer: dict[str, Any]
    policy: dict[str, Any]
    query: str
    asr_source: str
    ocr: bool
    task: str | None = None
    doc_id: str | int | None = None
    question_id: str | None = None
    options: list[str] | None = None
    all_scores: list[float] | None = None
    answer: str | None = None
    ground_truth: str | None = None
    correct: bool | None = None
    gt_window: list[float] | None = None
    asr_detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------------
    def key(self) -> tuple[Any, ...]:
        """What identifies the question in a file: ``(task, question_id)`` when it has a question id, else
        ``(task, doc_id)``, else ``(video fingerprint, question)``."""
        if self.question_id is not None:
            return (self.task, "question_id", str(self.question_id))
        if self.doc_id is not None:
            return (self.task, "doc_id", str(self.doc_id))
        return (None, "video+question", self.video_fingerprint, self.question)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this record (schema v1), optional fields only when set."""
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in _OPTIONAL and value is None and f.name not in ("task", "doc_id", "question_id", "options",
                                                                          "all_scores"):
                continue
            out[f.name] = value
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_json(cls, obj: Any, where: str = "selections record") -> SelectionRecord:
        """Validate one parsed JSON line; ``where`` names it in errors (``file:line``)."""
        if not isinstance(obj, Mapping):
            raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        if obj.get("format") != FORMAT:
            raise InputError(f"{where}: not a clamr-frames selections record (format {obj.get('format')!r}, "
                             f"expected {FORMAT!r})")
        version = obj.get("version")
        if version != VERSION:
            raise InputError(f"{where}: selections format version {version!r} is not supported (this clamr-frames "
                             f"reads version {VERSION})")
        missing = [k for k in _REQUIRED if k not in obj]
        if missing:
            raise InputError(f"{where}: missing field(s) {', '.join(missing)}")
        kw: dict[str, Any] = {}
        kw["video"] = _str(obj, "video", where)
        kw["video_fingerprint"] = _str(obj, "video_fingerprint", where)
        kw["question"] = _str(obj, "question", where)
        kw["query"] = _str(obj, "query", where)
        kw["k"] = _int(obj["k"], "k", where)
        if kw["k"] < 1:
            raise InputError(f"{where}: k must be positive, got {kw['k']}")
        kw["candidates"] = _candidates(obj["candidates"], where)
        kw["indices"] = _ints(obj["indices"], "indices", where)
        kw["frame_indices"] = _ints(obj["frame_indices"], "frame_indices", where)
        kw["timestamps"] = _floats(obj["timestamps"], "timestamps", where)
        kw["scores"] = _floats(obj["scores"], "scores", where, allow_nonfinite=True)
        n = len(kw["timestamps"])
        for name in ("indices", "frame_indices", "scores"):
            if len(kw[name]) != n:
                raise InputError(f"{where}: {name} has {len(kw[name])} entries, timestamps {n}")
        if any(b < a for a, b in zip(kw["timestamps"], kw["timestamps"][1:])):
            raise InputError(f"{where}: timestamps are not in temporal order")
        kw["scorer"] = _named(obj["scorer"], "scorer", "revision", where)
        kw["policy"] = _named(obj["policy"], "policy", "knobs", where)
        src = obj["asr_source"]
        if src not in ASR_SOURCES:
            raise InputError(f"{where}: asr_source must be one of {ASR_SOURCES}, got {src!r}")
        kw["asr_source"] = src
        if not isinstance(obj["ocr"], bool):
            raise InputError(f"{where}: ocr must be true or false, got {obj['ocr']!r}")
        kw["ocr"] = obj["ocr"]
        # optional
        if obj.get("task") is not None:
            kw["task"] = _str(obj, "task", where)
        doc_id = obj.get("doc_id")
        if doc_id is not None and (isinstance(doc_id, bool) or not isinstance(doc_id, (str, int))):
            raise InputError(f"{where}: doc_id must be a string, an integer or null, got {doc_id!r}")
        kw["doc_id"] = doc_id
        if obj.get("question_id") is not None:
            kw["question_id"] = str(obj["question_id"]) if isinstance(obj["question_id"], (str, int)) else \
                _str(obj, "question_id", where)
        if obj.get("options") is not None:
            opts = obj["options"]
            if not isinstance(opts, list) or not all(isinstance(o, str) for o in opts):
                raise InputError(f"{where}: options must be a list of strings or null")
            kw["options"] = list(opts)
        if obj.get("all_scores") is not None:
            kw["all_scores"] = _floats(obj["all_scores"], "all_scores", where, allow_nonfinite=True)
            if len(kw["all_scores"]) != kw["candidates"]["count"]:
                raise InputError(f"{where}: all_scores has {len(kw['all_scores'])} entries, candidates.count "
                                 f"{kw['candidates']['count']}")
        count = kw["candidates"]["count"]
        if kw["indices"] and (min(kw["indices"]) < 0 or max(kw["indices"]) >= count):
            raise InputError(f"{where}: a candidate index is outside [0, {count})")
        for name in ("answer", "ground_truth", "asr_detail"):
            if obj.get(name) is not None:
                kw[name] = _str(obj, name, where)
        if obj.get("correct") is not None:
            if not isinstance(obj["correct"], bool):
                raise InputError(f"{where}: correct must be true, false or null")
            kw["correct"] = obj["correct"]
        if obj.get("gt_window") is not None:
            gw = _floats(obj["gt_window"], "gt_window", where)
            if len(gw) != 2 or gw[1] < gw[0]:
                raise InputError(f"{where}: gt_window must be [start, end] seconds with start <= end")
            kw["gt_window"] = gw
        known = {"format", "version", *_REQUIRED, *_OPTIONAL}
        kw["extra"] = {k: v for k, v in obj.items() if k not in known}
        return cls(**kw)

    @classmethod
    def from_selection(
        cls,
        sel: Any,
        *,
        video_fingerprint: str,
        scorer: str,
        scorer_revision: str | None,
        policy_knobs: Mapping[str, Any] | None,
        query: str,
        ocr: bool,
        fps: float | None,
        num_candidates: int | None,
        k: int | None = None,
        task: str | None = None,
        doc_id: str | int | None = None,
        question_id: str | None = None,
        options: list[str] | None = None,
        keep_all_scores: bool = True,
        **optional: Any,
    ) -> SelectionRecord:
        """A record from a :class:`clamr_frames.selector.Selection` and how it was made."""
        return cls(
            video=str(sel.video),
            video_fingerprint=video_fingerprint,
            question=str(sel.question),
            k=int(k if k is not None else len(sel.indices)),
            candidates={"fps": None if num_candidates else (float(fps) if fps is not None else None),
                        "num_candidates": int(num_candidates) if num_candidates else None,
                        "count": len(sel.all_scores)},
            indices=[int(i) for i in sel.indices],
            frame_indices=[int(i) for i in sel.frame_indices],
            timestamps=[float(t) for t in sel.timestamps],
            scores=[float(s) for s in sel.scores],
            all_scores=[float(s) for s in sel.all_scores] if keep_all_scores else None,
            scorer={"name": str(scorer), "revision": scorer_revision},
            policy={"name": str(sel.policy), "knobs": _jsonable(dict(policy_knobs or {}))},
            query=query,
            asr_source=asr_source_kind(getattr(sel, "asr_source", "none")),
            asr_detail=str(getattr(sel, "asr_source", "none")),
            ocr=bool(ocr),
            task=task,
            doc_id=doc_id,
            question_id=None if question_id is None else str(question_id),
            options=options,
            **optional,
        )


def asr_source_kind(source: str | None) -> str:
    """The schema's ``asr_source`` for a selector's ASR source (``subtitles``, ``whisper:<model>``, ``none``).

    >>> asr_source_kind("whisper:tiny.en"), asr_source_kind("subtitles"), asr_source_kind(None)
    ('speech', 'subtitles', 'none')
    """
    s = str(source or "none")
    if s.startswith(("whisper", "speech", "transcript")):
        return "speech"
    return s if s in ASR_SOURCES else "none"


# -- reading ---------------------------------------------------------------------------------------


def read_selections(path: str | Path) -> list[SelectionRecord]:
    """Every record of a selections file, validated; a bad line is an :class:`InputError` naming the file and
    the line (a torn last line, left by an interrupted writer, included)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: selections file not found") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read the selections file: {e.strerror or e}") from None
    out: list[SelectionRecord] = []
    lines = data.split(b"\n")
    for no, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{p}:{no}"
        if no == len(lines):  # no newline after it: a write that did not finish
            raise InputError(f"{where}: the last line is incomplete (an interrupted write; rerun the command that "
                             "wrote the file to finish it, which drops the partial line)")
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{where}: not valid JSON ({e})") from None
        out.append(SelectionRecord.from_json(obj, where))
    return out


def completed_keys(path: str | Path) -> set[tuple[Any, ...]]:
    """The :meth:`SelectionRecord.key` of every complete record in ``path`` (empty when it does not exist); a
    torn last line is ignored (the next :func:`write_selections` removes it)."""
    p = Path(path)
    if not p.exists():
        return set()
    _repair_tail(p, warn=False, truncate=False)
    data = p.read_bytes()
    cut = data.rfind(b"\n")
    keys = set()
    for no, raw in enumerate(data[: cut + 1].split(b"\n"), 1):
        if raw.strip():
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise InputError(f"{p}:{no}: not valid JSON ({e})") from None
            keys.add(SelectionRecord.from_json(obj, f"{p}:{no}").key())
    return keys


# -- writing ---------------------------------------------------------------------------------------


def write_selections(path: str | Path, records: Iterable[SelectionRecord], *, append: bool = True) -> int:
    """Write ``records`` to ``path``; returns how many were written.

    ``append=True`` (default) adds them after the file's complete lines (a torn last line from an interrupted
    run is cut off first, with a warning), each record as one ``write`` of its whole line, flushed and fsync'ed:
    a crash loses at most the line being written. ``append=False`` replaces the file atomically (temporary
    file, fsync, rename).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    lines = [_line(r) for r in records]
    if not append:
        from clamr_frames._fs import atomic_writer

        with atomic_writer(p) as f:
            f.write(b"".join(lines))
        return len(lines)
    if p.exists():
        _repair_tail(p, warn=True, truncate=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o666)
    try:
        for line in lines:
            os.write(fd, line)
            os.fsync(fd)
    finally:
        os.close(fd)
    return len(lines)


def _line(rec: SelectionRecord) -> bytes:
    if not isinstance(rec, SelectionRecord):
        raise InputError(f"write_selections takes SelectionRecord objects, got {type(rec).__name__}")
    obj = rec.to_json()
    SelectionRecord.from_json(obj, "record to write")  # never write what read_selections would refuse
    return (json.dumps(obj, ensure_ascii=False, allow_nan=True) + "\n").encode("utf-8")


def _repair_tail(p: Path, *, warn: bool, truncate: bool) -> None:
    size = p.stat().st_size
    if size == 0:
        return
    with open(p, "rb+") as f:
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        if not truncate:
            return
        # find the last newline (read backwards in blocks)
        pos, block = size, 1 << 16
        cut = 0
        while pos > 0:
            start = max(0, pos - block)
            f.seek(start)
            chunk = f.read(pos - start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                cut = start + i + 1
                break
            pos = start
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
    if warn:
        warnings.warn(f"{p}: dropped an incomplete last line ({size - cut} bytes, an interrupted write)",
                      RuntimeWarning, stacklevel=3)


# -- log_selections rows of earlier versions -------------------------------------------------------


def record_from_log_row(row: Mapping[str, Any], where: str = "log_selections row", *,
                        fingerprint: bool = True) -> SelectionRecord:
    """A record from a row of an older ``log_selections`` file (``task, doc_id, question_id, video, scorer,
    policy, k, timestamps, scores, subtitle_lines, answer, target``), so viewers read both.

    Those rows did not store the question, the candidate and native frame indices, the query, the ASR source or
    OCR: ``question`` / ``query`` are empty, ``indices`` / ``frame_indices`` are empty lists (a record that
    cannot be answered from; :func:`answerable` says so), ``asr_source`` is ``none`` and ``ocr`` false, with
    ``extra["legacy_log"] = True``. The fingerprint is computed when the video exists (``fingerprint=True``),
    else empty. A row already in the selections format is validated and returned as is.
    """
    if not isinstance(row, Mapping):
        raise InputError(f"{where}: expected a JSON object")
    if row.get("format") == FORMAT:
        return SelectionRecord.from_json(row, where)
    for key in ("video", "timestamps", "scores"):
        if key not in row:
            raise InputError(f"{where}: missing field {key!r} (neither a selections record nor a log_selections row)")
    video = str(row["video"])
    fp = ""
    if fingerprint and Path(video).is_file():
        from clamr_frames._fs import video_fingerprint

        fp = video_fingerprint(video)
    ts = _floats(row["timestamps"], "timestamps", where)
    scores = _floats(row["scores"], "scores", where, allow_nonfinite=True)
    if len(scores) != len(ts):
        raise InputError(f"{where}: {len(scores)} scores for {len(ts)} timestamps")
    answer, target = row.get("answer"), row.get("target")
    extra = {k: v for k, v in row.items() if k not in ("task", "doc_id", "question_id", "video", "scorer", "policy",
                                                         "k", "timestamps", "scores", "answer", "target")}
    extra["legacy_log"] = True
    return SelectionRecord(
        video=video, video_fingerprint=fp, question="", k=_int(row.get("k", len(ts)), "k", where),
        candidates={"fps": None, "num_candidates": None, "count": len(ts)},
        indices=[], frame_indices=[], timestamps=ts, scores=scores, scorer={"name": str(row.get("scorer", "")),
                                                                            "revision": None},
        policy={"name": str(row.get("policy", "")), "knobs": {}}, query="", asr_source="none", ocr=False,
        task=row.get("task"), doc_id=row.get("doc_id"),
        question_id=None if row.get("question_id") is None else str(row["question_id"]),
        answer=None if answer is None else str(answer), ground_truth=None if target is None else str(target),
        correct=None if answer is None or target is None else str(answer).strip().upper()[:1] == str(target).strip().upper()[:1],
        extra=extra,
    )


def read_log_rows(path: str | Path) -> list[SelectionRecord]:
    """Records from a file of older ``log_selections`` rows or a selections file (each line either form)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read: {e}") from None
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{p}:{no}: not valid JSON ({e})") from None
            out.append(record_from_log_row(row, f"{p}:{no}"))
    return out


def answerable(rec: SelectionRecord) -> bool:
    """Whether the harness can answer from ``rec`` (it has native frame indices for its picks)."""
    return len(rec.frame_indices) == len(rec.timestamps) and bool(rec.timestamps) and bool(rec.video_fingerprint)


# -- validation helpers ----------------------------------------------------------------------------


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    v = obj[key]
    if not isinstance(v, str):
        raise InputError(f"{where}: {key} must be a string, got {type(v).__name__}")
    return v


def _int(v: Any, key: str, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"{where}: {key} must be an integer, got {v!r}")
    return int(v)


def _ints(v: Any, key: str, where: str) -> list[int]:
    if not isinstance(v, list):
        raise InputError(f"{where}: {key} must be a list of integers")
    return [_int(x, key, where) for x in v]


def _floats(v: Any, key: str, where: str, allow_nonfinite: bool = False) -> list[float]:
    if not isinstance(v, list):
        raise InputError(f"{where}: {key} must be a list of numbers")
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise InputError(f"{where}: {key} must hold numbers, got {x!r}")
        if not allow_nonfinite and not math.isfinite(x):
            raise InputError(f"{where}: {key} holds a non-finite number")
        out.append(float(x))
    return out


def _candidates(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, Mapping) or "count" not in v:
        raise InputError(f"{where}: candidates must be an object with fps, num_candidates and count")
    fps, num = v.get("fps"), v.get("num_candidates")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0):
        raise InputError(f"{where}: candidates.fps must be a positive number or null")
    if num is not None:
        _int(num, "candidates.num_candidates", where)
    count = _int(v["count"], "candidates.count", where)
    if count < 0:
        raise InputError(f"{where}: candidates.count must not be negative")
    return {"fps": None if fps is None else float(fps), "num_candidates": num, "count": count}


def _named(v: Any, key: str, second: str, where: str) -> dict[str, Any]:
    if not isinstance(v, Mapping) or not isinstance(v.get("name"), str):
        raise InputError(f"{where}: {key} must be an object with a string name")
    if second == "knobs":
        knobs = v.get("knobs", {})
        if not isinstance(knobs, Mapping):
            raise InputError(f"{where}: policy.knobs must be an object")
        return {"name": v["name"], "knobs": dict(knobs)}
    rev = v.get("revision")
    if rev is not None and not isinstance(rev, str):
        raise InputError(f"{where}: scorer.revision must be a string or null")
    return {"name": v["name"], "revision": rev}


def _jsonable(knobs: dict[str, Any]) -> dict[str, Any]:
    """Policy knobs as JSON values (numbers stay numbers; anything else, e.g. a visual prior object, its repr
    is not a knob and is dropped)."""
    out: dict[str, Any] = {}
    for k, v in knobs.items():
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
            out[k] = v.item()
    return out


__all__ = [
    "ASR_SOURCES",
    "FORMAT",
    "VERSION",
    "SelectionRecord",
    "answerable",
    "asr_source_kind",
    "completed_keys",
    "read_log_rows",
    "read_selections",
    "record_from_log_row",
    "write_selections",
]
