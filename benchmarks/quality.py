"""Frame recall@k on generated videos with needles: clamr-frames scorers and policies vs uniform sampling.

A question counts as found when a picked frame lies inside its needle's time span. Videos come from the
project's synthetic generator (several seeds), each with OCR (sign), ASR (subtitle line) and vision needles.

    python benchmarks/quality.py [--videos 8] [--minutes 10] [--needles 4] [--ks 8 16 32] [--no-ocr] [--no-record]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import WORK, record  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--needles", type=int, default=4, help="needles per kind per video")
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--policies", nargs="+", default=["topk", "uniform"])
    ap.add_argument("--no-ocr", action="store_true", help="skip OCR context (OCR needles then rely on nothing)")
    ap.add_argument("--seed", type=int, default=100, help="first video seed")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    from clamr_frames.evaluation import hits_span, recall
    from clamr_frames.select import select_frames
    from clamr_frames.selector import FrameSelector
    from clamr_frames.synth import generate_video

    out = WORK / "quality"
    selector = FrameSelector.from_pretrained("default", cache_dir=out / "cache", ocr=not args.no_ocr, progress=True)
    hits: dict[tuple[str, str, int], list[bool]] = defaultdict(list)
    t_index = 0.0
    n_frames = 0
    for v in range(args.videos):
        video = generate_video(
            out / f"v{v}", seed=args.seed + v, duration=60.0 * args.minutes, needles_per_kind=args.needles
        )
        t0 = time.perf_counter()
        index = selector.index(video.video_path, subtitles=video.srt_path)
        t_index += time.perf_counter() - t0
        n_frames += index.num_candidates
        for q in video.questions:
            needle = q["needle"]
            sel = selector.select(video.video_path, q["question"], k=1, subtitles=video.srt_path)
            for policy in args.policies:
                for k in args.ks:
                    idx = select_frames(sel.all_scores, sel.all_timestamps, k, policy=policy)
                    hit = hits_span(sel.all_timestamps[idx], needle["start"], needle["end"])
                    hits[(needle["kind"], policy, k)].append(hit)
    kinds = sorted({k for k, _, _ in hits})
    rows = ["| needle | policy | " + " | ".join(f"R@{k}" for k in args.ks) + " | questions |",
            "|---|---|" + "---|" * len(args.ks) + "---|"]
    for kind in kinds:
        for policy in args.policies:
            vals = [recall(hits[(kind, policy, k)]) for k in args.ks]
            rows.append(f"| {kind} | {'uniform (baseline)' if policy == 'uniform' else policy} | "
                        + " | ".join(f"{x:.2f}" for x in vals) + f" | {len(hits[(kind, policy, args.ks[0])])} |")
    body = (
        f"Scorer `default` (MiniLM late interaction over ASR + {'no OCR' if args.no_ocr else 'OCR'} context), "
        f"{args.videos} generated videos of {args.minutes:g} min (seeds {args.seed}..{args.seed + args.videos - 1}), "
        f"{args.needles} needles per kind per video, candidates at 1 fps. Indexing took {t_index:.0f} s for "
        f"{n_frames} frames ({n_frames / max(t_index, 1e-9):.1f} frames/s incl. OCR).\n\n" + "\n".join(rows) + "\n"
    )
    if "vision" in kinds:
        body += "\nThe default scorer has no visual channel, so vision needles are found only by chance.\n"
    record("Frame recall@k on generated needle videos (scorer: default)", body, write=not args.no_record)


if __name__ == "__main__":
    main()
