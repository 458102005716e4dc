"""Cue types: :class:`Cue`, the cues of one file (:class:`Subtitles`), fast time queries over them
(:class:`ContextWindow`), text cleanup, and writing cues as .srt / .vtt."""

from __future__ import annotations

import bisect
import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Length given to a JSON entry whose end is missing/null (Whisper-style open last chunk) when no
#: ``open_end``/``duration`` says where the video stops.
OPEN_END_SECONDS = 5.0


@dataclass(frozen=True)
class Cue:
    """One subtitle line: [start, end] in seconds and its plain text (markup stripped)."""

    start: float
    end: float
    text: str


def _fmt_srt_time(t: float, decimal: str = ",") -> str:
    ms = int(round(max(t, 0.0) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal}{ms:03d}"


def format_srt(cues: list[Cue]) -> str:
    """Render cues as SubRip text (numbered from 1)."""
    blocks = [
        f"{i}\n{_fmt_srt_time(c.start)} --> {_fmt_srt_time(c.end)}\n{c.text}\n" for i, c in enumerate(cues, 1)
    ]
    return "\n".join(blocks)


def format_vtt(cues: list[Cue]) -> str:
    """Render cues as WebVTT text.

    >>> print(format_vtt([Cue(1.5, 2.0, "Hi")]))
    WEBVTT
    <BLANKLINE>
    00:00:01.500 --> 00:00:02.000
    Hi
    <BLANKLINE>
    """
    blocks = [f"{_fmt_srt_time(c.start, '.')} --> {_fmt_srt_time(c.end, '.')}\n{c.text}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_srt(path: str | Path, cues: list[Cue]) -> Path:
    """Write cues as a UTF-8 .srt file."""
    path = Path(path)
    path.write_text(format_srt(cues), encoding="utf-8")
    return path


# -- text cleanup ----------------------------------------------------------------------------------
# A tag must start with a letter, "/" or a digit (WebVTT timestamp tags like <00:01.500>), so prose such
# as "a < b and c > d" survives. Tags vanish without a space ("<i>Tit</i>anic" is one word); <br> breaks.
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.,]*>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_ASS_BREAK = re.compile(r"\\[Nh]")
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"), None)


def clean_text(text: str) -> str:
    """Plain text of a cue: markup and entities resolved, whitespace collapsed, lines joined by spaces.

    >>> clean_text('<font color="white" size=".72c">Hello&nbsp;<i>world</i></font>\\n{\\\\an8}again')
    'Hello world again'
    """
    text = _TAG.sub("", _BR.sub(" ", text))
    text = _ASS_OVERRIDE.sub("", text)
    text = _ASS_BREAK.sub(" ", text)
    # Unescape after tag stripping: "&lt;i&gt;" is literal text, not a tag to remove.
    text = html.unescape(text).translate(_INVISIBLE)
    return " ".join(text.split())


@dataclass(frozen=True)
class Subtitles:
    """The cues of one subtitle file.

    Attributes:
        cues: cues sorted by (start, end).
        path: the file they came from.
        encoding: the text encoding used to decode it (``utf-8``, ``utf-8-sig``, ``utf-16-le``, ...).
        skipped: malformed cues/entries dropped while parsing.
        format: ``srt``, ``vtt`` or ``json``.
    """

    cues: tuple[Cue, ...]
    path: str
    encoding: str
    skipped: int
    format: str = ""

    def __len__(self) -> int:
        return len(self.cues)

    @property
    def window(self) -> ContextWindow:
        """A :class:`ContextWindow` over these cues (built once, then reused)."""
        w = self.__dict__.get("_context_window")
        if w is None:
            w = ContextWindow(self.cues)
            object.__setattr__(self, "_context_window", w)  # a cache, not state: the dataclass stays frozen
        return w


class ContextWindow:
    """Fast time queries over a fixed set of cues (bisect on sorted starts).

    Build it once per video and call :meth:`at` for every candidate frame: a query costs
    O(log n + cues in the window).

    >>> w = ContextWindow([Cue(0, 2, "one two"), Cue(2, 4, "three"), Cue(10, 12, "far away")])
    >>> w.at(3.0)
    'one two three'
    >>> w.at(3.0, max_words=2)
    'two three'
    """

    def __init__(self, cues: Iterable[Cue]):
        self.cues: tuple[Cue, ...] = tuple(sorted(cues, key=lambda c: (c.start, c.end)))
        self._starts = [c.start for c in self.cues]
        # Running max of ends: cues before the first index whose running max reaches `a` all end before `a`,
        # which bounds the scan even when a long cue overlaps many later ones.
        self._max_end: list[float] = []
        m = -math.inf
        for c in self.cues:
            m = max(m, c.end)
            self._max_end.append(m)
        self._words: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self.cues)

    def overlapping_indices(self, start: float, end: float) -> list[int]:
        """Indices (into ``self.cues``, time order) of cues overlapping the closed span [start, end]."""
        hi = bisect.bisect_right(self._starts, end)
        lo = bisect.bisect_left(self._max_end, start, 0, hi)
        cues = self.cues
        return [i for i in range(lo, hi) if cues[i].end >= start]

    def overlapping(self, start: float, end: float) -> list[Cue]:
        """Cues overlapping the closed span [start, end], in time order."""
        return [self.cues[i] for i in self.overlapping_indices(start, end)]

    def at(self, t: float, before: float = 3.0, after: float = 3.0, max_words: int | None = 64) -> str:
        """ASR context of time ``t``: the text of the cue(s) containing ``t`` plus the cues overlapping
        [t - before, t + after], in time order, joined with spaces.

        With ``max_words``, words farthest in time from ``t`` are dropped first (a word's time is its
        position spread evenly over its cue). The cue(s) containing ``t`` are always kept whole, so the
        result exceeds ``max_words`` only when they alone do.
        """
        t = float(t)
        if before < 0 or after < 0:
            raise ValueError(f"before/after must be >= 0, got {before}, {after}")
        if max_words is not None and max_words < 0:
            raise ValueError(f"max_words must be >= 0 or None, got {max_words}")
        idx = self.overlapping_indices(t - before, t + after)
        if not idx:
            return ""
        words = [self._split(i) for i in idx]
        total = sum(map(len, words))
        if max_words is None or total <= max_words:
            return " ".join(w for ws in words for w in ws)
        ranked: list[tuple[float, int, int]] = []  # (distance, cue slot, word position)
        keep: set[tuple[int, int]] = set()
        for slot, i in enumerate(idx):
            c, ws = self.cues[i], words[slot]
            if c.start <= t <= c.end:
                keep.update((slot, j) for j in range(len(ws)))
                continue
            step = (c.end - c.start) / len(ws)
            ranked.extend((abs(c.start + (j + 0.5) * step - t), slot, j) for j in range(len(ws)))
        ranked.sort()
        keep.update((slot, j) for _, slot, j in ranked[: max(max_words - len(keep), 0)])
        return " ".join(w for slot, ws in enumerate(words) for j, w in enumerate(ws) if (slot, j) in keep)

    def _split(self, i: int) -> list[str]:
        ws = self._words.get(i)
        if ws is None:
            ws = self._words[i] = self.cues[i].text.split()
        return ws
