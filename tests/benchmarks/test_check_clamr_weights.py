"""benchmarks/check_clamr_weights.py: its ranking and verdict logic, and a full run on a tiny random CLaMR."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from benchmarks.check_clamr_weights import Probe, evidence_rank, main, report


def test_evidence_rank_orders_like_topk():
    ts = np.arange(6, dtype=np.float64)
    scores = np.array([0.2, 0.9, 0.9, 0.1, 0.5, 0.9])
    assert evidence_rank(scores, ts, (1.0, 1.0)) == 1  # ties go to the earlier frame
    assert evidence_rank(scores, ts, (2.0, 2.5)) == 2
    assert evidence_rank(scores, ts, (3.0, 4.0)) == 4  # 0.5 after the three 0.9s
    assert evidence_rank(scores, ts, (6.5, 9.0)) == 0  # no candidate in the span


def _probe(kind, rank):
    return Probe(kind, "q?", (1.0, 2.0), rank, 10, 1.0, rank == 1)


def test_report_requires_every_probe_of_the_required_kinds():
    text, ok = report([_probe("asr", 1), _probe("ocr", 3), _probe("asr", 1)], ["asr"])
    assert ok and "2/3" in text and "PASS" in text
    assert not report([_probe("asr", 1), _probe("asr", 2)], ["asr"])[1]
    assert not report([_probe("ocr", 1)], ["asr"])[1]  # nothing required was asked: not a pass


@pytest.mark.slow
def test_full_run_on_a_tiny_clamr(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from clamr_frames.encoders.clamr import ClamrEncoder
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.selector import FrameSelector
    from clamr_frames.synth import generate_video

    from testkit.tiny_qwen import build_tiny_qwen

    vlm, processor = build_tiny_qwen(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = ClamrEncoder.from_model(vlm, processor, device="cpu", frame_size=56)
    model_dir = enc.save_pretrained(tmp_path / "tiny_clamr")
    args = ["--scorer", str(model_dir), "--device", "cpu", "--duration", "40", "--fps", "0.5",
            "--require", "asr,ocr,vision", "--work-dir", str(tmp_path / "work")]
    code = main(args)
    out = capsys.readouterr().out
    rows = re.findall(r"^(ocr|asr|vision)\s+(\d+|-)\s+(\d+)\s", out, flags=re.M)
    assert [r[0] for r in rows] == ["ocr", "asr", "vision"] and all(r[2] == "20" for r in rows)
    assert "floor 0.0" in out  # the CLaMR scorer scores with the reference's zero-padding floor

    # The ranks it printed, recomputed here from the selector's scores (same video: same seed and length).
    video = generate_video(tmp_path / "again", seed=3, duration=40.0, needles_per_kind=1)
    sel = FrameSelector.from_pretrained(str(model_dir), device="cpu", index_dir=tmp_path / "cache2",
                                        progress=False, settings=IndexSettings(fps=0.5), ocr=False)  # as the script
    want = []
    for q in video.questions:
        index = sel.index(video.video_path, video.srt_path)
        scores = sel.score(index, q["question"])[0].double().numpy()
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        ts = index.timestamps
        inside = [j for j, i in enumerate(order) if q["needle"]["start"] <= ts[i] <= q["needle"]["end"]]
        want.append(str(inside[0] + 1) if inside else "-")
    assert [r[1] for r in rows] == want
    assert code == (0 if all(r == "1" for r in want) else 1)
    assert torch.is_tensor(enc.model.custom_text_proj.weight)
