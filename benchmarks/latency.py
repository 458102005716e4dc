"""Selection latency on an indexed long video vs the one-off cost of encoding its frames.

Builds (or reuses) the index of a generated 60-minute video with the embedded default scorer, then times
``FrameSelector.select`` for several questions: query encoding, MaxSim over all candidates and the policy,
side by side with the time it took to encode every candidate once.

    python benchmarks/latency.py [--minutes 60] [--repeats 20] [--no-record]
"""

from __future__ import annotations

import argparse
import statistics
import time


from benchmarks._common import WORK, Timer, record  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()

    import torch

    from clamr_frames.scoring import maxsim
    from clamr_frames.select import select_frames
    from clamr_frames.selector import FrameSelector
    from clamr_frames.synth import generate_video

    out = WORK / f"latency_{args.minutes:g}min"
    with Timer() as t_gen:
        video = generate_video(out, seed=7, duration=60.0 * args.minutes)
    cache = out / "cache"
    import shutil

    shutil.rmtree(cache, ignore_errors=True)
    selector = FrameSelector.from_pretrained("default", ocr=False, index_dir=cache, progress=False)
    with Timer() as t_index:
        index = selector.index(video.video_path, subtitles=video.srt_path)
    n = index.num_candidates

    # a fresh selector: the index comes from disk, as for a new process
    fresh = FrameSelector.from_pretrained("default", ocr=False, index_dir=cache, progress=False)
    with Timer() as t_load:
        fresh.index(video.video_path, subtitles=video.srt_path)
    questions = [q["question"] for q in video.questions] or ["What is the password?"]
    fresh.select(video.video_path, questions[0], k=args.k, subtitles=video.srt_path)  # warm-up

    total, q_enc, score, pol = [], [], [], []
    docs = index.embeddings
    for r in range(args.repeats):
        q = questions[r % len(questions)]
        t0 = time.perf_counter()
        fresh.select(video.video_path, q, k=args.k, subtitles=video.srt_path)
        total.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        qe = fresh.encoder.encode_queries([q])[0]
        t1 = time.perf_counter()
        s = maxsim(qe, docs.embeddings, docs.offsets, modality_ids=docs.modality_ids)
        t2 = time.perf_counter()
        select_frames(s.float().numpy(), index.timestamps, args.k, policy="topk")
        t3 = time.perf_counter()
        q_enc.append(t1 - t0)
        score.append(t2 - t1)
        pol.append(t3 - t2)

    med = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    body = (
        f"{args.minutes:g}-minute generated video, {n} candidates (1 fps), {docs.embeddings.shape[0]} document tokens "
        f"(d={docs.embeddings.shape[1]}), scorer `default`, k={args.k}, median of {args.repeats} questions, "
        f"torch threads {torch.get_num_threads()}.\n\n"
        "| stage | time | ratio to select |\n|---|---|---|\n"
        f"| generate video (not part of selection) | {t_gen.seconds:.1f} s | |\n"
        f"| encode all {n} candidates (index build, once per video) | {t_index.seconds:.2f} s | "
        f"{t_index.seconds / (med(total) / 1000):.0f}x |\n"
        f"| load index from disk (new process) | {t_load.seconds * 1000:.1f} ms | |\n"
        f"| **select (query encode + MaxSim + policy)** | **{med(total):.1f} ms** | 1.0 |\n"
        f"| of which: query encode | {med(q_enc):.1f} ms | |\n"
        f"| of which: MaxSim over all candidates | {med(score):.1f} ms | |\n"
        f"| of which: top-k policy | {med(pol):.2f} ms | |\n"
    )
    verdict = "meets" if med(total) <= 100 else "misses"
    body += f"\nGoal: select on an indexed 1-hour video within 100 ms on 2 CPU cores — {verdict} it ({med(total):.1f} ms).\n"
    record(f"Selection latency on an indexed {args.minutes:g}-minute video", body, write=not args.no_record)


if __name__ == "__main__":
    main()
