"""Parsing subtitle files: SubRip, WebVTT, LongVideoBench / Whisper JSON; encodings; :func:`load_subtitles`."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

from clamr_frames.context.subtitles.cues import (
    OPEN_END_SECONDS,
    Cue,
    Subtitles,
    clean_text,
)
from clamr_frames.errors import InputError, SubtitleError

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
