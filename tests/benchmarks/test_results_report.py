"""RESULTS.md is generated from the machine-written records, and nothing else.

The committed benchmarks/RESULTS.md must be exactly what ``python -m benchmarks report`` makes of the records in
benchmarks/results/; the record writer refuses timings that do not say their threads and timer, writes atomically,
and the report skips raw JSON files that are not records.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import records
from benchmarks._common import record, record_name

ROOT = Path(__file__).resolve().parents[2]


def test_committed_results_md_is_what_the_records_generate():
    expected = records.render(records.load_records())
    actual = records.RESULTS_MD.read_text(encoding="utf-8")
    assert actual == expected, "benchmarks/RESULTS.md differs from the records: run `python -m benchmarks report`"


def test_report_check_cli_agrees(tmp_path):
    out = subprocess.run([sys.executable, "-m", "benchmarks", "report", "--check"], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr


def test_commit_ignores_the_results_themselves():
    c = records.commit()
    assert c is None or len(c.split("+")[0]) == 40


def test_every_record_has_its_provenance():
    recs = records.load_records()
    for rec in recs:
        for key in ("date", "commit", "machine", "cpu_count", "load_before", "load_after", "command", "versions"):
            assert key in rec, (rec["name"], key)
        assert rec["command"].startswith("python "), rec["name"]
        assert rec["rows"] or rec["body"], f"{rec['name']}: no rows and no body"


def test_write_then_report_round_trip(tmp_path):
    rows = [{"method": "a", "seconds": 1.25, "threads": 2, "timer": "decode + encode"},
            {"method": "b | c", "seconds": 0.5, "threads": 2, "timer": "decode + encode"}]
    path = records.write_record("demo", rows, title="Demo table", notes="A note.", directory=tmp_path,
                                command="python -m benchmarks.demo", load_before=[1.0, 2.0, 3.0])
    rec = json.loads(path.read_text())
    assert rec["schema"] == records.SCHEMA and rec["rows"] == rows and rec["load_before"] == [1.0, 2.0, 3.0]
    assert rec["cpu_count"] >= 1 and "numpy" in rec["versions"] and len(rec["load_after"]) == 3
    (tmp_path / "raw.json").write_text(json.dumps({"selections": [1, 2]}))  # not a record: skipped
    loaded = records.load_records(tmp_path)
    assert [r["name"] for r in loaded] == ["demo"]
    md = records.render(loaded)
    assert "## Demo table" in md and "| b \\| c | 0.5 | 2 | decode + encode |" in md and "A note." in md
    assert "before: 1.00 / 2.00 / 3.00" in md
    assert md.index("<!-- record: demo -->") < md.index("## Demo table") < md.index("<!-- end record: demo -->")
    out = tmp_path / "RESULTS.md"
    assert records.report(tmp_path, out) is False  # written
    assert records.report(tmp_path, out, check=True) is True
    assert out.read_text() == md
    out.write_text(md.replace("0.5", "0.4"))  # a hand edit
    assert records.report(tmp_path, out, check=True) is False
    assert not list(tmp_path.glob("*.tmp"))


def test_timings_must_say_threads_and_timer(tmp_path):
    with pytest.raises(records.RecordError, match="timer"):
        records.write_record("x", [{"seconds": 1.0, "threads": 1}], directory=tmp_path)
    with pytest.raises(records.RecordError, match="threads"):
        records.write_record("x", [{"median ms": 3.0, "timer": "scoring only"}], directory=tmp_path)
    with pytest.raises(records.RecordError, match="name"):
        records.write_record("../escape", [], directory=tmp_path)
    with pytest.raises(records.RecordError, match="JSON"):
        records.write_record("x", [{"v": object()}], directory=tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written
    # record-level threads/timer fill the rows
    path = records.write_record("x", [{"seconds": 1.0}], threads=2, timer="whole call", directory=tmp_path)
    assert json.loads(path.read_text())["rows"] == [{"seconds": 1.0, "threads": 2, "timer": "whole call"}]


def test_a_record_whose_name_does_not_match_its_file_is_refused(tmp_path):
    path = records.write_record("good", [{"v": 1}], directory=tmp_path)
    path.rename(tmp_path / "other.json")
    with pytest.raises(records.RecordError, match="does not match"):
        records.load_records(tmp_path)


def test_common_record_writes_a_record_not_markdown(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(records, "RESULTS_DIR", tmp_path)
    before = records.RESULTS_MD.read_text(encoding="utf-8")
    block = record("Old-style block: 2 rows", "| a |\n|---|\n| 1 |\n", name=record_name("Old-style block: 2 rows", "x.py"))
    assert "| a |" in block
    rec = json.loads((tmp_path / "x--old-style-block-2-rows.json").read_text())
    assert rec["title"] == "Old-style block: 2 rows" and rec["body"].startswith("| a |") and rec["rows"] == []
    assert records.RESULTS_MD.read_text(encoding="utf-8") == before  # RESULTS.md is only ever generated
    record("not written", "x", write=False)
    assert len(list(tmp_path.iterdir())) == 1


def test_rendering_is_deterministic_and_numbers_are_not_rounded_away():
    rows = [{"k": 3, "wer": 0.04761904761904762, "big": 123456789.0, "tiny": 0.000123, "ok": True, "n": None}]
    table = records.render_table(rows)
    assert table == records.render_table(json.loads(json.dumps(rows)))
    assert "| 3 | 0.0476 | 123456789.0 | 0.000123 | yes |  |" in table
