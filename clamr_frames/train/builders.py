"""Training examples from other sources: the synthetic generator, QA annotations with evidence timestamps,
Charades-STA and QVHighlights. All return :class:`~clamr_frames.train.data.Example` lists;
:func:`~clamr_frames.train.data.write_jsonl` writes them in the training JSONL format."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from clamr_frames._fs import atomic_write_bytes
from clamr_frames.train.data import (
    _VIDEO_EXTS,
    DataError,
    Example,
    _handle,
    _number,
    parse_query_type,
    parse_spans,
    write_jsonl,
)

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
