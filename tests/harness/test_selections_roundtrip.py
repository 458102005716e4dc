"""Selections files through the harness: select-task without an answerer, then answering with selections=FILE
and no scorer gives the frames and answers of live selection; resume; fingerprint / missing-question errors."""

from __future__ import annotations

import json

import pytest

from testkit.extras import require_extra

require_extra("eval")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("offline_env")]  # builds indexes and runs lmms-eval's evaluator (~90 s on 2 cores)

K = 2


@pytest.fixture(scope="module")
def selector(tmp_path_factory):
    from clamr_frames import FrameSelector
    from clamr_frames.index import IndexSettings

    return FrameSelector.from_pretrained("default", settings=IndexSettings(fps=1.0),
                                         index_dir=tmp_path_factory.mktemp("index"), progress=False, ocr=False)


@pytest.fixture(scope="module")
def task_manager(synth_dir):
    from lmms_eval.tasks import TaskManager

    return TaskManager("ERROR", include_path=[str(synth_dir)], include_defaults=False, model_name="clamr_frames")


class Spy:
    """Wraps an answerer; records what each request showed it (frame pixels, times, prompt)."""

    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def generate(self, reqs):
        for r in reqs:
            self.seen.append((r.item.question, [f.tobytes() for f in r.frames], list(r.timestamps), r.prompt))
        return self.inner.generate(reqs)


def _run(model, task_manager, task="synthetic_videoqa_w_subtitle"):
    from lmms_eval.evaluator import simple_evaluate

    model.answerer = Spy(model.answerer)
    res = simple_evaluate(model=model, tasks=[task], task_manager=task_manager, log_samples=True, verbosity="ERROR")
    answers = {s["doc"]["question_id"]: s["filtered_resps"][0] for s in res["samples"][task]}
    return answers, res, model.answerer.seen


@pytest.fixture(scope="module")
def live(selector, task_manager, tmp_path_factory):
    from qa_harness.model import ClamrFrames

    log = tmp_path_factory.mktemp("live") / "log.jsonl"
    model = ClamrFrames(policy="topk", k=K, selector=selector, inner_ocr="false", log_selections=str(log))
    answers, res, seen = _run(model, task_manager)
    return answers, res, seen, log


@pytest.fixture(scope="module")
def selections_file(selector, synth_dir, tmp_path_factory):
    from qa_harness.select_task import select_task

    out = tmp_path_factory.mktemp("sel") / "synthetic.jsonl"
    counts = select_task(["synthetic_videoqa"], out, {"policy": "topk", "k": str(K), "inner": "qwen2_5_vl"},
                         include_path=str(synth_dir), selector=selector, progress=False)
    return out, counts


def test_select_task_writes_every_question_and_resumes(selections_file, synth_dir, selector):
    from clamr_frames.selections import read_selections
    from qa_harness.select_task import select_task

    out, counts = selections_file
    docs = json.loads((synth_dir / "synthetic_videoqa.json").read_text())
    recs = read_selections(out)
    assert counts == {"selected": len(docs), "skipped": 0}
    assert sorted(r.question_id for r in recs) == sorted(d["question_id"] for d in docs)
    r = recs[0]
    assert r.k == K and len(r.frame_indices) == K and r.asr_source == "subtitles" and r.ocr is False
    assert r.scorer["name"] == "default" and r.scorer["revision"] and r.policy["name"] == "topk"
    assert r.candidates["fps"] == 1.0 and r.candidates["count"] == len(r.all_scores)
    assert r.query.startswith(r.question) and r.gt_window is not None
    # rerun: nothing new; a torn tail (an interrupted run) is dropped and its question selected again
    assert select_task(["synthetic_videoqa"], out, {"policy": "topk", "k": str(K)}, include_path=str(synth_dir),
                       selector=selector, progress=False) == {"selected": 0, "skipped": len(docs)}
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:-1]) + lines[-1][:30])
    with pytest.warns(RuntimeWarning, match="incomplete last line"):
        again = select_task(["synthetic_videoqa"], out, {"policy": "topk", "k": str(K)},
                            include_path=str(synth_dir), selector=selector, progress=False)
    assert again == {"selected": 1, "skipped": len(docs) - 1}
    assert len(read_selections(out)) == len(docs)


def test_answer_from_file_matches_live_without_a_scorer(live, selections_file, task_manager, monkeypatch):
    from clamr_frames import FrameSelector
    from clamr_frames.encoders import registry
    from qa_harness.model import ClamrFrames

    def no_scorer(*a, **kw):
        raise AssertionError("a scorer was constructed while answering from a selections file")

    monkeypatch.setattr(registry, "load_encoder", no_scorer)
    monkeypatch.setattr(FrameSelector, "__init__", no_scorer)
    out, _ = selections_file
    model = ClamrFrames(selections=str(out), k=K, inner_ocr="false")
    answers, res, seen = _run(model, task_manager)
    live_answers, _live_res, live_seen, _log = live
    assert answers == live_answers
    # identical frames (pixel for pixel), times and prompts, question by question
    assert sorted(seen) == sorted(live_seen)
    with pytest.raises(AssertionError, match="scorer was constructed"):
        model._live.selector  # noqa: B018 - the scorer is only ever built on demand, never here
    # every per-sample row says which context it used
    for s in res["samples"]["synthetic_videoqa_w_subtitle"]:
        ctx = next(a["clamr_context"] for a in s["arguments"] if isinstance(a, dict) and "clamr_context" in a)
        assert ctx["asr_source"] == "subtitles" and ctx["ocr"] is False and ctx["prompt_subtitles"] == "subtitles"
        assert ctx["selections"] == str(out)


def test_live_log_is_a_selections_file_with_context(live):
    from clamr_frames.selections import read_selections

    answers, _res, _seen, log = live
    recs = read_selections(log)
    assert {r.question_id: r.answer for r in recs} == answers
    assert all(r.extra["context"]["prompt_subtitles"] == "subtitles" and r.ground_truth for r in recs)
    assert all(r.correct == (r.answer.strip()[:1] == r.ground_truth) for r in recs)


def test_fingerprint_mismatch_and_missing_question_are_named(selections_file, task_manager, tmp_path):
    from clamr_frames.errors import InputError
    from clamr_frames.selections import read_selections, write_selections
    from qa_harness.model import ClamrFrames

    out, _ = selections_file
    recs = read_selections(out)
    recs[0].video_fingerprint = "0" * 64
    bad = tmp_path / "bad.jsonl"
    write_selections(bad, recs)
    model = ClamrFrames(selections=str(bad), k=K, inner_ocr="false")
    with pytest.raises(InputError, match=rf"bad\.jsonl: question '{recs[0].question_id}': video fingerprint mismatch"):
        _run(model, task_manager)
    with pytest.raises(InputError, match=r"k=5, but .* holds selections of k=\[2\]"):
        ClamrFrames(selections=str(out), k=5)
    assert ClamrFrames(selections=str(out)).k == K  # k taken from the file
    short = tmp_path / "short.jsonl"
    write_selections(short, read_selections(out)[1:])
    model = ClamrFrames(selections=str(short), k=K, inner_ocr="false")
    with pytest.raises(InputError, match=rf"short\.jsonl: no selection for question_id '{recs[0].question_id}'"):
        _run(model, task_manager)


def test_cli_select_task(synth_dir, tmp_path):
    from qa_harness.__main__ import main

    out = tmp_path / "cli.jsonl"
    assert main(["select-task", "synthetic_videoqa", "--include_path", str(synth_dir), "--model_args",
                 f"policy=uniform,k={K},ocr=false,index_dir={tmp_path / 'idx'}", "-o", str(out), "--limit", "1",
                 "--quiet"]) == 0
    (rec,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert rec["policy"]["name"] == "uniform" and rec["format"] == "clamr-frames/selections"
    assert main(["select-task", "nope_task", "--include_path", str(synth_dir), "-o", str(out)]) == 2


def test_mlvu_round_trip(selector, synth_dir, task_manager, tmp_path, monkeypatch):
    """The MLVU stand-in: selected on one task, answered on its _paper variant from the file, as live."""
    from clamr_frames import FrameSelector
    from qa_harness.model import ClamrFrames
    from qa_harness.select_task import select_task

    live_answers, _res, live_seen = _run(ClamrFrames(k=K, selector=selector, inner_ocr="false"), task_manager,
                                         task="synthetic_mlvu_paper")
    out = tmp_path / "mlvu.jsonl"
    select_task(["synthetic_mlvu"], out, {"k": str(K)}, include_path=str(synth_dir), selector=selector,
                progress=False)

    def no_scorer(*a, **kw):
        raise AssertionError("a scorer was constructed")

    monkeypatch.setattr(FrameSelector, "__init__", no_scorer)
    answers, _res, seen = _run(ClamrFrames(selections=str(out), k=K, inner_ocr="false"), task_manager,
                               task="synthetic_mlvu_paper")
    assert answers == live_answers and sorted(seen) == sorted(live_seen)
