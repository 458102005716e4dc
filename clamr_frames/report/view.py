"""``clamr-frames view``: a selections file as HTML, one page per question and a sortable index.

Records are read through :func:`clamr_frames.selections.read_selections` (the one reader of the format; a file
of older ``log_selections`` rows through its converter, ``read_log_rows``). Per
video, once: the picked frames are decoded as thumbnails (in blocks, so memory stays bounded), the candidates'
timestamps and ASR / OCR context come from its stored index when there is one (found by the video's
fingerprint), and the transcript from a subtitle file beside the video or else from the index's ASR context.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clamr_frames.errors import ClamrFramesError, InputError
from clamr_frames.report.html import write_index, write_page
from clamr_frames.report.page import THUMB_SIDE, index_row, page_data, thumb_uri

#: Header labels of the index table's columns whose label is not their key.
_LABELS = {"ground_truth": "truth", "asr_source": "ASR", "in_gt": "picks in GT window", "top_score": "top score"}

#: The index table's columns, in order (key in each row, header label).
INDEX_COLUMNS = [
    {"key": key, "label": _LABELS.get(key, key)}
    for key in ("question", "task", "video", "k", "candidates", "correct", "answer", "ground_truth", "asr_source",
                "in_gt", "top_score", "policy")
]

#: Frames decoded at once for thumbnails (bounded memory for long videos).
_DECODE_BLOCK = 128


@dataclass
class ViewResult:
    """What ``view`` wrote: the page count, the index page, the seconds it took and what it could not show."""

    pages: int
    index: Path
    seconds: float
    problems: list[str] = field(default_factory=list)


def page_name(n: int, question_id: Any = None) -> str:
    """File name of the ``n``-th question's page (its id, made safe, when it has one).

    >>> page_name(3, "001-2/a b")
    'q0003-001-2_a_b.html'
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(question_id))[:60] if question_id is not None else ""
    return f"q{n:04d}{'-' + slug if slug else ''}.html"


def _video_path(video: str, base: Path) -> Path:
    p = Path(video).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return base / p  # relative to the selections file


def _manifests_by_fingerprint(index_dir: str | Path | None) -> dict[str, list[dict[str, Any]]]:
    """Every complete index manifest of the store, by the fingerprint of its video."""
    from clamr_frames._fs import default_cache_dir

    root = Path(index_dir) if index_dir is not None else default_cache_dir()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not root.is_dir():
        return out
    for path in sorted(root.glob("*/manifest.json")):
        try:
            m = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        fp = (m.get("spec") or {}).get("video")
        if m.get("status") == "complete" and isinstance(fp, str):
            out[fp].append(m)
    return out


def _pick_manifest(manifests: list[dict[str, Any]], count: int) -> dict[str, Any] | None:
    for m in manifests:
        if len(m.get("timestamps") or []) == count:
            return m
    return None


def _sibling_cues(video: Path) -> list[Any]:
    from clamr_frames.context.subtitles import load_subtitles

    for suffix in (".srt", ".vtt"):
        sub = video.with_suffix(suffix)
        if sub.is_file():
            try:
                return list(load_subtitles(sub).cues)
            except ClamrFramesError:
                return []
    return []


def _context_cues(timestamps: list[float], asr: list[str]) -> list[dict[str, Any]]:
    """A transcript from an index's per-candidate ASR context: each new context from the candidate it starts at."""
    out: list[dict[str, Any]] = []
    for i, (t, text) in enumerate(zip(timestamps, asr)):
        if text and (not out or out[-1]["text"] != text):
            end = timestamps[i + 1] if i + 1 < len(timestamps) else t + 1.0
            out.append({"start": t, "end": end, "text": text})
        elif out and out[-1]["text"] == text:
            out[-1]["end"] = timestamps[i + 1] if i + 1 < len(timestamps) else t + 1.0
    return out


def _thumbnails(video: Path, records: list[Any]) -> tuple[dict[int, str], dict[int, list[int]]]:
    """Thumbnails of the picked frames of ``records`` (one video), by native frame index, and each record's frame
    indices (looked up from its timestamps for older log rows, which did not store them)."""
    from clamr_frames.video import VideoReader

    out: dict[int, str] = {}
    frames_of: dict[int, list[int]] = {}
    with VideoReader(video) as reader:
        n = reader.metadata.num_frames
        times = None
        for j, rec in enumerate(records):
            if len(rec.frame_indices) == len(rec.timestamps):
                frames_of[j] = [int(i) for i in rec.frame_indices]
            else:
                times = reader.frame_timestamps() if times is None else times
                pos = np.clip(np.searchsorted(times, np.asarray(rec.timestamps, dtype=np.float64)), 0, n - 1)
                frames_of[j] = [int(i) for i in pos]
        want = sorted({i for fs in frames_of.values() for i in fs if 0 <= i < n})
        for s in range(0, len(want), _DECODE_BLOCK):
            got = reader.get_frames(want[s:s + _DECODE_BLOCK], max_side=2 * THUMB_SIDE)
            for i, frame in zip(got.indices.tolist(), got.frames):
                out[int(i)] = thumb_uri(frame) or ""
    return out, frames_of


def read_records(path: Path) -> list[Any]:
    """The records of a selections file, or of a file of older log_selections rows."""
    from clamr_frames.selections import read_log_rows, read_selections

    try:
        return read_selections(path)
    except InputError as first:
        try:
            return read_log_rows(path)
        except InputError:
            raise first from None


def _candidate_times(rec: Any, manifest: dict[str, Any] | None) -> list[float]:
    n = len(rec.all_scores or [])
    if not n:
        return []
    if manifest is not None and len(manifest["timestamps"]) == n:
        return [float(t) for t in manifest["timestamps"]]
    fps = (rec.candidates or {}).get("fps")
    if fps:
        return [i / float(fps) for i in range(n)]
    # N uniform candidates: spread over the picks' span (the best guess without the index)
    last = max(rec.timestamps) if rec.timestamps else float(n)
    return np.linspace(0.0, last, n).tolist()


def render_selections(selections: str | Path, out_dir: str | Path, *, index_dir: str | Path | None = None,
                      thumbnails: bool = True, progress: bool = True) -> ViewResult:
    """Write one page per record of ``selections`` and ``index.html`` into ``out_dir``."""
    start = time.perf_counter()
    selections = Path(selections)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = read_records(selections)
    problems: list[str] = []
    by_video: dict[Path, list[int]] = defaultdict(list)
    for n, rec in enumerate(records):
        by_video[_video_path(rec.video, selections.parent)].append(n)
    manifests = _manifests_by_fingerprint(index_dir)
    rows: list[dict[str, Any]] = [{}] * len(records)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(records), desc="pages", unit="page")
    for video, numbers in by_video.items():
        thumbs: dict[int, str] = {}
        frames_of: dict[int, list[int]] = {}
        if thumbnails:
            try:
                thumbs, frames_of = _thumbnails(video, [records[n] for n in numbers])
            except (ClamrFramesError, OSError) as e:
                problems.append(f"{video}: no thumbnails ({e})")
        cues: list[Any] | None = None
        for j, n in enumerate(numbers):
            rec = records[n]
            manifest = _pick_manifest(manifests.get(rec.video_fingerprint, []), int(rec.candidates.get("count") or 0))
            if cues is None:
                cues = _sibling_cues(video)
                if not cues and manifest is not None:
                    cues = _context_cues(manifest["timestamps"], manifest.get("asr") or [])
            name = page_name(n, rec.question_id if rec.question_id is not None else rec.doc_id)
            frames = frames_of.get(j, [int(i) for i in rec.frame_indices])
            data = _record_page(rec, video, out, manifest, [thumbs.get(i) for i in frames], cues or [])
            write_page(out / name, data)
            rows[n] = index_row(data, name, task=rec.task, correct=rec.correct, answer=rec.answer,
                                ground_truth=rec.ground_truth, id=rec.question_id)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    index = write_index(out / "index.html", rows, columns=INDEX_COLUMNS,
                        title=f"clamr-frames: {selections.name}", source=str(selections))
    return ViewResult(len(records), index, time.perf_counter() - start, problems)


def _record_page(rec: Any, video: Path, out: Path, manifest: dict[str, Any] | None, thumbs: list[str | None],
                 cues: list[Any]) -> dict[str, Any]:
    asr = (manifest or {}).get("asr") or []
    ocr = (manifest or {}).get("ocr") or []
    explain = [{"asr": asr[i] if i < len(asr) else "", "ocr": ocr[i] if i < len(ocr) else "", "matched": {}}
               for i in rec.indices]
    indices = list(rec.indices) if len(rec.indices) == len(rec.timestamps) else [None] * len(rec.timestamps)
    frame_indices = (list(rec.frame_indices) if len(rec.frame_indices) == len(rec.timestamps)
                     else [None] * len(rec.timestamps))
    sel = {
        "video": str(video),
        "question": rec.question,
        "policy": (rec.policy or {}).get("name"),
        "asr_source": rec.asr_source,
        "duration": ((manifest or {}).get("video_meta") or {}).get("duration"),
        "frames": [{"candidate": c, "frame_index": f, "timestamp": t, "score": s}
                   for c, f, t, s in zip(indices, frame_indices, rec.timestamps, rec.scores)],
        "explain": explain,
    }
    gt = [tuple(rec.gt_window)] if rec.gt_window else []
    meta = {"scorer": (rec.scorer or {}).get("name"), "task": rec.task, "question_id": rec.question_id,
            "answer": rec.answer, "ground_truth": rec.ground_truth, "correct": rec.correct, "ocr": rec.ocr,
            "num_candidates": int(rec.candidates.get("count") or 0) or None}
    data = page_data(sel, all_timestamps=_candidate_times(rec, manifest), all_scores=rec.all_scores, page_dir=out,
                     thumbs=thumbs, cues=cues, gt_windows=gt,
                     options=rec.options, meta=meta, index_href="index.html")
    data["query_words"] = rec.query
    return data
