"""Training data: the JSONL format and its errors, the annotation builders, candidates and batches."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from clamr_frames.context.subtitles import asr_contexts, load_subtitles
from clamr_frames.errors import InputError
from clamr_frames.index.builder import IndexSettings
from clamr_frames.synth import SyntheticScene, generate_video
from clamr_frames.train.collate import (
    BatchBuilder,
    ContextProvider,
    SyntheticSource,
    negative_candidates,
    positive_candidates,
    tensorize_meta,
)
from clamr_frames.train.builders import (
    examples_from_qa,
    examples_from_synthetic,
    read_charades_sta,
    read_qvhighlights,
    write_synthetic_dataset,
)
from clamr_frames.train.data import DataError, Example, parse_example, read_jsonl, write_jsonl
from clamr_frames.types import Modality


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    return [generate_video(d, seed=s, duration=60.0, needles_per_kind=1, video_id=f"v{s}") for s in (1, 2)]


def _write(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _no_probe(path):  # the reader is not what these tests are about: rows carry their duration
    raise AssertionError("probed a video although the row has a duration")


# ---------------------------------------------------------------------------------------------- JSONL
def test_jsonl_roundtrip_and_aliases(tmp_path, synth):
    v = synth[0]
    rows = [
        {"video": v.video_path.name, "query": ["What is said?", " Which  word? "], "query_type": "speech",
         "positive_timestamps": [12.0, [20, 22.5]], "hard_negatives": [[40, 42]], "subtitles": v.srt_path.name,
         "ocr": [[1.0, 3.0, "EXIT 12"]], "duration": 60.0, "id": "q1"},
        "# a comment",
        "",
        {"video": str(v.video_path), "query": "a vision query", "positives": [[5, 6]], "duration": 60},
    ]
    p = _write(v.video_path.parent / "data.jsonl", rows)
    ex = read_jsonl(p, duration_fn=_no_probe)
    assert len(ex) == 2
    a, b = ex
    assert a.video == v.video_path.resolve() and a.queries == ("What is said?", "Which word?")
    assert a.query_type == "asr" and a.modality == int(Modality.ASR)
    assert a.positives == ((12.0, 12.0), (20.0, 22.5)) and a.negatives == ((40.0, 42.0),)
    assert a.subtitles == v.srt_path.resolve() and a.ocr == ((1.0, 3.0, "EXIT 12"),) and a.id == "q1"
    assert b.query_type == "video" and b.id == "data.jsonl:4"
    out = write_jsonl(ex, tmp_path / "sub" / "copy.jsonl")
    again = read_jsonl(out, duration_fn=_no_probe)
    assert [(e.video, e.queries, e.positives, e.negatives, e.subtitles, e.ocr) for e in again] == \
        [(e.video, e.queries, e.positives, e.negatives, e.subtitles, e.ocr) for e in ex]
    assert "../" in out.read_text()  # paths are written relative to the file


@pytest.mark.parametrize(
    "row, message",
    [
        ({"query": "q", "positives": [1], "duration": 60}, "missing 'video'"),
        ({"video": "nope.mp4", "query": "q", "positives": [1], "duration": 60}, "video not found"),
        ({"video": "V", "query": "q", "positives": [], "duration": 60}, "no positives"),
        ({"video": "V", "query": "q", "duration": 60}, "no positives"),
        ({"video": "V", "query": "q", "positives": [[10, 70]], "duration": 60}, "outside the video"),
        ({"video": "V", "query": "q", "positives": [[5, 2]], "duration": 60}, "ends before it starts"),
        ({"video": "V", "query": "q", "positives": [-1], "duration": 60}, "starts before the video"),
        ({"video": "V", "query": "", "positives": [1], "duration": 60}, "empty string"),
        ({"video": "V", "query": "q", "positives": [1], "query_type": "smell", "duration": 60}, "query_type"),
        ({"video": "V", "query": "q", "positives": [1], "duration": 60, "typo": 1}, "unknown field"),
        ({"video": "V", "query": "q", "positives": [1], "subtitles": "none.srt", "duration": 60}, "subtitles"),
        ("{not json", "invalid JSON"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, synth, row, message):
    if isinstance(row, dict) and row.get("video") == "V":
        row["video"] = str(synth[0].video_path)
    good = {"video": str(synth[0].video_path), "query": "fine", "positives": [3], "duration": 60}
    p = _write(tmp_path / "bad.jsonl", [good, row])
    with pytest.raises(DataError, match=message) as err:
        read_jsonl(p, duration_fn=_no_probe)
    assert err.value.line == 2 and "bad.jsonl:2" in str(err.value)
    with pytest.warns(UserWarning, match=f"bad.jsonl:2: .*{message}"):
        kept = read_jsonl(p, on_error="skip", duration_fn=_no_probe)
    assert [e.queries for e in kept] == [("fine",)]


def test_span_check_probes_the_video_when_no_duration(tmp_path, synth):
    p = _write(tmp_path / "d.jsonl", [{"video": str(synth[0].video_path), "query": "q", "positives": [[50, 90]]}])
    with pytest.raises(DataError, match=r"d.jsonl:1: positives\[0\] .* outside the video \(duration 60 s\)"):
        read_jsonl(p, duration_fn=lambda path: 60.0)
    assert read_jsonl(p, duration_fn=None)[0].duration is None  # no probe: no span check


def test_file_level_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_jsonl(tmp_path / "missing.jsonl")
    p = _write(tmp_path / "allbad.jsonl", ["[1, 2]"])
    with pytest.raises(DataError, match="no usable example"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_jsonl(p, on_error="skip")
    with pytest.raises(InputError, match="on_error"):
        read_jsonl(p, on_error="ignore")


# ---------------------------------------------------------------------------------------------- builders
def test_synthetic_builder(synth, tmp_path):
    ex = examples_from_synthetic(synth, extra_phrasings=[1, 2])
    assert len(ex) == sum(len(v.questions) for v in synth)
    by_type = {e.query_type for e in ex}
    assert by_type == {"ocr", "asr", "video"}
    for e in ex:
        v = next(v for v in synth if v.video_path.resolve() == e.video)
        q = next(q for q in v.questions if q["question_id"] == e.id)
        assert e.queries[0] == q["question"] and len(e.queries) >= 2  # held-out phrasings added
        assert e.positives == ((q["needle"]["start"], q["needle"]["end"]),)
        assert e.meta["synthetic"]["seed"] == v.seed
    ocr_ex = next(e for e in ex if e.query_type == "ocr")
    v = next(v for v in synth if v.video_path.resolve() == ocr_ex.video)
    assert ocr_ex.ocr == tuple((n.start, n.end, n.text) for n in v.needles if n.kind == "ocr")  # oracle OCR
    path = write_jsonl(ex, tmp_path / "s.jsonl")
    back = read_jsonl(path, duration_fn=_no_probe)
    assert [(e.queries, e.positives, e.meta) for e in back] == [(e.queries, e.positives, e.meta) for e in ex]


def test_write_synthetic_dataset_is_cached(tmp_path):
    p = write_synthetic_dataset(tmp_path / "ds", n_videos=1, seed=3, duration=40.0, needles_per_kind=1)
    mtime = p.stat().st_mtime_ns
    again = write_synthetic_dataset(tmp_path / "ds", n_videos=1, seed=3, duration=40.0, needles_per_kind=1)
    assert again == p and p.stat().st_mtime_ns == mtime
    assert len(read_jsonl(p, duration_fn=_no_probe)) == 3


def test_qa_records_with_evidence(synth, tmp_path):
    v = synth[0]
    recs = json.loads(v.questions_path.read_text())
    recs.append({"videoID": v.video_id, "question": "no evidence", "needle": None})
    ex = examples_from_qa(recs, v.video_path.parent, video_key="videoID", evidence_key="needle",
                          query_type_key=None, options_key="options", subtitle_dir=v.srt_path.parent)
    assert len(ex) == len(v.questions)  # the record without evidence is skipped
    assert ex[0].video == v.video_path.resolve() and ex[0].subtitles == v.srt_path.resolve()
    assert "\nOptions:\nA. " in ex[0].queries[0]
    assert ex[0].positives == ((recs[0]["needle"]["start"], recs[0]["needle"]["end"]),)
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"video": "x.mp4", "question": "q", "evidence": [[1, 2], 5],
                                "query_type": "ocr"}) + "\n")
    ex2 = examples_from_qa(path, tmp_path)
    assert ex2[0].video == (tmp_path / "x.mp4").resolve() and ex2[0].positives == ((1.0, 2.0), (5.0, 5.0))
    assert ex2[0].query_type == "ocr" and ex2[0].source == (str(path), 1)


def test_charades_sta_and_qvhighlights(tmp_path):
    sta = tmp_path / "charades_sta_test.txt"
    sta.write_text("3MSZA 24.3 30.4##person turn a light on.\nAO8RW 0.0 6.9##a person is putting a book on a shelf.\n"
                   "BROKEN 1 2 no separator\n")
    with pytest.raises(DataError, match="charades_sta_test.txt:3"):
        read_charades_sta(sta, tmp_path)
    with pytest.warns(UserWarning, match=":3"):
        ex = read_charades_sta(sta, tmp_path, on_error="skip")
    assert [e.video.name for e in ex] == ["3MSZA.mp4", "AO8RW.mp4"]
    assert ex[1].queries == ("a person is putting a book on a shelf.",) and ex[1].positives == ((0.0, 6.9),)
    qv = tmp_path / "highlight_val.jsonl"
    qv.write_text(
        json.dumps({"qid": 2579, "query": "A girl and her mother cooked while talking.", "duration": 150,
                    "vid": "NUsG9BgSes0_210.0_360.0", "relevant_windows": [[0, 14], [98, 100]]}) + "\n"
        + json.dumps({"qid": 3, "query": "q", "duration": 150, "vid": "x", "relevant_windows": []}) + "\n")
    with pytest.warns(UserWarning, match="highlight_val.jsonl:2: no relevant_windows"):
        ex = read_qvhighlights(qv, tmp_path, on_error="skip")
    assert len(ex) == 1 and ex[0].id == "2579" and ex[0].duration == 150.0
    assert ex[0].positives == ((0.0, 14.0), (98.0, 100.0)) and ex[0].video.name == "NUsG9BgSes0_210.0_360.0.mp4"


# ---------------------------------------------------------------------------------------------- candidates
def test_positive_and_negative_candidates():
    ts = np.arange(0.0, 20.0)
    assert positive_candidates(ts, [(3.0, 5.0)]).tolist() == [3, 4, 5]
    assert positive_candidates(ts, [(6.4, 6.6)]).tolist() == [6]  # no candidate inside: the nearest
    assert negative_candidates(ts, [(3.0, 5.0)], 2.0).tolist() == [0] + list(range(8, 20))


def test_context_matches_the_index_builder_rules(synth):
    settings = IndexSettings(fps=1.0, max_side=None)
    source = SyntheticSource(settings)
    ex = examples_from_synthetic(synth[:1])
    assert all(source.register(e) for e in ex)
    cp = ContextProvider(settings, source)
    ctx = cp.context(ex[0])
    v = synth[0]
    assert np.allclose(ctx.timestamps, np.arange(0.0, 60.0, 1.0))
    cues = list(load_subtitles(v.srt_path).cues)
    assert ctx.asr == asr_contexts(cues, ctx.timestamps, before=settings.asr_before, after=settings.asr_after,
                                   max_words=settings.asr_max_words)
    assert sum(1 for a in ctx.asr if a) > 10
    ocr_needle = next(n for n in v.needles if n.kind == "ocr")
    inside = [i for i, t in enumerate(ctx.timestamps) if ocr_needle.start <= t <= ocr_needle.end]
    assert inside and all(ctx.ocr[i] == ocr_needle.text for i in inside)
    assert all(ctx.ocr[i] == "" for i in range(len(ctx)) if i not in inside)
    docs = cp.documents(ex[0], inside[:1], with_images=True)
    scene = SyntheticScene(seed=v.seed, duration=v.duration, fps=v.fps, width=v.width, height=v.height,
                           needles=v.needles)
    assert np.array_equal(docs[0].image, scene.render_frame(ctx.timestamps[inside[0]]))
    assert docs[0].ocr == ocr_needle.text and docs[0].timestamp == ctx.timestamps[inside[0]]


def test_batches_are_deterministic_and_well_formed(synth):
    settings = IndexSettings(fps=1.0)
    ex = examples_from_synthetic(synth, extra_phrasings=[1])
    source = SyntheticSource(settings)
    for e in ex:
        source.register(e)
    builder = BatchBuilder(ex, ContextProvider(settings, source), seed=5, with_images=False, hard_negatives=2,
                           negative_margin=3.0)
    a = builder.build([0, 3, 4], epoch=0)
    b = builder.build([0, 3, 4], epoch=0)
    c = builder.build([0, 3, 4], epoch=1)
    key = lambda r: (r.queries, [d.timestamp for d in r.documents])  # noqa: E731
    assert key(a) == key(b)
    assert key(a) != key(c)  # another epoch draws other frames / phrasings
    assert len(a.documents) == 3 + 3 * 2 and a.targets == [0, 1, 2]
    for i, idx in enumerate([0, 3, 4]):
        e = ex[idx]
        s, t = e.positives[0]
        assert s - 1e-6 <= a.documents[i].timestamp <= t + 1e-6  # positive inside the evidence span
        for d in a.documents[3 + 2 * i : 5 + 2 * i]:
            assert d.timestamp < s - 3.0 or d.timestamp > t + 3.0  # negatives far from it
            assert d.image is None
        assert a.query_modality[i] == e.modality and a.query_video[i] == e.video_key
    meta = tensorize_meta(a)
    assert meta["query_spans"].shape == (3, 1, 2) and meta["doc_time"].shape == (9,)


def test_explicit_negatives_come_first(synth):
    settings = IndexSettings(fps=1.0)
    e = Example(video=synth[0].video_path, queries=("q",), positives=((10.0, 12.0),), negatives=((30.0, 30.0),),
                duration=60.0, meta=examples_from_synthetic(synth[:1])[0].meta)
    source = SyntheticSource(settings)
    source.register(e)
    raw = BatchBuilder([e], ContextProvider(settings, source), with_images=False, hard_negatives=2).build([0], 0)
    assert raw.documents[1].timestamp == 30.0 and len(raw.documents) == 3


def test_parse_example_rejects_non_objects():
    with pytest.raises(ValueError, match="JSON object"):
        parse_example([1], ".")


def test_rendered_candidates_match_the_decoded_video(synth):
    from clamr_frames.train.collate import ReaderSource

    settings = IndexSettings(fps=1.0, max_side=112)
    ex = examples_from_synthetic(synth[:1])[0]
    rendered = SyntheticSource(settings)
    rendered.register(ex)
    idx_r, ts_r, dur_r = rendered.candidates(ex.video)
    idx_d, ts_d, dur_d = ReaderSource(settings).candidates(ex.video)
    assert np.array_equal(idx_r, idx_d) and np.allclose(ts_r, ts_d) and dur_r == pytest.approx(dur_d)
    a = rendered.frames(ex.video, idx_r[:2])
    b = ReaderSource(settings).frames(ex.video, idx_d[:2])
    assert [f.shape for f in a] == [f.shape for f in b] == [(63, 112, 3)] * 2
    assert np.abs(a[0].astype(int) - b[0].astype(int)).mean() < 12  # the same picture, up to H.264 loss
