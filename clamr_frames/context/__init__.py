"""Per-frame context: subtitle (ASR) text around a timestamp (:mod:`~clamr_frames.context.subtitles`), speech
recognised from the audio track (:mod:`~clamr_frames.context.asr`), OCR text (:mod:`~clamr_frames.context.ocr`) and
shots (:mod:`~clamr_frames.context.shots`). Which of them a video gets is decided by the context plan
(:func:`clamr_frames.index.plan.plan_context`)."""

from clamr_frames.context.subtitles import (
    OPEN_END_SECONDS,
    ContextWindow,
    Cue,
    Subtitles,
    asr_contexts,
    asr_text_at,
    clean_text,
    format_srt,
    format_vtt,
    lines_between,
    lines_for_timestamps,
    load_subtitles,
    parse_lvb_json,
    parse_srt,
    parse_vtt,
    write_srt,
)

__all__ = [
    "OPEN_END_SECONDS",
    "ContextWindow",
    "Cue",
    "Subtitles",
    "asr_contexts",
    "asr_text_at",
    "clean_text",
    "format_srt",
    "format_vtt",
    "lines_between",
    "lines_for_timestamps",
    "load_subtitles",
    "parse_lvb_json",
    "parse_srt",
    "parse_vtt",
    "write_srt",
]


def __getattr__(name: str) -> object:
    # the old name of asr_text_at: still importable, with a warning
    if name == "asr_context":
        from clamr_frames.context import subtitles

        return subtitles.asr_context
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
