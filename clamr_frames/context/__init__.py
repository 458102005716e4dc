"""Per-frame context: subtitle (ASR) text around a timestamp (:mod:`~clamr_frames.context.subtitles`), speech
recognised from the audio track (:mod:`~clamr_frames.context.asr`), OCR text (:mod:`~clamr_frames.context.ocr`) and
shots (:mod:`~clamr_frames.context.shots`). Which of them a video gets is decided by the context plan
(:func:`clamr_frames.index.plan.plan_context`)."""

from clamr_frames.context import subtitles as _subtitles
from clamr_frames.context.subtitles import *  # noqa: F403  (the subtitle API: its one list is subtitles.__all__)

__all__ = list(_subtitles.__all__)


def __getattr__(name: str) -> object:
    # the old name of asr_text_at: still importable, with a warning
    if name == "asr_context":
        from clamr_frames.context import subtitles

        return subtitles.asr_context
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
