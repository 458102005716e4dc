"""MLVU through the clamr_frames model: document parsing, the two prompts, and the offline synthetic stand-in run by
lmms-eval's evaluator and scored by lmms-eval's own MLVU process_results."""

from __future__ import annotations

import json
import os

import pytest

from testkit.extras import require_extra

DOC = {"video_name": "1_plotQA/movie101_66.mp4", "question": "What does the man hold?\n(A) a cup\n(B) a key\n(C) a map"
       "\n(D) a hat", "candidates": ["a cup", "a key", "a map", "a hat"], "answer": "B", "task_type": "plotQA"}


def test_mlvu_document_parsing_and_prompts():
    from qa_harness.docs import mcq_from_doc
    from qa_harness.tasks import utils as tu

    item = mcq_from_doc(DOC)
    assert item.question == "What does the man hold?" and item.options == ["a cup", "a key", "a map", "a hat"]
    assert item.answer == "B" and item.letters == ["A", "B", "C", "D"]
    no_candidates = {k: v for k, v in DOC.items() if k != "candidates"}
    assert mcq_from_doc(no_candidates).options == item.options  # options from the question's "(A) ..." lines
    # lmms-eval's MLVU prompt, unchanged
    assert tu.mlvu_doc_to_text(DOC, {}) == DOC["question"] + "\nOnly give the best option.\nBest option: ("
    # the _paper prompt: notebook instruction, question, "A. ..." lines, "The best answer is:"
    assert tu.mlvu_doc_to_text_paper(DOC, {}) == (
        tu.INSTRUCTION + "\nWhat does the man hold?\nA. a cup\nB. a key\nC. a map\nD. a hat\nThe best answer is:")


def test_mlvu_video_path_in_lmms_eval_cache(tmp_path, monkeypatch):
    from qa_harness.tasks import utils as tu

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="mlvu/1_plotQA/movie101_66.mp4"):
        tu.mlvu_doc_to_visual(DOC)
    (tmp_path / "mlvu" / "1_plotQA").mkdir(parents=True)
    (tmp_path / "mlvu" / "1_plotQA" / "movie101_66.mp4").write_bytes(b"x")
    assert tu.mlvu_doc_to_visual(DOC) == [str(tmp_path / "mlvu" / "1_plotQA" / "movie101_66.mp4")]


def test_mlvu_aggregate_over_present_categories():
    from qa_harness.tasks import utils as tu

    rows = [{"task_type": "needle", "pred_answer": "A", "answer": "A"},
            {"task_type": "needle", "pred_answer": "B", "answer": "A"},
            {"task_type": "count", "pred_answer": "C", "answer": "C"}]
    assert tu.mlvu_aggregate_results(rows) == pytest.approx((50.0 + 100.0) / 2)


def test_clamr_task_yamls_are_indexed():
    require_extra("eval")
    from lmms_eval.tasks import TaskManager

    from qa_harness.tasks import TASK_DIR

    tm = TaskManager("ERROR", include_path=str(TASK_DIR), include_defaults=False)
    assert {"clamr_mlvu_dev", "clamr_mlvu_dev_paper"} <= set(tm.all_tasks)


@pytest.mark.slow
def test_synthetic_mlvu_runs_offline(tmp_path, monkeypatch):
    require_extra("eval")
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from clamr_frames import FrameSelector
    from clamr_frames.index import IndexSettings
    from qa_harness.make_synthetic import make_synthetic
    from qa_harness.model import ClamrFrames

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_datasets"))
    out = tmp_path / "syn"
    make_synthetic(out, n_videos=1, duration=40.0, needles_per_kind=1, frame_num=8)
    rows = json.loads((out / "synthetic_mlvu.json").read_text())
    tm = TaskManager("ERROR", include_path=[str(out)], include_defaults=False, model_name="clamr_frames")
    selector = FrameSelector.from_pretrained("default", settings=IndexSettings(fps=1.0), index_dir=tmp_path / "idx",
                                             progress=False, ocr=False)
    log = tmp_path / "log.jsonl"
    model = ClamrFrames(k=2, selector=selector, inner_ocr="false", log_selections=str(log))
    prompts = []
    inner = model.answerer

    class Spy:
        def generate(self, reqs):
            prompts.extend(r.prompt for r in reqs)
            return inner.generate(reqs)

    model.answerer = Spy()
    res = simple_evaluate(model=model, tasks=["synthetic_mlvu", "synthetic_mlvu_paper"], task_manager=tm,
                          log_samples=True, verbosity="ERROR")
    for task in ("synthetic_mlvu", "synthetic_mlvu_paper"):
        samples = res["samples"][task]
        assert len(samples) == len(rows)
        right = [s["mlvu_percetion_score"]["pred_answer"] == s["mlvu_percetion_score"]["answer"] for s in samples]
        assert res["results"][task]["mlvu_percetion_score,none"] == pytest.approx(100.0 * sum(right) / len(right))
    assert sum(p.endswith("Best option: (") for p in prompts) == len(rows)
    assert sum(p.endswith("The best answer is:") for p in prompts) == len(rows)
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    # the scorer was queried with the question alone + "A. ..." options, never the option lines twice
    assert all(r["query"].count("(A)") == 0 and r["question"] in {x["question"].split("\n")[0] for x in rows}
               for r in recs)
    assert all(r["context"]["prompt_subtitles"] == "none" for r in recs)
    assert os.path.getsize(log) > 0
