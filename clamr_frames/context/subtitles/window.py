"""The ASR text of frames: the cues around a timestamp (:func:`asr_text_at`, :func:`asr_contexts`) and the subtitle
lines of a span or a set of frames."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence

from clamr_frames.context.subtitles.cues import ContextWindow, Cue, Subtitles

# One cached window for the last cue sequence seen, so that 3,600 asr_text_at calls on the same cues do not
# re-sort them each time. Cues are frozen, so the same cue objects in the same order mean the same window;
# the cache keeps its own tuple of them, which also keeps their ids from being reused.
_last_window: tuple[tuple[Cue, ...], ContextWindow] | None = None


def _window(cues: Iterable[Cue] | Subtitles | ContextWindow) -> ContextWindow:
    global _last_window
    if isinstance(cues, ContextWindow):
        return cues
    if isinstance(cues, Subtitles):
        return cues.window
    seq = cues if isinstance(cues, (tuple, list)) else tuple(cues)
    cached = _last_window
    if cached is not None:
        src, w = cached
        if src is seq or (len(src) == len(seq) and all(map(operator.is_, src, seq))):
            return w
    w = ContextWindow(seq)
    _last_window = (tuple(seq), w)
    return w


def asr_text_at(
    cues: Sequence[Cue] | Subtitles | ContextWindow,
    t: float,
    before: float = 3.0,
    after: float = 3.0,
    max_words: int | None = 64,
) -> str:
    """The ASR text of a frame at ``t`` seconds: the cues around ``t`` (see :meth:`ContextWindow.at`).

    For many frames prefer :func:`asr_contexts` or a :class:`ContextWindow`. Repeated calls with the same cues
    reuse one cached index (checking a list costs O(n) identity comparisons; a ``ContextWindow``,
    ``Subtitles`` or the same tuple costs nothing).

    >>> asr_text_at([Cue(0, 2, "hello"), Cue(2.5, 4, "world"), Cue(9, 10, "later")], 1.0)
    'hello world'
    """
    return _window(cues).at(t, before, after, max_words)


def asr_contexts(
    cues: Sequence[Cue] | Subtitles | ContextWindow,
    timestamps: Iterable[float],
    before: float = 3.0,
    after: float = 3.0,
    max_words: int | None = 64,
) -> list[str]:
    """:func:`asr_text_at` for every timestamp (a list, NumPy array or 1-D tensor), indexing the cues once."""
    w = _window(cues)
    return [w.at(float(t), before, after, max_words) for t in timestamps]


def lines_between(cues: Sequence[Cue] | Subtitles | ContextWindow, start: float, end: float) -> list[Cue]:
    """Cues overlapping the closed span [start, end], in time order."""
    return _window(cues).overlapping(start, end)


def lines_for_timestamps(
    cues: Sequence[Cue] | Subtitles | ContextWindow,
    timestamps: Iterable[float],
    before: float = 0.0,
    after: float = 0.0,
) -> list[Cue]:
    """The subtitle lines of a set of frames: cues overlapping any [t - before, t + after], each once, in time
    order. With the defaults, the lines on screen at the selected frames (as lmms-eval's Video-MME task
    picks them for its sampled frames).

    >>> cues = [Cue(0, 2, "a"), Cue(2.5, 4, "b"), Cue(5, 6, "c")]
    >>> [c.text for c in lines_for_timestamps(cues, [5.5, 1.0, 1.5])]
    ['a', 'c']
    """
    w = _window(cues)
    picked: set[int] = set()
    for t in timestamps:
        t = float(t)
        picked.update(w.overlapping_indices(t - before, t + after))
    return [w.cues[i] for i in sorted(picked)]
