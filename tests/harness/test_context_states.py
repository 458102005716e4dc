"""The three context states as distinct, comparable runs: without subtitles, with the subtitle file, with our
speech-recognised transcript. Each per-sample row and each selections record says which one it used.

Speech recognition itself is replaced by a transcript made from the subtitle file with its lines marked, so the test
sees which source reached the prompt (Whisper on CPU is exercised by the ASR tests)."""

from __future__ import annotations

import os

import pytest

from testkit.extras import require_extra

require_extra("eval")
pytestmark = pytest.mark.slow  # runs lmms-eval's evaluator three times on a generated video


@pytest.fixture()
def fake_transcripts(monkeypatch):
    from clamr_frames.context import asr
    from clamr_frames.context.asr import Transcript
    from clamr_frames.context.subtitles import Cue, load_subtitles

    calls = []

    def fake(path, settings=None, *, cache=None, progress=True, **kw):
        calls.append(str(path))
        srt = os.path.join(os.path.dirname(os.path.dirname(str(path))), "subtitle",
                           os.path.splitext(os.path.basename(str(path)))[0] + ".srt")
        cues = tuple(Cue(c.start, c.end, c.text + " heardword") for c in load_subtitles(srt).cues)
        return Transcript(cues=cues, path=str(path), model_id="fake-whisper")

    monkeypatch.setattr(asr, "cached_transcribe", fake)
    return calls


def test_without_with_subtitles_with_transcript(tmp_path, monkeypatch, fake_transcripts):
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from clamr_frames import FrameSelector
    from clamr_frames.index import IndexSettings
    from clamr_frames.selections import read_selections
    from qa_harness.make_synthetic import make_synthetic
    from qa_harness.model import ClamrFrames

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_datasets"))
    monkeypatch.setenv("CLAMR_FRAMES_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "videomme"
    make_synthetic(out, n_videos=1, duration=40.0, needles_per_kind=1, frame_num=8)
    tm = TaskManager("ERROR", include_path=[str(out)], include_defaults=False, model_name="clamr_frames")
    selector = FrameSelector.from_pretrained("default", settings=IndexSettings(fps=1.0), index_dir=tmp_path / "idx",
                                             progress=False, ocr=False)
    log = tmp_path / "log.jsonl"
    # asr=subtitles: the scorer's context stays the subtitle file, so only the prompt's source differs between runs
    model = ClamrFrames(k=2, selector=selector, inner_ocr="false", asr="subtitles", log_selections=str(log))
    prompts: dict[str, list[str]] = {}
    inner = model.answerer

    class Spy:
        def generate(self, reqs):
            for r in reqs:
                prompts.setdefault(r.task, []).append(r.prompt)
            return inner.generate(reqs)

    model.answerer = Spy()
    tasks = ["synthetic_videoqa", "synthetic_videoqa_w_subtitle", "synthetic_videoqa_w_transcript"]
    res = simple_evaluate(model=model, tasks=tasks, task_manager=tm, log_samples=True, verbosity="ERROR")
    assert set(tasks) <= set(res["results"])  # three distinct runs, each with its own result
    want = {"synthetic_videoqa": "none", "synthetic_videoqa_w_subtitle": "subtitles",
            "synthetic_videoqa_w_transcript": "transcript"}
    for task in tasks:
        for s in res["samples"][task]:
            ctx = next(a["clamr_context"] for a in s["arguments"] if isinstance(a, dict) and "clamr_context" in a)
            assert ctx["prompt_subtitles"] == want[task] and ctx["asr_source"] == "subtitles" and ctx["ocr"] is False
    assert not any("subtitles are listed below" in p for p in prompts["synthetic_videoqa"])
    assert all("heardword" not in p for p in prompts["synthetic_videoqa_w_subtitle"])
    heard = [p for p in prompts["synthetic_videoqa_w_transcript"] if "heardword" in p]
    assert heard and all("subtitles are listed below" in p for p in prompts["synthetic_videoqa_w_transcript"])
    recs = read_selections(log)
    assert {r.extra["context"]["prompt_subtitles"] for r in recs} == {"none", "subtitles", "transcript"}
    assert all(r.asr_source == "subtitles" for r in recs)


def test_transcript_task_prompt_for_ordinary_models(tmp_path, monkeypatch, fake_transcripts):
    """The _w_transcript prompt an ordinary lmms-eval model gets: the _w_subtitle block, from our transcript."""
    import json

    from qa_harness.make_synthetic import make_synthetic
    from qa_harness.tasks import utils as tu

    monkeypatch.setenv("CLAMR_FRAMES_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "syn"
    make_synthetic(out, n_videos=1, duration=20.0, needles_per_kind=1, frame_num=8)
    doc = json.loads((out / "synthetic_videoqa.json").read_text())[0]
    with_subs = tu.videomme_doc_to_text_subtitle(doc, {"frame_num": 8})
    with_transcript = tu.videomme_doc_to_text_transcript(doc, {"frame_num": 8})
    assert with_transcript.replace(" heardword", "") == with_subs and "heardword" in with_transcript
    assert tu.mark_transcript([doc])[0]["subtitle_source"] == "transcript"
