"""Corpus indexing throughput on Ray: 1 vs N encoder workers, with one process (no Ray) as the baseline.

Generates ``--videos`` synthetic videos (``--minutes`` each, subtitles as ASR context, default scorer), starts one
local Ray cluster with this machine's CPUs, and indexes the corpus into a fresh cache once per worker count
(``clamr_frames.index.distributed.index_corpus``), all side by side in one run; then once in this process
(``index_locally``). Frames/s counts frames encoded over the wall time of the run, which includes loading the
model (once for the encoder's id, once per actor) and starting the actors; "startup" is the time until the first
part was encoded, and "frames/s after startup" the rate from then on (what a long corpus approaches).

    python -m benchmarks scaleout [--videos 4] [--minutes 5] [--workers 1 2] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import shutil


from benchmarks._common import WORK, record  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks scaleout", description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)

    import ray

    from clamr_frames.encoders.default import DefaultEncoder
    from clamr_frames.index import IndexSettings, IndexStore
    from clamr_frames.index.corpus import index_locally, jobs_from_paths
    from clamr_frames.index.distributed import index_corpus
    from clamr_frames.synth import generate_video

    work = WORK / "scaleout"
    vids = [generate_video(work / f"v{i}", seed=40 + i, duration=60 * args.minutes) for i in range(args.videos)]
    jobs = jobs_from_paths([str(v.video_path) for v in vids], [str(v.srt_path) for v in vids])
    settings = IndexSettings()
    cores = len(os.sched_getaffinity(0))
    ray.init(num_cpus=cores, include_dashboard=False, logging_level="WARNING")
    rows = ["| run | encoder workers | CPUs per worker | wall | frames/s | speed-up vs 1 worker | startup | "
            "frames/s after startup | context busy s | encode busy s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = None
    try:
        for n in args.workers:
            cache = work / f"cache-ray{n}"
            shutil.rmtree(cache, ignore_errors=True)
            rep = index_corpus(jobs, settings=settings, cache_dir=cache, workers=n, progress=False)
            assert len(rep.indexed) == len(jobs) and not rep.failed, rep.failed
            base = base or rep.frames_per_s
            res = rep.setup["worker_resources"]
            rows.append(f"| Ray, local cluster ({cores} CPUs) | {n} | {res.get('num_cpus', 0):g} | "
                        f"{rep.wall_s:.1f} s | {rep.frames_per_s:.1f} | {rep.frames_per_s / base:.2f}x | "
                        f"{rep.startup_s:.1f} s | {rep.steady_frames_per_s:.1f} | "
                        f"{rep.stages['context']['busy_s']:.1f} | {rep.stages['encode']['busy_s']:.1f} |")
    finally:
        ray.shutdown()
    cache = work / "cache-local"
    shutil.rmtree(cache, ignore_errors=True)
    rep = index_locally(jobs, DefaultEncoder(), settings=settings, store=IndexStore(cache), progress=False)
    rows.append(f"| one process, no Ray ({cores} torch threads) | – | – | {rep.wall_s:.1f} s | "
                f"{rep.frames_per_s:.1f} | {rep.frames_per_s / base:.2f}x | – | – | – | – |")
    body = (f"{args.videos} generated {args.minutes:g}-minute videos ({len(jobs) * int(60 * args.minutes)} 1-fps "
            f"candidates, subtitles as ASR context, default scorer, no OCR), each run into a fresh cache; "
            f"{cores} CPU cores, shared with other jobs: compare ratios within this run only. Worker CPUs are Ray's "
            f"logical CPUs (one is always left to the context tasks); startup = until the first part was encoded "
            f"(model load for the encoder id, actor start and model load, first video probed).\n\n" + "\n".join(rows) + "\n")
    record("Scale-out indexing on Ray: 1 vs 2 encoder workers", body, write=not args.no_record)


if __name__ == "__main__":
    main()
