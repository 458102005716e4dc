"""`clamr-frames view`: a selections file (or older log_selections rows) as pages and a sortable index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clamr_frames.report.view import INDEX_COLUMNS, page_name, render_selections


def _data_of(html: str, element: str) -> dict:
    m = re.search(rf'<script id="{element}" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert m
    return json.loads(m.group(1))


@pytest.mark.slow
def test_view_writes_a_page_per_question_and_an_index(selections_file: Path, report_video: dict,
                                                      tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from clamr_frames.cli import main

    out = tmp_path / "report"
    assert main(["view", str(selections_file), "-o", str(out), "--index-dir", str(report_video["index_dir"]),
                 "--quiet"]) == 0
    assert "2 pages" in capsys.readouterr().out
    index = _data_of((out / "index.html").read_text(encoding="utf-8"), "clamr-index")
    assert [c["key"] for c in index["columns"]] == [c["key"] for c in INDEX_COLUMNS]
    rows = index["rows"]
    assert [r["correct"] for r in rows] == [True, False] and [r["task"] for r in rows] == ["synthetic"] * 2
    assert rows[0]["asr_source"] == "subtitles" and rows[0]["candidates"] == 90
    assert rows[0]["in_gt"] is not None and 0.0 <= rows[0]["in_gt"] <= 1.0
    page = _data_of((out / rows[0]["href"]).read_text(encoding="utf-8"), "clamr-data")
    assert page["meta"]["correct"] is True and page["candidates"]["gt_windows"]
    assert len(page["candidates"]["timestamps"]) == len(page["candidates"]["scores"]) == 90
    # the stored index gave the candidates' times and context, the video the thumbnails, the .srt the transcript
    assert all(p["thumb"] for p in page["picked"]) and any(p["asr"] for p in page["picked"])
    assert page["transcript"] and page["index_href"] == "index.html"


@pytest.mark.slow
def test_view_reads_log_selections_rows_and_survives_a_missing_video(report_video: dict, tmp_path: Path) -> None:
    rows = [{"task": "t", "doc_id": 1, "video": str(report_video["video"]), "scorer": "default", "policy": "topk",
             "k": 2, "timestamps": [3.0, 40.0], "scores": [0.1, 0.9], "answer": "B", "target": "A"},
            {"task": "t", "doc_id": 2, "video": str(tmp_path / "gone.mp4"), "scorer": "default", "policy": "topk",
             "k": 1, "timestamps": [1.0], "scores": [0.5], "answer": "A", "target": "A"}]
    f = tmp_path / "log.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = render_selections(f, tmp_path / "out", index_dir=tmp_path / "noindex", progress=False)
    assert result.pages == 2 and any("gone.mp4" in p for p in result.problems)
    page = _data_of((tmp_path / "out" / page_name(0, 1)).read_text(encoding="utf-8"), "clamr-data")
    assert [p["timestamp"] for p in page["picked"]] == [3.0, 40.0] and all(p["thumb"] for p in page["picked"])
    assert page["meta"]["correct"] is False


def test_view_names_a_bad_file(tmp_path: Path) -> None:
    from clamr_frames.errors import InputError

    f = tmp_path / "bad.jsonl"
    f.write_text('{"format": "something else"}\n')
    with pytest.raises(InputError, match="bad.jsonl:1"):
        render_selections(f, tmp_path / "out", progress=False)
