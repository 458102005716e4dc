"""The ``clamr-frames`` argument parser: one subparser per command (named, and described, by its handler:
:func:`~clamr_frames.cli.options.command`), built from the option helpers the commands share."""

from __future__ import annotations

import argparse

from clamr_frames import __version__
from clamr_frames.cli.apps import cmd_demo, cmd_serve, cmd_train, cmd_view
from clamr_frames.cli.indexing import cmd_index
from clamr_frames.cli.media import cmd_inspect, cmd_transcribe
from clamr_frames.cli.options import (
    add_asr,
    add_index_dir,
    add_indexing,
    add_ocr,
    add_policy,
    add_sampling,
    command,
)
from clamr_frames.cli.selecting import cmd_select


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clamr-frames",
        description="Pick the frames of a long video that a video-QA model should look at.",
    )
    parser.add_argument("--version", action="version", version=f"clamr-frames {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = command(sub, cmd_inspect)
    p.add_argument("video")
    p.add_argument("--subtitles", default=None, help=".srt / .vtt / LongVideoBench .json")
    p.add_argument("--window", type=float, default=3.0, help="seconds of subtitles before/after each candidate")
    p.add_argument("--all", action="store_true", help="list every candidate, not the first 20")
    p.add_argument("--json", action="store_true")
    add_index_dir(p, "where indexes and transcripts live (a cached transcript is shown)")
    add_sampling(p)
    add_asr(p)

    p = command(sub, cmd_index)
    p.add_argument("videos", nargs="*", metavar="VIDEO")
    p.add_argument("--manifest", default=None, metavar="FILE", help="CSV / JSONL list of videos (instead of VIDEO...)")
    p.add_argument("--subtitles", action="append", default=None, help="one per video, in order")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray: a cluster address ('auto', 'ray://head:10001'); without one a local cluster "
                        "(needs the 'distributed' extra)")
    p.add_argument("--workers", type=int, default=None,
                   help="with --ray: encoder actors (default: one per GPU; without GPUs, half the CPUs)")
    p.add_argument("--report", default=None, metavar="JSON",
                   help="write the corpus report (indexed, skipped, failed with reasons, frames/s per stage)")
    p.add_argument("--json", action="store_true",
                   help="one JSON line per video on stdout (status indexed | skipped | failed, index, candidates, "
                        "frames_encoded or reason); the summary goes to stderr")
    add_indexing(p)

    p = command(sub, cmd_select)
    p.add_argument("video", nargs="?", default=None, help="the video (optional with --questions)")
    p.add_argument("question", nargs="?", default=None)
    p.add_argument("--questions", default=None, metavar="FILE.jsonl", help="answer every question of this file")
    p.add_argument("-k", type=int, default=16)
    p.add_argument("--subtitles", default=None)
    p.add_argument("--options", nargs="*", default=None, help="multiple-choice options to add to the query")
    add_policy(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", default=None, metavar="PNG", help="write a score timeline plot")
    p.add_argument("--html", default=None, metavar="PATH",
                   help="write a self-contained HTML report (player, score timeline, picked frames with their matched "
                        "words, transcript); with --questions a folder: one page per question and index.html")
    p.add_argument("--save-frames", default=None, metavar="DIR", help="write the picked frames as JPEG")
    add_indexing(p)

    p = command(sub, cmd_view)
    p.add_argument("selections", metavar="SELECTIONS.jsonl")
    p.add_argument("-o", "--output", default="report", metavar="DIR", help="output folder (default: report/)")
    add_index_dir(p, "where the indexes live (default: $CLAMR_FRAMES_CACHE or the user cache directory)")
    p.add_argument("--no-thumbnails", action="store_true", help="do not decode the picked frames from the videos")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command(sub, cmd_serve)
    p.add_argument("folder", nargs="?", default=".", help="folder of videos (default: the current folder)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; any other address exposes the folder to the network)")
    p.add_argument("--port", type=int, default=8765)
    add_index_dir(p, "where the indexes live")
    add_ocr(p)
    p.add_argument("--asr", default="auto", help="ASR context: auto (a subtitle file beside the video, else speech "
                                                  "recognised from the audio track), subtitles, whisper, none")

    p = command(sub, cmd_transcribe)
    p.add_argument("video")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="write .srt, .vtt or .json (by the suffix); default: SRT on stdout")
    add_index_dir(p, "where indexes and transcripts (<index-dir>/asr) live (default: $CLAMR_FRAMES_CACHE or the "
                      "user cache directory)")
    p.add_argument("--no-cache", action="store_true", help="transcribe again and do not store the result")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_asr(p, mode=False)

    p = command(sub, cmd_demo)
    p.add_argument("--out", default="demo_out", help="output directory (video, subtitles, plot)")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("-k", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    add_policy(p)
    add_ocr(p)
    p.add_argument("--speech", action=argparse.BooleanOptionalAction, default=None,
                   help="speak the needles and a narration into the audio track (default: on when espeak-ng is "
                        "available, the 'synth' extra)")
    p.add_argument("--use-subtitles", action="store_true",
                   help="give the selector the subtitle file instead of recognising the speech")

    p = command(sub, cmd_train)
    p.add_argument("config", help="training configuration (.yaml / .json), or the name of one shipped in "
                                   "clamr_frames/train/configs/ (e.g. default_synthetic)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no metric lines on stdout")
    return parser
