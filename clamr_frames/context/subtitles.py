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

import bisect
import html
import json
import math
import operator
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clamr_frames.errors import InputError, SubtitleError

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


# -- timestamps ------------------------------------------------------------------------------------
# [h:]mm:ss[.,]fff -- hours optional (WebVTT mm:ss.ttt), 1-9 fraction digits ("01.5" is 1.5 s).
_TS = r"(?:(\d{1,9}):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,9}))?"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s|$)")
_TS_FULL = re.compile(rf"^\s*{_TS}\s*$")


def _ts_seconds(h: str | None, m: str, s: str, frac: str | None) -> float | None:
    mi, se = int(m), int(s)
    if mi >= 60 or se >= 60:
        return None
    whole = int(h or 0) * 3600 + mi * 60 + se
    if not frac:
        return float(whole)
    # One division of exact integers: 3.72 parses to the float nearest 3.72, not 3 + 0.72 = 3.7199999999999998.
    return (whole * 10 ** len(frac) + int(frac)) / 10 ** len(frac)


def _parse_timing(line: str) -> tuple[float, float] | None:
    m = _TIMING.match(line)
    if m is None:
        return None
    g = m.groups()
    start, end = _ts_seconds(*g[:4]), _ts_seconds(*g[4:])
    if start is None or end is None:
        return None
    return start, end


def _parse_time_value(value: Any) -> float | None:
    """Seconds from a JSON time: a number, or a string "HH:MM:SS.fff" / "MM:SS.fff" / "12.5"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            v = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        m = _TS_FULL.match(value)
        if m is not None:
            v = _ts_seconds(*m.groups())
            if v is None:
                return None
        else:
            try:
                v = float(value.strip().replace(",", "."))
            except ValueError:
                return None
    else:
        return None
    return v if math.isfinite(v) and v >= 0 else None


# -- SubRip / WebVTT -------------------------------------------------------------------------------
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_VTT_META_BLOCK = re.compile(r"^(?:NOTE|STYLE|REGION)(?:[ \t]|$)")


def _blocks(text: str) -> list[list[str]]:
    """Runs of non-blank lines (blank = empty or whitespace only)."""
    blocks: list[list[str]] = []
    cur: list[str] = []
    for line in _LINE_BREAK.split(text):
        if line.strip():
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def _parse_cue_blocks(text: str, *, vtt: bool) -> tuple[list[Cue], int]:
    cues: list[Cue] = []
    skipped = 0
    blocks = _blocks(text.lstrip("\ufeff"))
    for bi, block in enumerate(blocks):
        if vtt and (_VTT_META_BLOCK.match(block[0]) or (bi == 0 and block[0].startswith("WEBVTT"))):
            # Header (and its metadata lines), comments, style sheets, regions. A header run straight into
            # a cue without a blank line is tolerated: its timing lines are still read below.
            if not any("-->" in ln for ln in block):
                continue
        timing_at = [i for i, ln in enumerate(block) if "-->" in ln]
        if not timing_at:
            skipped += 1  # garbage, or text orphaned by a stray blank line
            continue
        # Lines before the first timing line are the cue number (SRT) or identifier (VTT): not text.
        for k, ti in enumerate(timing_at):
            stop = timing_at[k + 1] if k + 1 < len(timing_at) else len(block)
            body = block[ti + 1 : stop]
            # Two cues with no blank line between them: the next cue's number closes this one's text.
            if k + 1 < len(timing_at) and body and body[-1].strip().isdigit():
                body = body[:-1]
            timing = _parse_timing(block[ti])
            content = clean_text("\n".join(body))
            if timing is None or timing[1] < timing[0] or not content:
                skipped += 1
                continue
            cues.append(Cue(timing[0], timing[1], content))
    return cues, skipped


def parse_srt(text: str) -> tuple[list[Cue], int]:
    """Parse SubRip text (also Video-MME's .srt, whose lines sit inside ``<font ...>`` tags).

    Returns:
        (cues in file order, number of malformed cues/blocks skipped). Never raises on bad input.

    >>> parse_srt("1\\n00:00:01,000 --> 00:00:02,500\\n<i>Hi</i> there\\n")
    ([Cue(start=1.0, end=2.5, text='Hi there')], 0)
    """
    return _parse_cue_blocks(text, vtt=False)


def parse_vtt(text: str) -> tuple[list[Cue], int]:
    """Parse WebVTT text: header, NOTE/STYLE/REGION blocks, cue identifiers, cue settings after the timing,
    ``<c>``/``<v Speaker>``/timestamp tags, and ``mm:ss.ttt`` timings.

    Returns:
        (cues in file order, number of malformed cues/blocks skipped). Never raises on bad input.

    >>> parse_vtt("WEBVTT\\n\\nintro\\n00:01.000 --> 00:02.000 align:start\\n<v Ann>Hello</v>\\n")
    ([Cue(start=1.0, end=2.0, text='Hello')], 0)
    """
    return _parse_cue_blocks(text, vtt=True)


# -- LongVideoBench / Whisper JSON -----------------------------------------------------------------
_JSON_LIST_KEYS = ("subtitles", "segments", "chunks", "cues")


def parse_lvb_json(obj: Any, *, open_end: float | None = None) -> tuple[list[Cue], int]:
    """Parse a decoded JSON subtitle list.

    Accepted entries (LongVideoBench ships both; Whisper/transformers ASR output uses the latter two):

    - ``{"start": "00:00:01.234", "end": "00:00:03.000", "line": "text"}`` (times may also be numbers),
    - ``{"timestamp": [1.2, 3.0], "text": "text"}``, where the end may be null (open last chunk),
    - ``{"start": 1.2, "end": 3.0, "text": "text"}``.

    The top level is a list of entries, or a dict holding one under ``subtitles``/``segments``/``chunks``/
    ``cues``.

    Args:
        obj: the value ``json.load`` returned.
        open_end: end time given to an entry whose end is null (e.g. the video's duration); without it such
            an entry lasts :data:`OPEN_END_SECONDS`.

    Returns:
        (cues in list order, number of malformed entries skipped). Never raises on bad input; a top level
        that is not a list counts as one skipped entry.
    """
    if isinstance(obj, dict):
        obj = next((obj[k] for k in _JSON_LIST_KEYS if isinstance(obj.get(k), list)), None)
    if not isinstance(obj, list):
        return [], 1
    cues: list[Cue] = []
    skipped = 0
    for entry in obj:
        cue = _lvb_entry(entry, open_end)
        if cue is None:
            skipped += 1
        else:
            cues.append(cue)
    return cues, skipped


def _lvb_entry(entry: Any, open_end: float | None) -> Cue | None:
    if not isinstance(entry, dict):
        return None
    raw = entry.get("line")
    if not isinstance(raw, str):
        raw = entry.get("text")
    if not isinstance(raw, str):
        return None
    text = clean_text(raw)
    if not text:
        return None
    if "timestamp" in entry:
        ts = entry["timestamp"]
        if not isinstance(ts, (list, tuple)) or len(ts) != 2:
            return None
        raw_start, raw_end = ts
    else:
        raw_start, raw_end = entry.get("start"), entry.get("end")
    start = _parse_time_value(raw_start)
    if start is None:
        return None
    if raw_end is None:
        end = max(start, open_end) if open_end is not None and math.isfinite(open_end) else start + OPEN_END_SECONDS
    else:
        end = _parse_time_value(raw_end)
    if end is None or end < start or not math.isfinite(end):
        return None
    return Cue(start, end, text)


# -- files -----------------------------------------------------------------------------------------
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


def _decode(data: bytes, path: str) -> tuple[str, str]:
    """(text, encoding name): BOMs first, then BOM-less UTF-16 (NUL bytes), UTF-8, then 8-bit fallbacks."""
    boms = (
        (b"\xef\xbb\xbf", "utf-8-sig", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32-le", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32-be", "utf-32"),
        (b"\xff\xfe", "utf-16-le", "utf-16"),
        (b"\xfe\xff", "utf-16-be", "utf-16"),
    )
    for bom, name, codec in boms:
        if data.startswith(bom):
            try:
                return data.decode(codec), name
            except UnicodeDecodeError:
                break  # a BOM-like prefix on something else: keep guessing
    head = data[:4096]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if max(even, odd) > len(head) // 8:
        # ASCII-range text in UTF-16 has a NUL in every other byte: odd positions for LE, even for BE. A
        # stray NUL in UTF-8 text does not reach the threshold. A dangling odd byte is a truncated file.
        even_bytes = data[: len(data) - len(data) % 2]
        for codec in ("utf-16-le", "utf-16-be") if odd >= even else ("utf-16-be", "utf-16-le"):
            try:
                return even_bytes.decode(codec), codec
            except UnicodeDecodeError:
                pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8. Windows-1252 is latin-1 plus printable quotes/dashes in 0x80-0x9F (what Windows subtitle
    # tools write); bytes it leaves undefined fall back to latin-1, which decodes anything.
    for codec in ("cp1252", "latin-1"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        warnings.warn(f"{path}: not valid UTF-8 or UTF-16; decoded as {codec}", UnicodeWarning, stacklevel=3)
        return text, codec
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def _detect_format(text: str, suffix: str) -> str | None:
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT"):
        return "vtt"  # some ".srt" files are really WebVTT
    if suffix in (".srt", ".vtt", ".json"):
        return suffix[1:]
    if head[:1] in ("[", "{"):
        return "json"
    if "-->" in head:
        return "srt"
    return None


def load_subtitles(path: str | Path, *, offset: float = 0.0, duration: float | None = None) -> Subtitles:
    """Read a subtitle file: SubRip (.srt, incl. Video-MME's), WebVTT (.vtt) or a JSON subtitle list (.json,
    LongVideoBench / Whisper). Other extensions are sniffed from the content.

    Args:
        path: the subtitle file.
        offset: seconds subtracted from every cue, for subtitles timed on a longer source than the video
            (LongVideoBench's ``starting_timestamp_for_subtitles``). Cues ending before 0 are dropped;
            a cue straddling 0 is clipped to start at 0.
        duration: the video's length in seconds; closes a JSON entry whose end is null.

    Returns:
        :class:`Subtitles` with cues sorted by start. An empty (or whitespace-only) file, a WebVTT file with
        only a header, or an empty JSON list gives zero cues and no error.

    Raises:
        InputError: ``offset`` or ``duration`` is not finite.
        SubtitleError: the file is missing, a directory or unreadable; it is invalid JSON; its format is not
            recognised; or it has content but not one valid cue (every cue malformed).

    Warns:
        UnicodeWarning: the file was not UTF-8/UTF-16 and was decoded as cp1252 or latin-1.
    """
    if not math.isfinite(offset) or (duration is not None and not math.isfinite(duration)):
        raise InputError(f"load_subtitles: offset and duration must be finite, got {offset}, {duration}")
    p = Path(path)
    if not p.exists():
        raise SubtitleError(p, "file not found")
    if p.is_dir():
        raise SubtitleError(p, "is a directory, expected a subtitle file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise SubtitleError(p, f"cannot read ({type(e).__name__}: {e.strerror or e})") from e
    text, encoding = _decode(data, str(p))
    fmt = _detect_format(text, p.suffix.lower())
    if not text.replace("\ufeff", "").replace("\x00", "").strip():
        return Subtitles((), str(p), encoding, 0, fmt or "")
    if fmt is None:
        raise SubtitleError(p, "unrecognised subtitle format: not WebVTT, JSON, or SubRip ('-->' timing lines)")
    if fmt == "json":
        try:
            obj = json.loads(text.lstrip("\ufeff"))
        except (ValueError, RecursionError) as e:
            raise SubtitleError(p, f"invalid JSON ({e})") from None
        open_end = duration + offset if duration is not None else None
        cues, skipped = parse_lvb_json(obj, open_end=open_end)
        has_list = isinstance(obj, list) or (
            isinstance(obj, dict) and any(isinstance(obj.get(k), list) for k in _JSON_LIST_KEYS)
        )
        if not has_list:
            keys = "/".join(_JSON_LIST_KEYS)
            raise SubtitleError(p, f"JSON is not a list of subtitle entries (nor a dict with {keys})")
    else:
        cues, skipped = (parse_vtt if fmt == "vtt" else parse_srt)(text)
    if not cues and skipped:
        raise SubtitleError(p, f"no valid {fmt} cue: all {skipped} cues/blocks are malformed")
    if offset:
        cues = [Cue(max(c.start - offset, 0.0), c.end - offset, c.text) for c in cues if c.end - offset >= 0]
    cues.sort(key=lambda c: (c.start, c.end))
    return Subtitles(tuple(cues), str(p), encoding, skipped, fmt)


# -- context windows -------------------------------------------------------------------------------
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


def __getattr__(name: str) -> Any:
    # the old name of asr_text_at (three functions were called asr_context): still importable, with a warning
    if name == "asr_context":
        warnings.warn("clamr_frames.context.subtitles.asr_context is now asr_text_at", DeprecationWarning, stacklevel=2)
        return asr_text_at
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
