"""Command line: ``clamr-frames {inspect,index,select,view,serve,transcribe,demo,train}``.

The only place that turns library exceptions into messages and exit codes:
0 success, 1 unexpected internal error, 2 bad input (unreadable video, bad arguments, ...).

Modules: :mod:`~clamr_frames.cli.parser` builds the parser from the option helpers every command shares
(:mod:`~clamr_frames.cli.options`); each command's handler lives with its kind of work:
:mod:`~clamr_frames.cli.media` (``inspect``, ``transcribe``), :mod:`~clamr_frames.cli.indexing` (``index``),
:mod:`~clamr_frames.cli.selecting` (``select``), :mod:`~clamr_frames.cli.apps` (``view``, ``serve``, ``demo``,
``train``); :mod:`~clamr_frames.cli.common` holds what the handlers share. A command's help is its handler's
docstring (first paragraph: the line ``clamr-frames --help`` lists; the rest: the command's description).
"""

from __future__ import annotations

import os
import sys
import warnings

from clamr_frames.cli.common import EXIT_BAD_INPUT
from clamr_frames.cli.parser import build_parser
from clamr_frames.errors import ClamrFramesError


def main(argv: list[str] | None = None) -> int:
    """Run ``clamr-frames`` with ``argv`` (default: the process's arguments); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    if getattr(args, "quiet", False):  # no bar at all, transformers' weight loading included
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"  # type: ignore[assignment]
        try:
            return int(args.func(args) or 0)
        except ClamrFramesError as e:
            print(f"clamr-frames {args.command}: error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


__all__ = ["EXIT_BAD_INPUT", "build_parser", "main"]
