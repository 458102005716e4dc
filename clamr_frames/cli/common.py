"""What the command handlers share: the usage error and exit code, text formatting, and the objects built from
the scorer, speech-recognition and index-directory flags."""

from __future__ import annotations

import argparse
from typing import Any

from clamr_frames.errors import ClamrFramesError

#: Exit code of bad input (an unreadable video, bad arguments, a failed video of a corpus).
EXIT_BAD_INPUT = 2


class UsageError(ClamrFramesError):
    """Arguments that do not go together (exit code 2, like any bad input)."""


def usage(msg: str) -> UsageError:
    return UsageError(msg)


def fmt_time(t: float) -> str:
    m, s = divmod(float(t), 60.0)
    h, m = divmod(int(m), 60)
    return f"{h:d}:{m:02d}:{s:05.2f}"


def short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def asr_settings(args: argparse.Namespace):
    from clamr_frames.context.asr import AsrSettings

    return AsrSettings(model=args.asr_model, device=args.asr_device, compute_type=args.asr_compute_type,
                       language=args.asr_language, workers=args.asr_workers)


def encoder_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """What the scorer flags say about the weights: where they are, and which Hub revisions."""
    kw: dict[str, Any] = {"weights": args.weights, "audio_weights": args.audio_weights}
    for name in ("base_model", "revision", "base_revision", "audio_revision"):
        if getattr(args, name, None):
            kw[name] = getattr(args, name)
    return kw


def transcript_cache(args: argparse.Namespace):
    """The transcript cache ``select``/``index`` use for ``--index-dir`` (the context plan names its place)."""
    from clamr_frames._fs import default_cache_dir
    from clamr_frames.index.plan import transcript_cache as plan_cache

    return plan_cache(args.index_dir or default_cache_dir())


def index_settings(args: argparse.Namespace):
    """The index settings of the sampling and compression flags."""
    from clamr_frames.index.builder import IndexSettings

    return IndexSettings(fps=args.fps, num_frames=args.num_frames, backend=args.backend,
                         compression=getattr(args, "compression", None))


def make_selector(args: argparse.Namespace):
    """The :class:`~clamr_frames.FrameSelector` of ``select``'s flags."""
    from clamr_frames.selector import FrameSelector

    return FrameSelector.from_pretrained(
        args.scorer,
        device=args.device,
        encoder_kwargs=encoder_kwargs(args),
        settings=index_settings(args),
        index_dir=args.index_dir,
        ocr=args.ocr,
        aggregation=args.aggregation,
        progress=not args.quiet,
        asr=args.asr,
        asr_settings=asr_settings(args),
    )
