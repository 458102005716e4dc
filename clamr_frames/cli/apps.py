"""``clamr-frames view`` / ``serve`` (reports), ``demo`` and ``train``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


# -- view / serve ----------------------------------------------------------------------------------
def cmd_view(args: argparse.Namespace) -> int:
    """HTML reports of a selections file: one page per question and a sortable index

    Render a selections file (clamr-frames/selections JSONL, or log_selections rows) into a folder: one
    self-contained page per question (thumbnails decoded from the video, candidates' context from its stored
    index when there is one) and index.html, a table sortable by task, video, correctness, ASR source and share
    of picks inside the ground-truth window, with a wrong-answers filter.
    """
    from clamr_frames.report.view import render_selections

    result = render_selections(args.selections, args.output, index_dir=args.index_dir, thumbnails=not args.no_thumbnails,
                               progress=not args.quiet)
    print(f"{result.pages} pages, index: {result.index} ({result.seconds:.1f} s)")
    for problem in result.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """a local web app: index the videos of a folder, ask questions, see the report live

    Serve FOLDER's videos in a local web app (needs the 'ui' extra: pip install 'clamr-frames[ui]'). Binds
    127.0.0.1 unless --host says otherwise; paths outside FOLDER are refused.
    """
    from clamr_frames.report.app import LOCAL_HOSTS, serve
    from clamr_frames.select import POLICIES
    from clamr_frames.selector import SCORERS, FrameSelector

    def make_selector(scorer: str) -> Any:
        return FrameSelector.from_pretrained(scorer, index_dir=args.index_dir, ocr=args.ocr, asr=args.asr,
                                             progress=False)

    if args.host not in LOCAL_HOSTS:
        print(f"warning: serving on {args.host}: anyone who can reach this address can read the videos of "
              f"{args.folder} and run selections; use the default 127.0.0.1 unless you mean it", file=sys.stderr)
    print(f"clamr-frames serve: http://{args.host}:{args.port}/ (folder {args.folder}; Ctrl-C stops)", file=sys.stderr)
    serve(args.folder, make_selector, host=args.host, port=args.port, scorers=SCORERS, policies=sorted(POLICIES))
    return 0


# -- demo ------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    """generate a video with needles, select frames offline, report hits"""
    from clamr_frames.demo import run_demo

    return run_demo(
        out_dir=Path(args.out),
        minutes=args.minutes,
        k=args.k,
        seed=args.seed,
        policy=args.policy,
        ocr=args.ocr,
        speech=args.speech,
        use_subtitles=args.use_subtitles,
    )


# -- train -----------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    """train a frame retriever from a YAML config (run under `accelerate launch` for many GPUs)

    Train a frame retriever (CLaMR, the embedded default, or a single-vector baseline) as CONFIG says; examples
    in clamr_frames/train/configs/. Metrics go to stdout and <output_dir>/log.jsonl (and TensorBoard when
    installed); rerunning resumes from the last checkpoint.
    """
    from clamr_frames.train import train

    result = train(args.config, progress=not args.quiet, log_stdout=not args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:  # accelerate launch: one summary, from the main process
        return 0
    if result.stopped:
        print(f"stopped after step {result.global_step} (train.stop_after_steps); run the same command again "
              f"to resume from {result.output_dir / 'checkpoints'}")
        return 0
    print(f"trained {result.global_step} steps; model: {result.final_dir}")
    if result.evals:
        last = result.evals[-1]
        hits = [k for k in last if k.startswith("hit@") and "/" not in k]
        shown = "  ".join(f"{k} {last[k]:.3f}" for k in hits)
        if len(result.evals) > 1 and result.evals[0].get("tag") == "before":
            first = result.evals[0]
            shown = "  ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in hits)
        print(f"held-out ({int(last.get('queries', 0))} queries): {shown}")
    print(f"log: {result.output_dir / 'log.jsonl'}")
    return 0
