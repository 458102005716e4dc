"""Subtitle parsing (.srt, Video-MME .srt, .vtt, LongVideoBench JSON), encodings, and ASR context windows."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamr_frames.context import (
    OPEN_END_SECONDS,
    ContextWindow,
    Cue,
    Subtitles,
    asr_text_at,
    asr_contexts,
    clean_text,
    format_srt,
    lines_between,
    lines_for_timestamps,
    load_subtitles,
    parse_lvb_json,
    parse_srt,
    parse_vtt,
    write_srt,
)
from clamr_frames.errors import InputError, SubtitleError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Video-MME subtitle files: every line wrapped in lmms-eval's <font> tag, CRLF endings in some files.
VIDEOMME_SRT = (
    "1\r\n"
    "00:00:00,000 --> 00:00:03,720\r\n"
    '<font color="white" size=".72c">in the early 1900s the world&#39;s</font>\r\n'
    "\r\n"
    "2\r\n"
    "00:00:03,720 --> 00:00:06,480\r\n"
    '<font color="white" size=".72c">largest ship was built in</font>\r\n'
    '<font color="white" size=".72c">Belfast [Music]</font>\r\n'
    "\r\n"
    "3\r\n"
    "00:01:02,050 --> 01:00:00,000\r\n"
    '<font color="white" size=".72c">{\\an8}the <b>Titanic</b> &amp; her sisters</font>\r\n'
)

WEBVTT = """WEBVTT
Kind: captions
Language: en

NOTE This file was made by hand
it has a multi-line comment

STYLE
::cue(.yellow) { color: yellow; }

REGION
id:fred width:40%

intro
00:00:01.000 --> 00:00:04.000 align:start position:10% line:0
<v Roger Bingham>We are in New York City

2
00:04.500 --> 00:06.250
<c.yellow>We're actually</c> at the <00:00:05.000><c>Lucern</c> Hotel,
just down the street

01:00:00.000 --> 01:00:02.000 vertical:rl
&lt;not a tag&gt; from&nbsp;the <i>Amer</i>ican<br/>Museum
"""

LVB_STRING_TIMES = [
    {"start": "00:00:01.234", "end": "00:00:03.5", "line": "Welcome back to the channel."},
    {"start": "00:00:03.500", "end": "00:01:00.000", "line": "Today we're\nbuilding a shed."},
    {"start": "00:01:00.000", "end": "00:01:02.000", "line": "<i>Music</i>"},
]
LVB_TIMESTAMP_LISTS = [
    {"timestamp": [0.0, 2.5], "text": " Hello there."},
    {"timestamp": [2.5, 6.0], "text": " General Kenobi."},
    {"timestamp": [6.0, None], "text": " You are a bold one."},
]


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


# -- text cleanup ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, want",
    [
        ('<font color="white" size=".72c">Hi</font>', "Hi"),
        ("<i>a</i> <b>b</b> <u>c</u>", "a b c"),
        ("{\\an8}top {\\pos(10,20)\\c&H00FF00&}green", "top green"),
        ("line one\\Nline two", "line one line two"),
        ("Tom &amp; Jerry&nbsp;&#8212;&quot;ok&quot;", 'Tom & Jerry —"ok"'),
        ("&lt;b&gt;literal&lt;/b&gt;", "<b>literal</b>"),
        ("if a < b and c > d", "if a < b and c > d"),
        ("  many \t spaces\n\nand\r\nlines ", "many spaces and lines"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("<v.loud Ann>Hey</v> <00:00:01.000>you", "Hey you"),
    ],
)
def test_clean_text(raw: str, want: str) -> None:
    assert clean_text(raw) == want


# -- SubRip ----------------------------------------------------------------------------------------
def test_parse_videomme_srt() -> None:
    cues, skipped = parse_srt(VIDEOMME_SRT)
    assert skipped == 0
    assert cues == [
        Cue(0.0, 3.72, "in the early 1900s the world's"),
        Cue(3.72, 6.48, "largest ship was built in Belfast [Music]"),
        Cue(62.05, 3600.0, "the Titanic & her sisters"),
    ]


def test_parse_srt_lenient_layouts() -> None:
    text = (
        "1\n00:00:01.5 --> 00:00:02,25  X1:100 X2:200 Y1:1 Y2:2\nperiod and comma, coordinates\n"
        "2\n0:00:03,000-->0:00:04,000\nno blank line before this cue, no spaces round the arrow\n\n\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\nlast cue, no trailing newline"
    )
    cues, skipped = parse_srt(text)
    assert skipped == 0
    assert [(c.start, c.end) for c in cues] == [(1.5, 2.25), (3.0, 4.0), (5.0, 6.0)]
    assert cues[0].text == "period and comma, coordinates"
    assert cues[1].text == "no blank line before this cue, no spaces round the arrow"


def test_parse_srt_malformed_cues_are_counted() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\ngood one\n\n"
        "2\n00:00:0x,000 --> 00:00:03,000\nbad timing\n\n"
        "3\n00:00:05,000 --> 00:00:04,000\nends before it starts\n\n"
        "4\n00:00:06,000 --> 00:00:07,000\n\n"  # no text
        "5\n00:00:08,000 --> 00:00:09,000\n<i></i>{\\an8}\n\n"  # only markup
        "some random garbage\nthat is not a cue\n\n"
        "7\n00:00:99,000 --> 00:01:00,000\nseconds out of range\n\n"
        "8\n00:00:10,000 --> 00:00:10,000\nzero length is fine\n"
    )
    cues, skipped = parse_srt(text)
    assert [c.text for c in cues] == ["good one", "zero length is fine"]
    assert skipped == 6


def test_parse_srt_empty_and_blank() -> None:
    assert parse_srt("") == ([], 0)
    assert parse_srt("\n \n\t\n") == ([], 0)


# -- WebVTT ----------------------------------------------------------------------------------------
def test_parse_vtt_features() -> None:
    cues, skipped = parse_vtt(WEBVTT)
    assert skipped == 0
    assert cues == [
        Cue(1.0, 4.0, "We are in New York City"),
        Cue(4.5, 6.25, "We're actually at the Lucern Hotel, just down the street"),
        Cue(3600.0, 3602.0, "<not a tag> from the American Museum"),
    ]


def test_parse_vtt_header_without_blank_line_and_bad_cues() -> None:
    text = (
        "\ufeffWEBVTT - a title\n00:00.000 --> 00:01.000\nright after the header\n\n"
        "00:02.000 --> 00:01.000\nbackwards\n\n"
        "NOTE\n\njunk block\n\n"
        "00:03.000 --> 00:04.000\nok\n"
    )
    cues, skipped = parse_vtt(text)
    assert [c.text for c in cues] == ["right after the header", "ok"]
    assert skipped == 2
    assert parse_vtt("WEBVTT\n\nNOTE nothing yet\n") == ([], 0)


# -- LongVideoBench / Whisper JSON -----------------------------------------------------------------
def test_parse_lvb_json_string_times() -> None:
    cues, skipped = parse_lvb_json(LVB_STRING_TIMES)
    assert skipped == 0
    assert cues == [
        Cue(1.234, 3.5, "Welcome back to the channel."),
        Cue(3.5, 60.0, "Today we're building a shed."),
        Cue(60.0, 62.0, "Music"),
    ]


def test_parse_lvb_json_timestamp_lists_and_open_end() -> None:
    cues, skipped = parse_lvb_json(LVB_TIMESTAMP_LISTS)
    assert skipped == 0
    assert [c.text for c in cues] == ["Hello there.", "General Kenobi.", "You are a bold one."]
    assert cues[2] == Cue(6.0, 6.0 + OPEN_END_SECONDS, "You are a bold one.")
    assert parse_lvb_json(LVB_TIMESTAMP_LISTS, open_end=30.0)[0][2].end == 30.0
    assert parse_lvb_json(LVB_TIMESTAMP_LISTS, open_end=1.0)[0][2].end == 6.0  # never before its start


def test_parse_lvb_json_other_shapes_and_malformed() -> None:
    segments = {"text": "whole", "segments": [{"id": 0, "start": 0.5, "end": 1.5, "text": "whisper seg"}]}
    assert parse_lvb_json(segments) == ([Cue(0.5, 1.5, "whisper seg")], 0)
    assert parse_lvb_json({"chunks": [{"timestamp": [1, 2], "text": "hf asr"}]}) == ([Cue(1.0, 2.0, "hf asr")], 0)
    entries = [
        {"start": 1, "end": 2, "line": "ok"},
        {"start": "00:00:03", "end": "00:00:02", "line": "end before start"},
        {"start": "soon", "end": 5, "line": "bad start"},
        {"start": 5, "end": 6},  # no text
        {"start": 5, "end": 6, "line": 42},  # text not a string
        {"timestamp": [1.0], "text": "one number"},
        {"timestamp": [True, 2.0], "text": "bool is not a time"},
        {"start": -1, "end": 1, "line": "negative"},
        {"start": 1e400, "end": 2, "line": "inf"},
        "just a string",
        None,
    ]
    cues, skipped = parse_lvb_json(entries)
    assert cues == [Cue(1.0, 2.0, "ok")]
    assert skipped == len(entries) - 1
    assert parse_lvb_json({"foo": 1}) == ([], 1)
    assert parse_lvb_json("text") == ([], 1)
    assert parse_lvb_json([]) == ([], 0)


# -- files: dispatch, sorting, offsets -------------------------------------------------------------
def test_load_dispatch_by_extension_and_sniffing(tmp_path: Path) -> None:
    srt = load_subtitles(_write(tmp_path, "v.srt", VIDEOMME_SRT))
    assert (srt.format, len(srt), srt.encoding, srt.skipped) == ("srt", 3, "utf-8", 0)
    assert isinstance(srt, Subtitles) and isinstance(srt.cues, tuple)
    vtt = load_subtitles(_write(tmp_path, "v.vtt", WEBVTT))
    assert (vtt.format, len(vtt)) == ("vtt", 3)
    lvb = load_subtitles(_write(tmp_path, "v_en.json", json.dumps(LVB_STRING_TIMES)))
    assert (lvb.format, len(lvb)) == ("json", 3)
    # Unknown or misleading extensions are sniffed from the content.
    assert load_subtitles(_write(tmp_path, "a.txt", VIDEOMME_SRT)).format == "srt"
    assert load_subtitles(_write(tmp_path, "b", WEBVTT)).format == "vtt"
    assert load_subtitles(_write(tmp_path, "c.vtt.srt", WEBVTT)).format == "vtt"
    assert load_subtitles(_write(tmp_path, "d.subs", json.dumps(LVB_TIMESTAMP_LISTS))).format == "json"
    assert srt.path == str(tmp_path / "v.srt")


def test_load_sorts_cues_by_start(tmp_path: Path) -> None:
    cues = [Cue(5, 6, "third"), Cue(1, 2, "first"), Cue(3, 4, "second"), Cue(1, 1.5, "zeroth")]
    subs = load_subtitles(write_srt(tmp_path / "x.srt", cues))
    assert [c.text for c in subs.cues] == ["zeroth", "first", "second", "third"]


def test_load_lvb_offset_and_duration(tmp_path: Path) -> None:
    entries = [
        {"timestamp": [90.0, 99.0], "text": "before the clip"},
        {"timestamp": [99.0, 101.0], "text": "straddles the start"},
        {"timestamp": [110.0, 112.5], "text": "inside"},
        {"timestamp": [130.0, None], "text": "open end"},
    ]
    p = _write(tmp_path, "lvb.json", json.dumps(entries))
    subs = load_subtitles(p, offset=100.0, duration=60.0)
    assert subs.cues == (Cue(0.0, 1.0, "straddles the start"), Cue(10.0, 12.5, "inside"), Cue(30.0, 60.0, "open end"))
    with pytest.raises(InputError):
        load_subtitles(p, offset=float("nan"))


# -- encodings -------------------------------------------------------------------------------------
SAMPLE = (
    "1\n00:00:01,000 --> 00:00:02,000\nCafé crème — naïve “quotes”\n\n"
    "2\n00:00:03,000 --> 00:00:04,000\nSecond\n"
)


@pytest.mark.parametrize(
    "data, encoding",
    [
        (SAMPLE.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + SAMPLE.encode("utf-8"), "utf-8-sig"),
        (b"\xff\xfe" + SAMPLE.encode("utf-16-le"), "utf-16-le"),
        (b"\xfe\xff" + SAMPLE.encode("utf-16-be"), "utf-16-be"),
        (SAMPLE.encode("utf-16-le"), "utf-16-le"),  # no BOM: found by its NUL bytes
        (SAMPLE.encode("utf-16-be"), "utf-16-be"),
        (SAMPLE.replace("\n", "\r\n").encode("utf-16"), "utf-16-le"),  # Python's utf-16 writes a BOM
        (b"\xff\xfe\x00\x00" + SAMPLE.encode("utf-32-le"), "utf-32-le"),
    ],
)
def test_encodings(tmp_path: Path, data: bytes, encoding: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        subs = load_subtitles(_write(tmp_path, "e.srt", data))
    assert subs.encoding == encoding
    assert [c.text for c in subs.cues] == ["Café crème — naïve “quotes”", "Second"]


def test_8bit_fallback_warns_with_the_file_name(tmp_path: Path) -> None:
    # Windows-1252: curly quotes live in 0x80-0x9F, which latin-1 would turn into control characters.
    p = _write(tmp_path, "win.srt", SAMPLE.encode("cp1252"))
    with pytest.warns(UnicodeWarning, match="win.srt.*cp1252"):
        subs = load_subtitles(p)
    assert subs.encoding == "cp1252"
    assert subs.cues[0].text == "Café crème — naïve “quotes”"
    # 0x81 is undefined in cp1252: latin-1, which decodes any byte, is the last resort.
    p = _write(tmp_path, "odd.srt", "1\n00:00:01,000 --> 00:00:02,000\nCafé\x81\n".encode("latin-1"))
    with pytest.warns(UnicodeWarning, match="odd.srt.*latin-1"):
        subs = load_subtitles(p)
    assert subs.encoding == "latin-1"
    assert subs.cues[0].text == "Café\x81"


# -- errors and empty files ------------------------------------------------------------------------
def test_errors_name_the_file(tmp_path: Path) -> None:
    cases = {
        tmp_path / "missing.srt": "not found",
        tmp_path: "directory",
        _write(tmp_path, "garbage.srt", "this is\nnot a subtitle file\n"): "malformed",
        _write(tmp_path, "notes.txt", "just some notes"): "unrecognised",
        _write(tmp_path, "bad.json", "[{'start': 1}"): "invalid JSON",
        _write(tmp_path, "obj.json", '{"title": "x"}'): "not a list",
        _write(tmp_path, "allbad.json", '[{"start": 2, "end": 1, "line": "x"}, 3]'): "all 2",
        _write(tmp_path, "allbad.vtt", "WEBVTT\n\n00:00.000 --> xx\ntext\n"): "malformed",
    }
    for path, reason in cases.items():
        with pytest.raises(SubtitleError, match=reason) as info:
            load_subtitles(path)
        assert info.value.path == str(path)


@pytest.mark.parametrize(
    "name, data, fmt",
    [
        ("empty.srt", b"", "srt"),
        ("blank.srt", b"\n\r\n  \n", "srt"),
        ("bom.srt", b"\xef\xbb\xbf", "srt"),
        ("header.vtt", b"WEBVTT\n\nNOTE empty\n", "vtt"),
        ("empty.json", b"[]", "json"),
        ("nosegs.json", b'{"text": "", "segments": []}', "json"),
        ("empty.txt", b"", ""),
    ],
)
def test_empty_files_give_no_cues_and_no_error(tmp_path: Path, name: str, data: bytes, fmt: str) -> None:
    subs = load_subtitles(_write(tmp_path, name, data))
    assert (subs.cues, subs.skipped, subs.format) == ((), 0, fmt)


def test_partly_malformed_file_loads_and_counts(tmp_path: Path) -> None:
    text = VIDEOMME_SRT + "\n4\n00:02:00,000 --> 00:01:00,000\nbackwards\n\ngarbage\n"
    subs = load_subtitles(_write(tmp_path, "p.srt", text))
    assert (len(subs), subs.skipped) == (3, 2)


# -- context windows -------------------------------------------------------------------------------
CUES = [
    Cue(0.0, 2.0, "a0 a1"),
    Cue(2.0, 4.0, "b0 b1 b2 b3"),
    Cue(5.0, 6.0, "c0"),
    Cue(6.5, 9.0, "d0 d1 d2 d3 d4"),
    Cue(20.0, 21.0, "e0"),
]


def test_asr_context_window_semantics() -> None:
    assert asr_text_at(CUES, 5.5) == "b0 b1 b2 b3 c0 d0 d1 d2 d3 d4"  # [2.5, 8.5]
    assert asr_text_at(CUES, 5.5, before=0, after=0) == "c0"
    assert asr_text_at(CUES, 5.5, before=1.5, after=0.5) == "b0 b1 b2 b3 c0"  # [4.0, 6.0]: closed bounds
    assert asr_text_at(CUES, 4.5, before=0, after=0) == ""  # in a gap, nothing on screen
    assert asr_text_at(CUES, 4.5, before=0.5, after=0.5) == "b0 b1 b2 b3 c0"
    assert asr_text_at(CUES, 15.0) == ""
    assert asr_text_at(CUES, 2.0, before=0, after=0) == "a0 a1 b0 b1 b2 b3"  # both cues contain t = 2
    assert asr_text_at([], 3.0) == ""
    assert asr_text_at(list(reversed(CUES)), 5.5) == asr_text_at(CUES, 5.5)  # time order, whatever the input


def test_asr_context_max_words_trims_farthest_first() -> None:
    # t = 5.5: c0 is at t; b's words sit at 2.25..3.75 s, d's at 6.75..8.75 s.
    assert asr_text_at(CUES, 5.5, max_words=1) == "c0"
    assert asr_text_at(CUES, 5.5, max_words=3) == "b3 c0 d0"
    assert asr_text_at(CUES, 5.5, max_words=5) == "b2 b3 c0 d0 d1"
    assert asr_text_at(CUES, 5.5, max_words=8) == "b1 b2 b3 c0 d0 d1 d2 d3"
    assert asr_text_at(CUES, 5.5, max_words=None) == asr_text_at(CUES, 5.5, max_words=100)
    # The cue at t is kept whole even when it alone exceeds the budget.
    assert asr_text_at(CUES, 7.0, max_words=2) == "d0 d1 d2 d3 d4"
    assert asr_text_at(CUES, 7.0, max_words=0) == "d0 d1 d2 d3 d4"
    assert asr_text_at(CUES, 4.5, max_words=0) == ""
    with pytest.raises(ValueError):
        asr_text_at(CUES, 1.0, before=-1)


def test_asr_contexts_matches_single_calls_and_accepts_arrays() -> None:
    np = pytest.importorskip("numpy")
    ts = np.linspace(0, 22, 45)
    many = asr_contexts(CUES, ts, before=1.0, after=2.0, max_words=4)
    assert many == [asr_text_at(CUES, float(t), before=1.0, after=2.0, max_words=4) for t in ts]
    subs = Subtitles(tuple(CUES), "mem", "utf-8", 0)
    assert asr_contexts(subs, ts) == asr_contexts(ContextWindow(CUES), ts) == asr_contexts(tuple(CUES), ts)
    assert subs.window is subs.window


def test_long_cue_overlapping_later_ones_is_found() -> None:
    cues = [Cue(0, 100, "narrator")] + [Cue(float(i), i + 0.5, f"w{i}") for i in range(1, 50)]
    assert asr_text_at(cues, 40.2, before=0, after=0) == "narrator w40"
    assert [c.text for c in lines_between(cues, 99.0, 200.0)] == ["narrator"]


def test_lines_between_and_for_timestamps() -> None:
    assert [c.text[:2] for c in lines_between(CUES, 3.0, 6.5)] == ["b0", "c0", "d0"]
    assert lines_between(CUES, 10.0, 19.9) == []
    assert lines_between(CUES, 21.0, 30.0) == [CUES[4]]
    picked = lines_for_timestamps(CUES, [20.5, 1.0, 1.5, 4.5])
    assert [c.text[:2] for c in picked] == ["a0", "e0"]
    picked = lines_for_timestamps(CUES, [4.5], before=0.5, after=0.5)
    assert [c.text[:2] for c in picked] == ["b0", "c0"]


def test_context_for_an_hour_of_frames() -> None:
    rng = random.Random(0)
    cues, t = [], 0.0
    for i in range(1000):
        d = rng.uniform(1, 5)
        cues.append(Cue(t, t + d, " ".join(f"w{i}_{j}" for j in range(rng.randint(3, 15)))))
        t += d + rng.uniform(0, 1)
    stamps = [i * t / 3600 for i in range(3600)]
    out = asr_contexts(cues, stamps)
    single = [asr_text_at(cues, s) for s in stamps]
    assert out == single


# -- properties ------------------------------------------------------------------------------------
_CHARS = st.characters(blacklist_categories=("Cc", "Cs", "Cf"), blacklist_characters="<>{}&\\")
_LINE = st.text(_CHARS, min_size=1, max_size=20).filter(lambda s: s.strip() != "")
_TEXT = st.lists(_LINE, min_size=1, max_size=3).map("\n".join)
_CUE = st.builds(
    lambda start, dur, text: Cue(start, start + dur, text),
    st.floats(0, 1e6, allow_nan=False),
    st.floats(0, 1e4, allow_nan=False),
    _TEXT,
)


@FAST
@given(st.lists(_CUE, max_size=8))
def test_srt_round_trip(cues: list[Cue]) -> None:
    parsed, skipped = parse_srt(format_srt(cues))
    assert skipped == 0 and len(parsed) == len(cues)
    for got, want in zip(parsed, cues):
        assert got.text == " ".join(want.text.split())
        assert got.start == pytest.approx(round(want.start * 1000) / 1000, abs=1e-6)
        assert got.end == pytest.approx(round(want.end * 1000) / 1000, abs=1e-6)


_FRAGMENTS = st.sampled_from(
    ["-->", " --> ", "00:00:01,000", "00:01.500", "99:99:99", "\n", "\n\n", "\r\n", "WEBVTT", "NOTE ", "STYLE",
     "1", "<i>", "</font>", "{\\an8}", "&amp;", "&#", "\ufeff", "\x00", "-1", ".", ","]
)
_SUBTITLEISH = st.lists(_FRAGMENTS | st.text(max_size=4), max_size=40).map("".join)


def _valid(cues: list[Cue]) -> bool:
    return all(0 <= c.start <= c.end and c.text and c.text == " ".join(c.text.split()) for c in cues)


@pytest.mark.slow
@FAST
@given(st.one_of(st.text(), _SUBTITLEISH))
def test_text_parsers_never_raise(text: str) -> None:
    for parse in (parse_srt, parse_vtt):
        cues, skipped = parse(text)
        assert skipped >= 0 and _valid(cues)


_JSON_KEYS = st.sampled_from(["start", "end", "line", "text", "timestamp", "segments"]) | st.text(max_size=3)
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(["00:01.5", "1:2"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_KEYS, inner, max_size=4),
    max_leaves=20,
)


@FAST
@given(_JSONISH, st.none() | st.floats())
def test_json_parser_never_raises(obj: object, open_end: float | None) -> None:
    cues, skipped = parse_lvb_json(obj, open_end=open_end)
    assert skipped >= 0 and _valid(cues)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FAST
@given(st.one_of(st.binary(max_size=200), _SUBTITLEISH.map(lambda s: s.encode("utf-8", "surrogatepass"))),
       st.sampled_from([".srt", ".vtt", ".json", ".txt"]))
def test_load_raises_only_subtitle_error(fuzz_dir: Path, data: bytes, suffix: str) -> None:
    p = fuzz_dir / f"fuzz{suffix}"
    p.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnicodeWarning)
        try:
            subs = load_subtitles(p)
        except SubtitleError as e:
            assert e.path == str(p)
            return
    assert _valid(list(subs.cues)) and subs.skipped >= 0
    assert all(a.start <= b.start for a, b in zip(subs.cues, subs.cues[1:]))


_WORD = st.text("abcdefgh", min_size=1, max_size=4)
_CTX_CUE = st.builds(
    lambda s, d, ws: Cue(s, s + d, " ".join(ws)),
    st.floats(0, 60, allow_nan=False),
    st.floats(0, 10, allow_nan=False),
    st.lists(_WORD, min_size=1, max_size=6),
)


@FAST
@given(
    st.lists(_CTX_CUE, min_size=1, max_size=15),
    st.floats(0, 75, allow_nan=False),
    st.floats(0, 10, allow_nan=False),
    st.floats(0, 10, allow_nan=False),
    st.none() | st.integers(0, 12),
)
def test_asr_context_properties(cues: list[Cue], t: float, before: float, after: float, max_words: int | None) -> None:
    out = asr_text_at(cues, t, before=before, after=after, max_words=max_words)
    at_t = [c for c in cues if c.start <= t <= c.end]
    for c in at_t:
        assert c.text in out
    in_window = [c for c in cues if c.end >= t - before and c.start <= t + after]
    assert set(out.split()) <= {w for c in in_window for w in c.text.split()}
    n_window = sum(len(c.text.split()) for c in in_window)
    n_at_t = sum(len(c.text.split()) for c in at_t)
    budget = n_window if max_words is None else min(n_window, max(max_words, n_at_t))
    assert len(out.split()) == budget
    # The index agrees with a brute-force scan.
    assert sorted(map(id, lines_between(cues, t - before, t + after))) == sorted(map(id, in_window))
