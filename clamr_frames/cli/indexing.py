"""``clamr-frames index``: build the indexes of videos ahead of time, on this machine or on Ray."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from clamr_frames.cli.common import EXIT_BAD_INPUT, asr_settings, encoder_kwargs, index_settings, usage


def cmd_index(args: argparse.Namespace) -> int:
    """encode the candidate frames of videos into the on-disk index (one machine, or Ray)

    Index videos ahead of time: VIDEO paths (or URIs), or a CSV / JSONL manifest with the columns video,
    subtitles, options. With --ray the corpus runs as a Ray Data pipeline (decode and context on CPU tasks, the
    encoder on an actor pool, one actor per GPU); re-running resumes. Exit code 2 when any video failed (each is
    listed with its reason).
    """
    from clamr_frames.index.corpus import jobs_from_paths, read_manifest

    if bool(args.videos) == bool(args.manifest):
        raise usage("give VIDEO paths or --manifest FILE (one of the two)")
    if args.manifest and args.subtitles:
        raise usage("--subtitles goes with VIDEO paths; a manifest has a 'subtitles' column")
    if args.subtitles and len(args.subtitles) != len(args.videos):
        raise usage(f"--subtitles was given {len(args.subtitles)} times for {len(args.videos)} videos")
    if args.ray is None and args.workers is not None:
        raise usage("--workers needs --ray")
    if args.ray is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        warnings.warn("each process of this torchrun / accelerate launch indexes every video (one at a time per "
                      "index, through the store's lock); to spread a corpus over GPUs use --ray", stacklevel=1)
    jobs = read_manifest(args.manifest) if args.manifest else jobs_from_paths(args.videos, args.subtitles)
    settings = index_settings(args)
    enc_kwargs = encoder_kwargs(args)
    if args.ray is not None:
        from clamr_frames.index.distributed import index_corpus

        report = index_corpus(jobs, scorer=args.scorer, encoder_kwargs=enc_kwargs, device=args.device,
                              settings=settings, ocr=args.ocr, asr=args.asr, asr_settings=asr_settings(args),
                              cache_dir=args.index_dir,
                              address=None if args.ray == "local" else args.ray, workers=args.workers,
                              progress=not args.quiet)
    else:
        from clamr_frames.encoders.registry import load_encoder
        from clamr_frames.index.corpus import index_locally
        from clamr_frames.index.store import IndexStore

        encoder = load_encoder(args.scorer, device=args.device, progress=not args.quiet, **enc_kwargs)
        report = index_locally(jobs, encoder, settings=settings, ocr=args.ocr,
                               store=IndexStore(args.index_dir) if args.index_dir else IndexStore(),
                               progress=not args.quiet, asr=args.asr, asr_settings=asr_settings(args))
    if args.json:  # one line per video, in the order given; the summary is not data
        order = {job.name: i for i, job in enumerate(jobs)}
        records = [{"status": status, **e} for status, entries in
                   (("indexed", report.indexed), ("skipped", report.skipped), ("failed", report.failed)) for e in entries]
        for rec in sorted(records, key=lambda r: order.get(r["video"], len(order))):
            print(json.dumps(rec), flush=True)
        print(report.summary(), file=sys.stderr)
    else:
        for e in report.indexed + report.skipped:
            how = f"{e['frames_encoded']} frames encoded" if "frames_encoded" in e else "already indexed"
            print(f"{e['video']}: {e['candidates']} candidates ({how}) in {e['index']}")
        for e in report.failed:
            print(f"{e['video']}: failed: {e['reason']}", file=sys.stderr)
        print(report.summary())
    if args.report:
        print(f"report: {report.write(args.report)}")
    return EXIT_BAD_INPUT if report.failed else 0
