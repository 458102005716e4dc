"""Subtitle cues: parsing (.srt, .vtt, Video-MME .srt, LongVideoBench JSON) and ASR context windows.

Reading a file::

    subs = load_subtitles("talk.srt")        # .srt / .vtt / .json, or sniffed from the content
    subs.cues                                # tuple of Cue(start, end, text), sorted by start
    subs.encoding, subs.skipped              # how it was decoded, how many malformed cues were dropped

Context for frames::

    window = ContextWindow(subs.cues)
    window.at(12.5)                          # cue at 12.5 s plus neighbours within +-3 s, <= 64 words
    asr_contexts(subs.cues, timestamps)      # one string per candidate frame
    lines_between(subs.cues, 10.0, 20.0)     # cues overlapping a span (e.g. the subtitle lines of a frame)

Parsing is lenient: a malformed cue (bad timing line, end before start, no text, a block of garbage) is
skipped and counted, never fatal. Only a file that cannot be read at all raises :class:`SubtitleError`.
"""

from __future__ import annotations

import warnings
from typing import Any

from clamr_frames.context.subtitles.cues import (
    OPEN_END_SECONDS,
    ContextWindow,
    Cue,
    Subtitles,
    clean_text,
    format_srt,
    format_vtt,
    write_srt,
)
from clamr_frames.context.subtitles.parse import (
    load_subtitles,
    parse_lvb_json,
    parse_srt,
    parse_vtt,
)
from clamr_frames.context.subtitles.window import (
    asr_contexts,
    asr_text_at,
    lines_between,
    lines_for_timestamps,
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


def __getattr__(name: str) -> Any:
    # the old name of asr_text_at (three functions were called asr_context): still importable, with a warning
    if name == "asr_context":
        warnings.warn("clamr_frames.context.subtitles.asr_context is now asr_text_at", DeprecationWarning, stacklevel=2)
        return asr_text_at
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
