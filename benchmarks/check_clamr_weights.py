"""End-to-end check of the real CLaMR weights: does a question rank its evidence frame first?

What cannot be checked without the released weights (``meetdavidwan/clamr`` + ``Qwen/Qwen2.5-VL-3B-Instruct``)
is whether the whole scorer — the replayed base of the projection head, the adapter's 4.51 key remapping, the
document and query formats, the zero-padding floor — behaves like a trained retriever. On a machine that has
the weights this script generates a short video with known evidence (``clamr_frames.synth``: a sign, a subtitle
line and a coloured shape per kind, each with a Video-MME-style question and its ground-truth span), indexes it
with the CLaMR scorer exactly as ``FrameSelector`` does, and for every question reports the rank of its best
evidence frame among all candidates (1 = ranked first) and the top frame::

    python benchmarks/check_clamr_weights.py --weights /models/clamr --base-model /models/Qwen2.5-VL-3B-Instruct
    python benchmarks/check_clamr_weights.py --scorer runs/clamr_qlora/final          # a trained directory

It exits 0 when every question of the ``--require`` kinds (default: ``asr``, the subtitle line, which the
released model retrieves best) ranks an evidence frame first, 1 otherwise. A random head or a broken load
ranks the evidence no better than chance. No network is used when the paths are local.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np


@dataclass
class Probe:
    """One question with its ground truth and where the scorer put its evidence."""

    kind: str
    question: str
    span: tuple[float, float]
    rank: int  # 1-based rank of the best evidence frame (candidates ordered as policy="topk" orders them)
    n_candidates: int
    top_timestamp: float
    top_is_evidence: bool


def evidence_rank(scores: np.ndarray, timestamps: np.ndarray, span: tuple[float, float]) -> int:
    """1-based rank of the best-ranked candidate inside ``span`` (by score, ties to the earlier frame, as the
    ``topk`` policy breaks them); ``0`` when no candidate lies in the span.

    >>> evidence_rank(np.array([0.1, 0.9, 0.5, 0.9]), np.array([0.0, 1.0, 2.0, 3.0]), (1.5, 3.5))
    2
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    inside = (timestamps[order] >= span[0]) & (timestamps[order] <= span[1])
    hits = np.flatnonzero(inside)
    return int(hits[0]) + 1 if hits.size else 0


def run_probes(selector: Any, video: Path, subtitles: Path | None, questions: Sequence[dict],
               with_options: bool = False) -> list[Probe]:
    """Score every question against the video with ``selector`` and locate its evidence."""
    probes = []
    for q in questions:
        needle = q["needle"]
        span = (float(needle["start"]), float(needle["end"]))
        sel = selector.select(video, q["question"], k=1, subtitles=subtitles,
                              options=q.get("options") if with_options else None)
        ts = np.asarray(sel.all_timestamps, dtype=np.float64)
        rank = evidence_rank(sel.all_scores, ts, span)
        top = float(ts[int(np.argsort(-np.asarray(sel.all_scores, dtype=np.float64), kind="stable")[0])])
        probes.append(Probe(kind=str(needle["kind"]), question=q["question"], span=span, rank=rank,
                            n_candidates=len(ts), top_timestamp=top, top_is_evidence=rank == 1))
    return probes


def report(probes: Sequence[Probe], require: Sequence[str]) -> tuple[str, bool]:
    """A plain-text table of the probes and whether every required kind ranked its evidence first."""
    lines = ["kind    rank  of   top frame  evidence span     question"]
    for p in probes:
        rank = str(p.rank) if p.rank else "-"
        lines.append(f"{p.kind:<7} {rank:>4} {p.n_candidates:>4}  {p.top_timestamp:8.1f} s  "
                     f"{p.span[0]:6.1f}-{p.span[1]:6.1f} s  {p.question}")
    required = [p for p in probes if p.kind in require]
    ok = bool(required) and all(p.rank == 1 for p in required)
    first = sum(p.rank == 1 for p in probes)
    lines.append(f"evidence ranked first: {first}/{len(probes)} questions; required kinds "
                 f"{', '.join(require)}: {'PASS' if ok else 'FAIL'}")
    return "\n".join(lines), ok


def build_selector(args: argparse.Namespace, cache_dir: Path) -> Any:
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.selector import FrameSelector

    kw: dict[str, Any] = {}
    if args.base_model:
        kw["base_model"] = args.base_model
    if args.dtype:
        kw["dtype"] = args.dtype
    if args.load_in_4bit:
        kw["load_in_4bit"] = True
    if args.head_init_dtype:
        kw["head_init_dtype"] = args.head_init_dtype
    if args.frame_size:
        kw["frame_size"] = args.frame_size
    name = args.scorer
    if args.weights:
        kw["weights"] = args.weights
    return FrameSelector.from_pretrained(name, device=args.device, encoder_kwargs=kw, index_dir=cache_dir,
                                         ocr=args.ocr, progress=False, settings=IndexSettings(fps=args.fps))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scorer", default="clamr", help="'clamr' (with --weights) or a CLaMR directory")
    ap.add_argument("--weights", help="the meetdavidwan/clamr adapter directory (default: the hub id)")
    ap.add_argument("--base-model", help="the Qwen2.5-VL-3B-Instruct directory (default: the adapter's)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None, help="backbone dtype (default bf16 on CUDA, fp32 on CPU)")
    ap.add_argument("--load-in-4bit", action="store_true", help="nf4 as the reference ran (CUDA)")
    ap.add_argument("--head-init-dtype", default=None, choices=("float16", "float32"))
    ap.add_argument("--frame-size", type=int, default=None)
    ap.add_argument("--ocr", action="store_true", help="add OCR text to each frame's document (extra 'ocr')")
    ap.add_argument("--options", action="store_true", help="query with the answer options too")
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of generated video")
    ap.add_argument("--fps", type=float, default=1.0, help="candidate frames per second")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--require", default="asr", help="comma-separated needle kinds that must rank first")
    ap.add_argument("--work-dir", default=None, help="where the video and the index go (default: a temp dir)")
    args = ap.parse_args(argv)

    from clamr_frames.synth import generate_video

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="clamr_check_"))
    video = generate_video(work / "video", seed=args.seed, duration=args.duration, fps=2.0, width=320, height=180,
                           needles_per_kind=1)
    selector = build_selector(args, work / "cache")
    enc = selector.encoder
    print(f"scorer {enc.encoder_id}  floor {getattr(enc, 'score_floor', None)}  source {getattr(enc, 'source', {})}")
    probes = run_probes(selector, video.video_path, video.srt_path, video.questions, with_options=args.options)
    text, ok = report(probes, [k.strip() for k in args.require.split(",") if k.strip()])
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
