"""Per-frame context: subtitle (ASR) text around a timestamp; OCR lives in ``clamr_frames.context.ocr``."""

from clamr_frames.context.subtitles import (
    OPEN_END_SECONDS,
    ContextWindow,
    Cue,
    Subtitles,
    asr_context,
    asr_contexts,
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
    "asr_context",
    "asr_contexts",
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
