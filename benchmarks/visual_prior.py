"""The visual prior: shots covered by ``coverage`` vs uniform, and what the prior costs at index time.

1. Shot coverage. Generated videos built of scenes of different lengths (``--scene-seconds``, default 2-60 s;
   hard cuts, with the generator's moving shapes or its swaying camera), and the montage of Debian's opencv-doc
   clips (real footage; its cuts labelled by hand, see ``benchmarks/shots.py``). With ``k`` = the number of
   true scenes (and twice that), the fraction of true scenes with at least one picked frame, for ``coverage``
   (what ``gated`` uses on a flat profile) and ``uniform`` (what ``gated`` used before). The videos are indexed
   with the default scorer (no OCR), so the prior is the one the index stores.
2. Index-time cost. Per video, side by side in one process: ``build_index`` without the prior, then the prior
   added to that index (``ensure_prior``: the text-only default scorer without OCR decodes nothing else, so the
   prior decodes the candidates itself), wall and CPU seconds; and the prior computed from frames already
   decoded (what an image encoder or OCR build pays: thumbnails, shots, novelty).

    python benchmarks/visual_prior.py [--seeds 400 401 402 403] [--minutes 10] [--no-record]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


from benchmarks._common import WORK, record  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def shots_hit(picks: np.ndarray, truth_starts: list[int], n: int) -> float:
    """Fraction of true shots (candidate ranges from ``truth_starts``) with at least one pick."""
    bounds = [*truth_starts, n]
    return float(np.mean([np.any((picks >= a) & (picks < b)) for a, b in zip(bounds[:-1], bounds[1:])]))


def coverage_rows(prior, ts: np.ndarray, truth: list[int]) -> dict[tuple[str, int], float]:
    from clamr_frames.select import select_frames

    n = len(ts)
    out = {}
    for mult in (1, 2):
        k = min(n, mult * len(truth))
        flat = np.zeros(n)
        for policy in ("coverage", "uniform"):
            knobs = {"prior": prior} if policy == "coverage" else {}
            out[(policy, mult)] = shots_hit(select_frames(flat, ts, k, policy=policy, **knobs), truth, n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[400, 401, 402, 403])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--scene-seconds", type=float, nargs=2, default=[2.0, 60.0], metavar=("MIN", "MAX"))
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    from benchmarks.shots import real_videos
    from clamr_frames.context.shots import PriorBuilder, compute_prior
    from clamr_frames.encoders.default import DefaultEncoder
    from clamr_frames.index import IndexSettings, IndexStore, build_index
    from clamr_frames.index.prior import ensure_prior
    from clamr_frames.synth import generate_video
    from clamr_frames.video import VideoReader

    encoder = DefaultEncoder()
    encoder.encode_queries(["warm up"])
    cov: dict[str, list[dict]] = {}
    cost = []
    scenes = tuple(args.scene_seconds)
    for motion in ("shapes", "pan"):
        for seed in args.seeds:
            v = generate_video(WORK / "visual_prior" / f"{motion}_s{seed}", seed=seed, duration=60.0 * args.minutes,
                               needles_per_kind=2, scene_seconds=scenes, motion=motion)
            settings = IndexSettings(visual_prior=False)
            store = IndexStore(Path(tempfile.mkdtemp(dir=WORK)))
            w0, c0 = time.perf_counter(), _cpu()
            index = build_index(v.video_path, encoder, subtitles=v.srt_path, settings=settings, store=store,
                                progress=False)
            w1, c1 = time.perf_counter(), _cpu()
            index = ensure_prior(index, store, v.video_path, settings, None, progress=False)
            w2, c2 = time.perf_counter(), _cpu()
            # the prior from frames already decoded (an image encoder's or OCR's build): no decoding counted
            with VideoReader(v.video_path) as r:
                frames = [f for ch in r.iter_candidates(fps=1.0, max_side=448) for f in ch.frames]
            w3 = time.perf_counter()
            b = PriorBuilder()
            b.add(index.timestamps, frames)
            b.finish()
            w4 = time.perf_counter()
            del frames
            cost.append((motion, w1 - w0, w2 - w1, c1 - c0, c2 - c1, w4 - w3, index.num_candidates))
            ts = index.timestamps
            truth = sorted({int(np.searchsorted(ts, s - 1e-9)) for s in v.scene().scene_starts if s < ts[-1]})
            row = coverage_rows(index.prior, ts, truth)
            row["shots"], row["found"] = len(truth), index.prior.num_shots
            cov.setdefault(f"generated, {motion}, scenes {scenes[0]:g}-{scenes[1]:g} s", []).append(row)
            print(motion, seed, row, cost[-1], flush=True)
    for name, path, ts, frames, truth, idx in real_videos(1.0):
        if name != "montage":
            continue
        prior = compute_prior(ts, frames)
        row = coverage_rows(prior, ts, [0, *truth])
        row["shots"], row["found"] = len(truth) + 1, prior.num_shots
        cov["real: opencv-doc montage (1 fps)"] = [row]

    lines = ["| videos | true shots | shots found | k | shots with a frame: coverage | uniform |",
             "|---|---:|---:|---|---:|---:|"]
    for name, rows in cov.items():
        for mult in (1, 2):
            c = np.mean([r[("coverage", mult)] for r in rows])
            u = np.mean([r[("uniform", mult)] for r in rows])
            shots = sum(r["shots"] for r in rows)
            found = sum(r["found"] for r in rows)
            lines.append(f"| {name} ({len(rows)}) | {shots} | {found} | {'=' if mult == 1 else '2x'} shots "
                         f"| {c:.2f} | {u:.2f} |")
    a = np.array([c[1:] for c in cost], dtype=float)
    ratio_w, ratio_c = a[:, 1] / a[:, 0], a[:, 3] / a[:, 2]
    per_frame = 1000 * a[:, 4] / a[:, 5]
    cost_lines = [
        "| index without the prior (default scorer, no OCR) | prior added (decodes the candidates itself) | ratio |",
        "|---|---|---|",
        f"| wall: median {np.median(a[:, 0]):.2f} s per video | median {np.median(a[:, 1]):.2f} s | "
        f"median {100 * np.median(ratio_w):.1f} % (max {100 * ratio_w.max():.1f} %) |",
        f"| CPU: median {np.median(a[:, 2]):.2f} s per video | median {np.median(a[:, 3]):.2f} s | "
        f"median {100 * np.median(ratio_c):.1f} % (max {100 * ratio_c.max():.1f} %) |",
    ]
    body = (
        f"Generated videos: {args.minutes:g} min, seeds {', '.join(map(str, args.seeds))} (none used to tune the "
        f"prior), 2 needles per kind, 320x180 at 2 fps native, candidates at 1 fps; motion `shapes` (objects glide "
        "over still scenes) and `pan` (a swaying camera). Machine shared with other jobs: the cost is a ratio "
        "measured side by side in one process (wall and CPU time).\n\n"
        "**Shots with at least one picked frame** (k = the number of true shots, and twice that)\n\n"
        + "\n".join(lines) + "\n\n**Index-time cost of the prior**\n\n" + "\n".join(cost_lines) + "\n\n"
        f"From frames already decoded (an image encoder's or OCR's build): {np.median(per_frame):.2f} ms per "
        "candidate (thumbnail, shots, novelty), against the default scorer's indexing without OCR at "
        f"{1000 * np.median(a[:, 0] / a[:, 5]):.2f} ms per candidate in the same run.\n"
    )
    record("Visual prior: shot coverage and index-time cost", body, write=not args.no_record)


if __name__ == "__main__":
    main()
