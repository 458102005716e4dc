"""benchmarks/policy_table.py: the table's core on a tiny set (every policy on one set of scores per question), its
summary for the docs, and the held-out generator it measures on."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import policy_table as pt


def _scored(span: tuple[float, float], peak_at: float | None, n: int = 60, set_name: str = "toy") -> pt.Scored:
    """A question on a 60-s video of three shots, scores peaked at ``peak_at`` (flat when None)."""
    from clamr_frames.context.shots import compute_prior

    ts = np.arange(float(n))
    rng = np.random.default_rng(0)
    frames = [np.full((18, 32, 3), (40, 120, 200)[min(i // 20, 2)], np.uint8) for i in range(n)]
    scores = rng.normal(0.0, 0.01, n)
    if peak_at is not None:
        scores[int(peak_at)] += 1.0
    item = pt.Item(set_name, "text", "q?", (span,), Path("toy.mp4"))
    return pt.Scored(item, scores, ts, compute_prior(ts, frames))


def test_rows_compare_every_policy_on_the_same_scores():
    scored = [_scored((30.0, 33.0), 31.0), _scored((44.0, 45.0), 44.0)]
    rows = pt.table_rows("toy", scored, [4], pt.POLICIES)
    assert len(rows) == 1
    row = rows[0]
    assert (row["scorer"], row["set"], row["questions"], row["k"], row["n"]) == ("toy", "toy", "text", 4, 2)
    assert set(pt.POLICIES) <= set(row)
    assert row["topk"] == 1.0  # the peak frame is inside both spans
    # uniform's 4 frames (0, 19, 39, 59) miss both spans: the table is not one policy's answer copied
    assert row["uniform"] == 0.0
    # an end is exclusive: a frame at a span's end (the next segment's first) is no hit
    assert not pt.hit(_scored((30.0, 31.0), 31.0), 1, "topk")
    assert pt.hit(_scored((31.0, 32.0), 31.0), 1, "topk")


def test_mean_rows_and_summary(tmp_path):
    scored = [_scored((30.0, 33.0), 31.0), _scored((0.0, 1.0), None, set_name="other")]
    rows = pt.table_rows("s", scored, [4], ["topk", "uniform"])
    mean = [r for r in rows if r["set"] == pt.MEAN_SET]
    assert len(mean) == 1 and mean[0]["n"] == 2
    assert mean[0]["uniform"] == pytest.approx(np.mean([r["uniform"] for r in rows if r["set"] != pt.MEAN_SET]))
    summ = pt.summary(rows, ["topk", "uniform"])
    assert [r["all"] for r in summ] == sorted((r["all"] for r in summ), reverse=True)
    assert all(r["picture"] is None for r in summ)  # no picture questions: no picture mean
    rec = tmp_path / "policy_table.json"
    rec.write_text(json.dumps({"date": "d", "commit": "c", "rows": rows}), encoding="utf-8")
    md = pt.summary_markdown(str(rec))
    assert "| scorer | policy |" in md and "policy_table.json" in md
    assert "no record yet" in pt.summary_markdown(str(tmp_path / "missing.json"))


def test_heldout_plan_is_seeded_and_disjoint():
    from testkit.heldout import HeldoutVideo

    a, b = HeldoutVideo.plan(11, 120.0, 2), HeldoutVideo.plan(11, 120.0, 2)
    assert [(q.kind, q.start, q.question) for q in a.questions] == [(q.kind, q.start, q.question) for q in b.questions]
    assert sorted(q.kind for q in a.questions) == ["picture", "picture", "sign", "sign", "subtitle", "subtitle"]
    spans = sorted((q.start, q.end) for q in a.questions)
    assert all(e <= s2 for (_, e), (s2, _) in itertools.pairwise(spans))
    # the needle shows in its span and not before it
    q = next(q for q in a.questions if q.kind == "picture")
    before, during = a.frame(q.start - 0.01).astype(int), a.frame(q.start + 0.5).astype(int)
    assert np.abs(during - before).mean() > 1.0
    with pytest.raises(ValueError, match="too short"):
        HeldoutVideo.plan(1, 20.0, 1)


@pytest.mark.slow
def test_run_end_to_end_on_a_tiny_set(tmp_path, tiny_clip_dir):
    """The whole table on one short held-out video with the tiny CLIP (what ``--quick`` runs, smaller)."""
    rows, what = pt.run(["heldout"], ["clip"], [4], tmp_path, quick=True, clip_weights=str(tiny_clip_dir))
    assert {(r["set"], r["questions"]) for r in rows} == {("heldout", "text"), ("heldout", "picture")}
    for r in rows:
        assert all(0.0 <= r[p] <= 1.0 for p in pt.POLICIES)
    assert "heldout text: 2" in what and "heldout picture: 1" in what
    srt = next((tmp_path / "heldout").glob("*.srt")).read_text(encoding="utf-8")
    assert "-->" in srt
