"""Argument helpers shared by the subcommands' parsers: each option that several commands take is defined once."""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def command(sub: Any, func: Handler) -> argparse.ArgumentParser:
    """The subparser of the handler ``cmd_<name>``: named ``<name>``, its ``--help`` line the first paragraph of
    the handler's docstring, its description the paragraphs after it (a command's text lives with its code)."""
    head, _, rest = inspect.cleandoc(func.__doc__ or "").partition("\n\n")
    p = sub.add_parser(func.__name__.removeprefix("cmd_"), help=" ".join(head.split()),
                       description=" ".join(rest.split()) or None)
    p.set_defaults(func=func)
    return p


class DeprecatedAlias(argparse.Action):
    """An old option name that still works, with a warning naming the new one."""

    def __init__(self, *args: Any, new: str, **kwargs: Any) -> None:
        self.new = new
        super().__init__(*args, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"warning: {option_string} is deprecated, use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_sampling(p: argparse.ArgumentParser) -> None:
    """Which frames are candidates, and how they are decoded."""
    p.add_argument("--fps", type=float, default=1.0, help="candidate frames per second (default 1.0)")
    p.add_argument("--num-frames", type=int, default=None, help="take N evenly spaced candidates instead of --fps")
    p.add_argument("--backend", choices=["auto", "decord", "pyav"], default="auto", help="video decoding backend")


def add_index_dir(p: argparse.ArgumentParser, help: str) -> None:
    """``--index-dir`` and its deprecated old name ``--cache-dir`` (every subcommand that takes one)."""
    p.add_argument("--index-dir", default=None, help=help)
    p.add_argument("--cache-dir", dest="index_dir", action=DeprecatedAlias, new="--index-dir", help=argparse.SUPPRESS)


def add_compression(p: argparse.ArgumentParser) -> None:
    """``--compression`` of the index settings (the same option for ``index`` and ``select``)."""
    p.add_argument("--compression", default=None,
                   help="index compression: none | int8 | binary | pool[N] | pool[N]+int8 | pool[N]+binary")


def add_scorer(p: argparse.ArgumentParser) -> None:
    """The scorer, its weights and device, where the indexes live, and the context it is given."""
    from clamr_frames.encoders.registry import SCORERS

    p.add_argument(
        "--scorer", default="default",
        help=f"{' | '.join(SCORERS)} | a local scorer folder (a trained run, a CLaMR adapter or saved model) | "
             "a CLaMR hub id",
    )
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="the scorer's weights (local directory or hub id) instead of its published default")
    p.add_argument("--audio-weights", default=None, metavar="PATH", help="LanguageBind audio checkpoint (languagebind-va)")
    p.add_argument("--base-model", default=None, metavar="PATH", help="CLaMR backbone (Qwen2.5-VL-3B-Instruct) path")
    p.add_argument("--revision", default=None,
                   help="Hub branch, tag or commit of the scorer's weights (recorded in the index manifest)")
    p.add_argument("--base-revision", default=None, help="Hub revision of the CLaMR backbone")
    p.add_argument("--audio-revision", default=None, help="Hub revision of the LanguageBind audio checkpoint")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    add_index_dir(p, "where the indexes live (default: $CLAMR_FRAMES_CACHE or the user cache directory)")
    add_ocr(p)
    p.add_argument("--aggregation", choices=["token_max", "modality_max"], default="token_max")
    p.add_argument("--quiet", action="store_true", help="no progress bars (model downloads included)")
    add_asr(p)


def add_asr(p: argparse.ArgumentParser, *, mode: bool = True) -> None:
    """Speech recognition: where the ASR context comes from (``mode``) and the speech model's settings."""
    from clamr_frames.context.asr import ASR_MODES, BUNDLED_MODEL

    if mode:
        p.add_argument("--asr", choices=ASR_MODES, default="auto",
                       help="ASR context: auto (the subtitle file if given, else speech recognised from the audio "
                            "track, else none), subtitles, whisper, or none (default auto)")
    p.add_argument("--asr-model", default=BUNDLED_MODEL, metavar="NAME",
                   help=f"speech model: {BUNDLED_MODEL} (bundled, offline), a faster-whisper name (small, large-v3, "
                        "distil-large-v3), a hub id, or a local CTranslate2 directory")
    p.add_argument("--asr-device", choices=["auto", "cpu", "cuda"], default="auto", help="speech model device")
    p.add_argument("--asr-compute-type", default="auto", help="CTranslate2 compute type (default: int8 on CPU, float16 on CUDA)")
    p.add_argument("--asr-language", default=None, help="spoken language code (default: detected by multilingual models)")
    p.add_argument("--asr-workers", type=int, default=0, metavar="N",
                   help="audio blocks transcribed at once (default: one per core on CPU, at most 4; 1 on CUDA)")


def add_ocr(p: argparse.ArgumentParser) -> None:
    """``--ocr`` / ``--no-ocr`` (default None: on where the scorer reads OCR text,
    :func:`clamr_frames.index.plan.resolve_ocr`), for every command that indexes."""
    p.add_argument("--ocr", action=argparse.BooleanOptionalAction, default=None,
                   help="read the text in the frames with OCR as scorer context (the 'ocr' extra). Default: on for "
                        "the scorers that read OCR text (default, clamr; a warning and none when the extra is not "
                        "installed), off for the visual scorers (clip, languagebind-*); --no-ocr skips it")


def add_policy(p: argparse.ArgumentParser) -> None:
    """``--policy`` (default None: the scorer's own, :func:`clamr_frames.encoders.registry.default_policy`)."""
    p.add_argument("--policy", default=None,
                   help="topk | nms | adaptive | aks | inverse-transform | bolt | hybrid | uniform | gated | coverage "
                        "(default: the scorer's default policy, which the selection records)")


def add_indexing(p: argparse.ArgumentParser) -> None:
    """The options of the commands that build indexes (``index``, ``select``): candidate sampling, compression,
    the scorer and its context."""
    add_sampling(p)
    add_compression(p)
    add_scorer(p)
