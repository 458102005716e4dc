"""benchmarks/answer_memory.py: the recorded result shows the answer path's memory follows k, not the video's
length, and the driver measures in fresh processes and writes a complete record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RECORD = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "answer_memory.json"


def _rows(rec, method, k):
    return {r["duration_s"]: r for r in rec["rows"] if r["method"] == method and r["k"] == k and "added_mib" in r}


def test_recorded_answer_memory_grows_with_k_not_with_the_video():
    rec = json.loads(RECORD.read_text())
    for key in ("date", "commit", "machine", "cpu_count", "load_before", "load_after", "command", "versions", "rows"):
        assert key in rec
    small = _rows(rec, "clamr_answer", 32)
    assert {600.0, 3600.0} <= set(small)
    a, b = small[600.0]["added_mib"], small[3600.0]["added_mib"]
    assert max(a, b) / min(a, b) <= 1.2  # 10 min vs 1 hour at k = 32
    big = _rows(rec, "clamr_answer", 768)
    assert all(big[d]["added_mib"] > small[d]["added_mib"] for d in big)
    c, d = big[600.0]["added_mib"], big[3600.0]["added_mib"]
    assert max(c, d) / min(c, d) <= 1.2  # k = 768: the same k distinct frames cost the same on either video
    # lmms-eval's own loaders were measured in the same run
    assert _rows(rec, "lmms_read_video_pyav", 32) and _rows(rec, "lmms_read_video_pyav", 768)


@pytest.mark.slow
def test_driver_writes_a_record(tmp_path, monkeypatch):
    import benchmarks.answer_memory as am

    monkeypatch.setattr(am, "WORK", tmp_path / "work")
    out = tmp_path / "rec.json"
    assert am.main(["--durations", "20", "--ks", "4", "--methods", "clamr_answer", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    (row,) = rec["rows"]
    assert row["frames"] == 4 and row["added_mib"] >= 0 and row["peak_mib"] >= row["rss_before_mib"]
