"""The selections file format (clamr_frames.selections): round trip, validation naming file and line, resume."""

import json

import pytest

from clamr_frames.errors import InputError
from clamr_frames.selections import (
    FORMAT,
    SelectionRecord,
    completed_keys,
    read_log_rows,
    read_selections,
    record_from_log_row,
    write_selections,
)


def _rec(qid="q1", **kw):
    base = {"video": "/v/a.mp4", "video_fingerprint": "ff00", "question": "What is on the sign?", "k": 2,
                "candidates": {"fps": 1.0, "num_candidates": None, "count": 10}, "indices": [1, 7], "frame_indices": [2, 14],
                "timestamps": [1.0, 7.0], "scores": [0.5, 0.25], "scorer": {"name": "default", "revision": "minilm@abc"},
                "policy": {"name": "nms", "knobs": {"min_gap": 2}}, "query": "What is on the sign?",
                "asr_source": "subtitles", "ocr": True, "task": "t", "doc_id": 3, "question_id": qid, "options": ["A. x", "B. y"],
                "all_scores": [0.0] * 10}
    base.update(kw)
    return SelectionRecord(**base)


def test_round_trip_and_append(tmp_path):
    p = tmp_path / "sel.jsonl"
    assert write_selections(p, [_rec("q1"), _rec("q2", answer="B", ground_truth="A", correct=False,
                                                 gt_window=[3.0, 5.0])]) == 2
    write_selections(p, [_rec("q3")])
    got = read_selections(p)
    assert [r.question_id for r in got] == ["q1", "q2", "q3"]
    assert got[0] == _rec("q1")
    assert got[1].gt_window == [3.0, 5.0] and got[1].correct is False
    assert completed_keys(p) == {r.key() for r in got}
    line = json.loads(p.read_text().splitlines()[0])
    assert line["format"] == FORMAT and line["version"] == 1 and "answer" not in line


def test_unknown_keys_survive(tmp_path):
    p = tmp_path / "sel.jsonl"
    write_selections(p, [_rec(extra={"subtitle_lines": 4})])
    assert read_selections(p)[0].extra == {"subtitle_lines": 4}


def test_torn_tail_is_named_then_repaired(tmp_path):
    p = tmp_path / "sel.jsonl"
    write_selections(p, [_rec("q1")])
    with open(p, "ab") as f:
        f.write(b'{"format": "clamr-frames/sel')  # an interrupted write
    with pytest.raises(InputError, match=r"sel\.jsonl:2: the last line is incomplete"):
        read_selections(p)
    assert len(completed_keys(p)) == 1
    with pytest.warns(RuntimeWarning, match="incomplete last line"):
        write_selections(p, [_rec("q2")])
    assert [r.question_id for r in read_selections(p)] == ["q1", "q2"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda o: o.pop("video_fingerprint"), "missing field"),
        (lambda o: o.update(version=2), "version 2 is not supported"),
        (lambda o: o.update(asr_source="whisper"), "asr_source must be one of"),
        (lambda o: o.update(timestamps=[7.0, 1.0]), "temporal order"),
        (lambda o: o.update(scores=[1.0]), "scores has 1 entries"),
        (lambda o: o.update(indices=[1, 99]), "outside"),
        (lambda o: o.update(ocr="yes"), "ocr must be true or false"),
        (lambda o: o.update(k=True), "k must be an integer"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, mutate, message):
    p = tmp_path / "bad.jsonl"
    good = json.dumps(_rec().to_json())
    obj = _rec("q9").to_json()
    mutate(obj)
    p.write_text(good + "\n" + json.dumps(obj) + "\n")
    with pytest.raises(InputError, match=rf"bad\.jsonl:2: .*{message}"):
        read_selections(p)


def test_not_json_and_missing_file(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text("{nope\n")
    with pytest.raises(InputError, match=r"x\.jsonl:1: not valid JSON"):
        read_selections(p)
    with pytest.raises(InputError, match="not found"):
        read_selections(tmp_path / "missing.jsonl")


def test_old_log_rows_convert(tmp_path):
    video = tmp_path / "a.mp4"
    video.write_bytes(b"\0" * 100)
    row = {"task": "t", "doc_id": 0, "question_id": "001-1", "video": str(video), "scorer": "clamr", "policy": "topk",
           "k": 2, "timestamps": [3.0, 9.0], "scores": [0.1, 0.2], "subtitle_lines": 2, "answer": "B", "target": "B"}
    rec = record_from_log_row(row)
    assert rec.timestamps == [3.0, 9.0] and rec.correct is True and rec.ground_truth == "B"
    assert rec.video_fingerprint and rec.extra["legacy_log"] is True and rec.extra["subtitle_lines"] == 2
    p = tmp_path / "mixed.jsonl"
    p.write_text(json.dumps(row) + "\n" + json.dumps(_rec().to_json()) + "\n")
    assert [r.scorer["name"] for r in read_log_rows(p)] == ["clamr", "default"]
