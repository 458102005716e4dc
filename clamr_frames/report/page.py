"""The data one report page shows, built from plain values (no Selection, no selector: see the package doc)."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from clamr_frames.types import MODALITY_NAMES

#: Longest side of a thumbnail in pixels, and its JPEG quality: 32 thumbnails stay near 200 KB.
THUMB_SIDE = 192
THUMB_QUALITY = 70

#: What a browser is told a video file is (to say early when it cannot play it).
_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
         ".mkv": "video/x-matroska", ".avi": "video/x-msvideo", ".ogv": "video/ogg"}


def thumb_uri(frame: np.ndarray | None, *, max_side: int = THUMB_SIDE, quality: int = THUMB_QUALITY) -> str | None:
    """A small JPEG of an RGB frame as a ``data:`` URI (None for a frame that did not decode)."""
    if frame is None:
        return None
    from PIL import Image

    img = Image.fromarray(np.asarray(frame, dtype=np.uint8))
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def video_href(video: str | Path, page_dir: str | Path) -> str:
    """The video's path relative to the page's folder, as a URL (the page and the video can move together)."""
    rel = os.path.relpath(Path(video).resolve(), Path(page_dir).resolve())
    return quote(Path(rel).as_posix())


def modality_shares(token_index: Any, similarity: Any, modality_ids: Any) -> dict[str, list[float]]:
    """Split each candidate's token_max score by the modality of the document token each query token matched.

    A ColBERT score is the sum over query tokens of their best similarity; the part of it won by ASR tokens,
    OCR tokens, video tokens, ... is what the report draws as one line per modality (they add up to the score
    where no floor applied).

    >>> import numpy as np
    >>> tok = np.array([[0, 2], [3, -1]]); sim = np.array([[0.5, 0.25], [1.0, -np.inf]])
    >>> modality_shares(tok, sim, np.array([2, 2, 3, 3]))
    {'asr': [0.5, 0.0], 'ocr': [0.25, 1.0]}
    """
    tok = _numpy(token_index).astype(np.int64)
    sim = _numpy(similarity).astype(np.float64)
    mods = _numpy(modality_ids).astype(np.int64)
    ok = tok >= 0
    m = np.where(ok, mods[np.clip(tok, 0, max(len(mods) - 1, 0))], -1) if len(mods) else np.full(tok.shape, -1)
    out: dict[str, list[float]] = {}
    for mid in sorted(set(np.unique(m).tolist()) - {-1}):
        part = np.where(ok & (m == mid), sim, 0.0).sum(axis=1)
        out[MODALITY_NAMES.get(int(mid), f"modality {mid}")] = [round(float(v), 5) for v in part]
    return out


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu() if x.dtype.is_floating_point else x.detach().cpu()
        return x.numpy()
    return np.asarray(x)


def shot_starts(shot_ids: Sequence[int] | np.ndarray | None, timestamps: Sequence[float] | np.ndarray) -> list[float]:
    """The time each shot starts (from the candidates' shot ids)."""
    if shot_ids is None or len(shot_ids) != len(timestamps) or not len(timestamps):
        return []
    ids = np.asarray(shot_ids)
    starts = np.flatnonzero(np.diff(ids, prepend=ids[0] - 1))
    return [round(float(timestamps[i]), 3) for i in starts]


def _floats(values: Any, digits: int = 5) -> list[float | None]:
    return [round(float(v), digits) if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def page_data(
    selection: dict[str, Any],
    *,
    all_timestamps: Sequence[float] | np.ndarray,
    all_scores: Sequence[float] | np.ndarray | None,
    page_dir: str | Path,
    frames: Sequence[np.ndarray | None] | None = None,
    thumbs: Sequence[str | None] | None = None,
    cues: Sequence[Any] | None = None,
    shots: Sequence[float] = (),
    modality_scores: dict[str, Sequence[float]] | None = None,
    gt_windows: Sequence[tuple[float, float]] = (),
    options: Sequence[str] | None = None,
    meta: dict[str, Any] | None = None,
    video_url: str | None = None,
    index_href: str | None = None,
) -> dict[str, Any]:
    """The JSON one report page renders.

    Args:
        selection: ``Selection.to_dict()`` (or the same keys: ``video``, ``question``, ``frames`` with
            ``candidate`` / ``frame_index`` / ``timestamp`` / ``score``, ``explain`` with ``asr`` / ``ocr`` /
            ``matched`` per picked frame, ``duration``, ``asr_source``, ``policy``).
        all_timestamps / all_scores: every candidate's time and score (``all_scores`` None: only the picks are
            drawn).
        page_dir: the folder the page is written to (the video is linked relative to it).
        frames: the picked frames' pixels (made into thumbnails), or ``thumbs`` already made.
        cues: the whole transcript (objects or dicts with ``start``, ``end``, ``text``).
        shots: start time of each shot; modality_scores: per modality, each candidate's part of its score.
        gt_windows: ground-truth time spans; options: the multiple-choice options.
        meta: shown in the header (scorer, policy, task, answer, ground_truth, correct, ...).
        video_url: the video's URL instead of the relative path (the local app serves it).
    """
    picks = selection.get("frames") or []
    explain = selection.get("explain") or []
    if thumbs is None:
        thumbs = [thumb_uri(f) for f in frames] if frames is not None else [None] * len(picks)
    picked = []
    for j, p in enumerate(picks):
        e = explain[j] if j < len(explain) else {}
        picked.append({
            "candidate": int(p["candidate"]) if p.get("candidate") is not None else None,
            "frame_index": int(p["frame_index"]) if p.get("frame_index") is not None else None,
            "timestamp": round(float(p["timestamp"]), 3),
            "score": _finite(p.get("score")),
            "asr": e.get("asr") or "",
            "ocr": e.get("ocr") or "",
            "matched": e.get("matched") or {},
            "thumb": thumbs[j] if j < len(thumbs) else None,
        })
    video = str(selection.get("video") or "")
    suffix = Path(video).suffix.lower()
    info = {
        "name": Path(video).name,
        "href": video_url if video_url is not None else (video_href(video, page_dir) if video else None),
        "mime": _MIME.get(suffix),
        "duration": selection.get("duration"),
    }
    ts = _floats(all_timestamps, 3)
    candidates: dict[str, Any] = {
        "timestamps": ts,
        "scores": _floats(all_scores) if all_scores is not None else [],
        "shots": [round(float(s), 3) for s in shots],
        "gt_windows": [[float(a), float(b)] for a, b in gt_windows],
    }
    if modality_scores:
        candidates["modalities"] = {k: _floats(v) for k, v in modality_scores.items() if len(v) == len(ts)}
    m = {"policy": selection.get("policy"), "asr_source": selection.get("asr_source"), **(meta or {})}
    return {
        "question": selection.get("question", ""),
        "options": list(options) if options else None,
        "video": info,
        "candidates": candidates,
        "picked": picked,
        "transcript": [_cue(c) for c in cues] if cues else [],
        "meta": {k: v for k, v in m.items() if v is not None},
        "index_href": index_href,
    }


def _finite(v: Any) -> float | None:
    return round(float(v), 5) if v is not None and np.isfinite(float(v)) else None


def _cue(c: Any) -> dict[str, Any]:
    if isinstance(c, dict):
        return {"start": round(float(c["start"]), 3), "end": round(float(c["end"]), 3), "text": str(c["text"])}
    return {"start": round(float(c.start), 3), "end": round(float(c.end), 3), "text": str(c.text)}


def inside_share(timestamps: Sequence[float], windows: Sequence[tuple[float, float]]) -> float | None:
    """The share of picked frames inside any ground-truth window (None without a window or frames).

    >>> inside_share([1.0, 5.0, 9.0, 12.0], [(4.0, 10.0)])
    0.5
    """
    if not windows or not len(timestamps):
        return None
    inside = sum(1 for t in timestamps if any(a <= float(t) <= b for a, b in windows))
    return inside / len(timestamps)


def index_row(data: dict[str, Any], href: str, **extra: Any) -> dict[str, Any]:
    """The index table's row for one page (question, video, k, and whatever ``extra`` adds)."""
    meta = data.get("meta") or {}
    picked = data.get("picked") or []
    cand = data.get("candidates") or {}
    return {
        "href": href,
        "question": data.get("question", ""),
        "video": (data.get("video") or {}).get("name"),
        "k": len(picked),
        "candidates": meta.get("num_candidates") or len(cand.get("timestamps", ())),
        "policy": meta.get("policy"),
        "asr_source": meta.get("asr_source"),
        "top_score": max((p["score"] for p in picked if p.get("score") is not None), default=None),
        "in_gt": inside_share([p["timestamp"] for p in picked], list(cand.get("gt_windows", ()))),
        **extra,
    }
