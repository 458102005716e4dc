"""The clamr_frames lmms-eval model end to end: lmms-eval's own evaluator (in process and its CLI) on the offline
synthetic task, registration (entry point + runtime), both request forms, subtitle policies, the Video-MME and
LongVideoBench task variants on local fixture documents in their exact schemas, and the real inner-model paths
(transformers Qwen2.5-VL and lmms-eval's own qwen2_5_vl class) on a tiny random Qwen2.5-VL.

Needs the ``eval`` extra (lmms-eval): ``testkit.extras.require_extra`` skips without it, or fails where the extras are
meant to be installed (CI, ``bash run.sh test``). Nothing is downloaded: videos are generated.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from testkit.extras import require_extra

require_extra("eval")

#: lmms-eval's evaluator end to end (runs over generated videos, its CLI, inner models): minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("offline_env")]


REPO = Path(__file__).resolve().parents[2]
K = 2


@pytest.fixture(scope="module")
def docs(synth_dir):
    return json.loads((synth_dir / "synthetic_videoqa.json").read_text())


class CountingEncoder:
    """A real encoder that counts the documents it encodes (to check each video is indexed once)."""

    def __init__(self, inner):
        self.inner = inner
        self.docs_encoded = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_documents(self, docs):
        self.docs_encoded += len(docs)
        return self.inner.encode_documents(docs)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("index_cache")


@pytest.fixture(scope="module")
def selector(cache_dir):
    from clamr_frames import FrameSelector
    from clamr_frames.index import IndexSettings

    sel = FrameSelector.from_pretrained("default", settings=IndexSettings(fps=1.0), index_dir=cache_dir, progress=False,
                                        ocr=False)
    sel.encoder = CountingEncoder(sel.encoder)
    return sel


@pytest.fixture(scope="module")
def task_manager(synth_dir):
    from lmms_eval.tasks import TaskManager

    # Only our folders (lmms-eval's ~2,000 built-in tasks are not needed here and take ~10 s to index).
    return TaskManager("ERROR", include_path=[str(synth_dir)], include_defaults=False, model_name="clamr_frames")


def _evaluate(model, task_manager, tasks=("synthetic_videoqa",), **kw):
    from lmms_eval.evaluator import simple_evaluate

    return simple_evaluate(
        model=model, tasks=list(tasks), task_manager=task_manager, log_samples=True, verbosity="ERROR", **kw
    )


def _answers(res, task="synthetic_videoqa"):
    return {s["doc"]["question_id"]: s["filtered_resps"][0] for s in res["samples"][task]}


def _correct_by_kind(res, task="synthetic_videoqa"):
    out: dict[str, list[float]] = {}
    for s in res["samples"][task]:
        out.setdefault(s["doc"]["needle"]["kind"], []).append(s["videomme_perception_score"]["score"])
    return out


@pytest.fixture(scope="module")
def runs(task_manager, selector, tmp_path_factory):
    """topk vs uniform at the same k through lmms-eval's evaluator (simple form), sharing one selector. The
    answerer reads the subtitle lines it is shown and no on-screen text (``inner_ocr=false``), so what it can
    answer follows from the ground truth alone."""
    from qa_harness.model import ClamrFrames

    out = {}
    logs = tmp_path_factory.mktemp("selections")
    for policy in ("topk", "uniform"):
        log = logs / f"{policy}.jsonl"
        model = ClamrFrames(policy=policy, k=K, subtitles="selected", selector=selector, inner_ocr="false",
                            log_selections=str(log))
        out[policy] = _evaluate(model, task_manager)
        out[policy]["picked"] = {r["question_id"]: r["timestamps"] for r in map(json.loads, log.open())}
    return out


def _expected_accuracy(picked: dict[str, list[float]], docs) -> float:
    """Accuracy (%) the ground truth predicts: a subtitle question is answered right exactly when a picked frame
    lies inside its needle's span (then its line is among the selected frames' lines); any other question gets
    the answerer's fixed no-evidence guess, right when that letter is the answer."""
    from qa_harness.answerers import fallback_letter
    from qa_harness.docs import mcq_from_doc

    right = 0
    for doc in docs:
        nd = doc["needle"]
        shown = any(nd["start"] <= t <= nd["end"] for t in picked[doc["question_id"]])
        if nd["kind"] == "asr" and shown:
            right += 1
        else:
            right += fallback_letter(mcq_from_doc(doc)) == doc["answer"]
    return 100.0 * right / len(docs)


def test_selection_beats_uniform_on_the_synthetic_task(runs, selector, docs):
    metric = "videomme_perception_score,none"
    top, uni = runs["topk"]["results"]["synthetic_videoqa"][metric], runs["uniform"]["results"]["synthetic_videoqa"][metric]
    # The accuracies lmms-eval reports are the ones the ground truth predicts for the frames each policy picked.
    assert top == pytest.approx(_expected_accuracy(runs["topk"]["picked"], docs))
    assert uni == pytest.approx(_expected_accuracy(runs["uniform"]["picked"], docs))
    # The default scorer reads subtitles, so topk shows every subtitle needle; uniform misses some.
    assert _correct_by_kind(runs["topk"])["asr"] == [1.0, 1.0]
    assert _correct_by_kind(runs["uniform"])["asr"] != [1.0, 1.0]
    assert top > uni
    assert len(runs["topk"]["samples"]["synthetic_videoqa"]) == len(docs) == 6
    assert set(_answers(runs["topk"]).values()) <= set("ABCD")
    # 2 videos x 40 candidates, encoded once for 12 questions
    assert selector.encoder.docs_encoded == 80


def test_runtime_registration_resolves_both_forms():
    # The chat form (lmms-eval's default) runs end to end in the CLI test below; --force_simple gets the other.
    from qa_harness.lmms_plugin import register
    from qa_harness.model import ClamrFrames, ClamrFramesChat

    register()
    from lmms_eval.models import get_model

    assert get_model("clamr_frames") is ClamrFramesChat and ClamrFramesChat.is_simple is False
    assert get_model("clamr_frames", force_simple=True) is ClamrFrames and ClamrFrames.is_simple is True


# lmms-eval's results table row: |synthetic_videoqa|none|0|videomme_perception_score|↑|66.6667|±|...
_RESULT_ROW = re.compile(
    r"^\|synthetic_videoqa\|none\s*\|\s*0\|videomme_perception_score\|.\s*\|\s*([0-9.]+)\|", re.MULTILINE
)


def test_cli_runs_the_entry_point_model_end_to_end(runs, synth_dir, cache_dir, tmp_path):
    """`python -m lmms_eval --model clamr_frames ...` in a fresh process: the model is found through the
    `lmms_eval.models` entry point the pyproject declares (a dist-info carrying it is put on the path, so this
    holds for a source checkout too), runs in lmms-eval's default (chat) form, prints the accuracy table."""
    dist = tmp_path / "ep" / "clamr_frames_ep-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: clamr-frames-ep\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[lmms_eval.models]\nclamr_frames = qa_harness.lmms_plugin:manifests\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(dist.parent), str(REPO)]))
    out_dir = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "lmms_eval", "--model", "clamr_frames",
        "--model_args", f"policy=topk,k={K},ocr=false,subtitles=selected,inner_ocr=false,index_dir={cache_dir}",
        "--tasks", "synthetic_videoqa", "--include_path", str(synth_dir),
        "--batch_size", "1", "--output_path", str(out_dir), "--log_samples", "--verbosity", "WARNING",
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    m = _RESULT_ROW.search(proc.stdout)
    assert m, proc.stdout[-3000:]
    metric = "videomme_perception_score,none"
    assert float(m.group(1)) == pytest.approx(runs["topk"]["results"]["synthetic_videoqa"][metric], abs=1e-3)
    samples = [json.loads(line) for f in out_dir.rglob("*_samples_synthetic_videoqa.jsonl") for line in f.open()]
    by_id = {s["doc_id"]: s["filtered_resps"] for s in samples}
    expected = {s["doc_id"]: s["filtered_resps"][0] for s in runs["topk"]["samples"]["synthetic_videoqa"]}
    assert {i: (a[0] if isinstance(a, list) else a) for i, a in by_id.items()} == expected


def _instance(doc, prompt, task="t", doc_id=0, visual_fn=None):
    from lmms_eval.api.instance import Instance

    from qa_harness.tasks import utils as tu

    return Instance(
        request_type="generate_until",
        arguments=(prompt, {"max_new_tokens": 4, "until": ["\n\n"]}, visual_fn or tu.videomme_doc_to_visual, doc_id,
                   task, "test"),
        idx=0,
        metadata={"task": task, "doc_id": doc_id, "repeats": 1},
    )


def test_subtitle_policies_inside_the_model(selector, docs):
    from qa_harness.model import ClamrFrames
    from qa_harness.subtitles import SUBTITLE_HEADER, split_subtitle_block
    from qa_harness.tasks import utils as tu

    doc = next(d for d in docs if d["needle"]["kind"] == "asr")
    prompt = tu.videomme_doc_to_text_subtitle(doc, {"frame_num": 8})
    uniform_lines = split_subtitle_block(prompt)[1].splitlines()
    got = {}
    for policy in ("auto", "selected", "none", "all"):
        m = ClamrFrames(policy="topk", k=K, subtitles=policy, selector=selector)
        m.task_dict = {"t": {"test": {0: doc}}}
        req, sel = m.build_request(_instance(doc, prompt))
        got[policy] = req
        assert len(req.frames) == K and req.timestamps == sorted(req.timestamps)
        assert [round(t, 3) for t in req.timestamps] == [round(float(t), 3) for t in sel.timestamps]
    needle_line = next(line for line in got["all"].subtitle_lines if doc["needle"]["key"] in line)
    assert got["auto"].prompt == got["selected"].prompt
    assert got["selected"].subtitle_lines and needle_line in got["selected"].subtitle_lines
    assert len(got["selected"].subtitle_lines) <= K
    assert split_subtitle_block(got["selected"].prompt)[1].splitlines() == got["selected"].subtitle_lines
    assert not set(uniform_lines) - set(got["all"].subtitle_lines)  # the task's uniform lines are a subset ...
    assert SUBTITLE_HEADER not in got["none"].prompt and got["none"].subtitle_lines == []
    assert got["none"].prompt.endswith(prompt.split("\n", 1)[1].split(tu.INSTRUCTION_SUBS)[1])
    # ... and without a block in the task prompt, "auto" adds none
    m = ClamrFrames(k=K, selector=selector)
    m.task_dict = {"t": {"test": {0: doc}}}
    plain = tu.videomme_doc_to_text(doc, {})
    req, picked = m.build_request(_instance(doc, plain))
    assert req.prompt == plain
    # no policy arg: the scorer's default policy ran, and the record says which
    assert m.policy is None and picked.record.policy["name"] == selector.default_policy


def test_bad_model_args_are_input_errors(selector):
    from clamr_frames.errors import InputError
    from qa_harness.model import ClamrFrames

    with pytest.raises(InputError, match="unknown model args"):
        ClamrFrames(selector=selector, frames=3)
    with pytest.raises(InputError, match="subtitles must be one of"):
        ClamrFrames(selector=selector, subtitles="some")
    with pytest.raises(InputError, match="k must be"):
        ClamrFrames(selector=selector, k=0)
    with pytest.raises(InputError, match="asr must be one of"):
        ClamrFrames(selector=selector, asr="maybe")
    from clamr_frames.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="nonexistent"):  # scorer_<key> reaches the scorer's encoder
        _ = ClamrFrames(scorer="default", scorer_weights="/nonexistent/minilm").selector


def test_asr_false_hides_subtitles_from_the_scorer_only(selector, docs):
    from qa_harness.model import ClamrFrames
    from qa_harness.tasks import utils as tu

    seen = []

    class Spy:
        def __getattr__(self, name):
            return getattr(selector, name)

        def select(self, *args, **kwargs):
            seen.append((kwargs["subtitles"], kwargs["asr"]))
            return selector.select(*args, **kwargs)

    doc = next(d for d in docs if d["needle"]["kind"] == "asr")
    for asr in (True, False, "whisper"):
        m = ClamrFrames(k=K, subtitles="all", asr=asr, selector=Spy())
        m.task_dict = {"t": {"test": {0: doc}}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # asr=whisper on a video without audio: a notice
            req, _ = m.build_request(_instance(doc, tu.videomme_doc_to_text(doc, {})))
        assert any(doc["needle"]["key"] in line for line in req.subtitle_lines)  # the answerer still gets them
    assert seen[0][0] is not None and seen[0][1] == "auto"
    assert seen[1] == (None, "none") and seen[2] == (None, "whisper")


def test_asr_model_args_reach_the_selector(selector):
    from clamr_frames.errors import InputError
    from qa_harness.model import ClamrFrames

    m = ClamrFrames(asr="whisper", asr_model="small", asr_beam_size="2", asr_vad="false", selector=selector)
    assert m.asr == "whisper" and m.asr_settings.model == "small"
    assert (m.asr_settings.beam_size, m.asr_settings.vad) == (2, False)
    with pytest.raises(InputError, match="unknown speech recognition args"):
        ClamrFrames(asr_colour="red", selector=selector)
    with pytest.raises(InputError, match="asr_beam_size must be of type int"):
        ClamrFrames(asr_beam_size="two", selector=selector)


class RecordingSelector:
    """The real selector, keeping every Selection it returns."""

    def __init__(self, inner):
        self.inner = inner
        self.selections = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def select(self, *args, **kwargs):
        sel = self.inner.select(*args, **kwargs)
        self.selections.append(sel)
        return sel


def _same_frames(pil_frames, sel) -> bool:
    """The frames (PIL) are the Selection's frames, pixel for pixel and in its (temporal) order."""
    import numpy as np

    want = sel.frames
    return len(pil_frames) == len(want) and all(
        np.array_equal(np.asarray(f.convert("RGB")), w) for f, w in zip(pil_frames, want))


def test_qwen_inner_model_gets_exactly_the_selected_frames(selector, docs, tiny_qwen_dir):
    import dataclasses

    import torch
    from PIL import Image

    from qa_harness.model import ClamrFrames
    from qa_harness.tasks import utils as tu

    doc = docs[0]
    # A pixel cap whose decode size (qa_harness.model.decode_side: 327) is above the 320x180 video: the frames are
    # decoded at full size, as Selection.frames decodes them, so they can be compared pixel for pixel.
    pixels = 28 * 28 * 64
    rec = RecordingSelector(selector)
    m = ClamrFrames(inner="qwen2_5_vl", pretrained=str(tiny_qwen_dir), k=4, max_pixels=pixels, device="cpu",
                    selector=rec)
    m.task_dict = {"t": {"test": {0: doc}}}
    inst = _instance(doc, tu.videomme_doc_to_text(doc, {}))
    processor, model_generate = m.answerer.processor, m.answerer.model.generate
    handed, generated = [], []

    class ProcessorSpy:
        def __getattr__(self, name):
            return getattr(processor, name)

        def __call__(self, *a, **kw):
            handed.append(kw.get("videos"))
            return processor(*a, **kw)

    def generate_spy(**kw):
        generated.append(kw)
        return model_generate(**kw)

    m.answerer.processor = ProcessorSpy()
    m.answerer.model.generate = generate_spy
    try:
        out = m.generate_until([inst])
    finally:
        m.answerer.processor = processor
        del m.answerer.model.generate
    assert len(out) == 1 and isinstance(out[0], str)
    (sel,) = rec.selections
    assert list(sel.timestamps) == sorted(sel.timestamps) and len(sel.frames) == 4
    # The processor got one video: the Selection's frames, pixel for pixel, in order ...
    (videos,) = handed
    assert len(videos) == 1 and _same_frames(videos[0], sel)
    # ... and the model got exactly the pixels the processor makes of the Selection's frames.
    req, _ = m.build_request(inst)
    want = m.answerer._inputs(dataclasses.replace(req, frames=[Image.fromarray(f) for f in sel.frames]))
    assert torch.equal(generated[0]["pixel_values_videos"], want["pixel_values_videos"])
    assert torch.equal(generated[0]["video_grid_thw"], want["video_grid_thw"])
    inputs = m.answerer._inputs(req)
    t, h, w = inputs["video_grid_thw"][0].tolist()
    assert t == 2  # 4 frames, temporal patch 2
    assert h * w * 14 * 14 <= pixels
    assert abs(float(inputs["second_per_grid_ts"][0]) - 2 / (4 / 40.0)) < 1e-6  # average rate k / duration
    m.answerer.frames_as = "images"
    assert m.answerer._inputs(req)["image_grid_thw"].shape[0] == 4


def test_lmms_eval_model_class_as_inner_model(selector, docs, tiny_qwen_dir):
    from qa_harness.model import ClamrFrames
    from qa_harness.tasks import utils as tu

    doc = docs[0]
    rec = RecordingSelector(selector)
    m = ClamrFrames(inner="lmms:qwen2_5_vl", pretrained=str(tiny_qwen_dir), k=3, device="cpu", selector=rec,
                    inner_device_map="cpu", inner_max_pixels=28 * 28 * 16, inner_min_pixels=28 * 28 * 4)
    seen = []
    inner_generate = m.answerer.lm.generate_until

    def spy(requests):
        for r in requests:
            ctx, _gk, visual_fn, doc_id, task, split = r.args
            seen.append((ctx, visual_fn(m.answerer.lm.task_dict[task][split][doc_id])))
        return inner_generate(requests)

    m.answerer.lm.generate_until = spy
    m.task_dict = {"t": {"test": {0: doc}}}
    prompt = tu.videomme_doc_to_text(doc, {})
    out = m.generate_until([_instance(doc, prompt)])
    assert len(out) == 1 and isinstance(out[0], str)
    (ctx, frames), = seen
    assert ctx == prompt and len(frames) == 3
    from PIL import Image

    assert all(isinstance(f, Image.Image) for f in frames)
    # The Selection's frames, pixel for pixel and in its temporal order (the harness decodes at full size here:
    # ClamrFrames' default pixel cap is above the 320x180 video).
    (sel,) = rec.selections
    assert list(sel.timestamps) == sorted(sel.timestamps) and _same_frames(frames, sel)


def test_lmms_eval_videomme_task_reads_the_synthetic_layout(synth_dir, docs, monkeypatch):
    require_extra("eval")  # OpenCV comes with lmms-eval
    import lmms_eval.tasks.videomme.utils as vm

    monkeypatch.setattr(vm, "base_cache_dir", str(synth_dir.parent))
    doc = {k: v for k, v in docs[0].items() if k not in ("video_path", "subtitle_path")}
    assert vm.videomme_doc_to_visual(doc) == [str(synth_dir / "data" / f"{doc['videoID']}.mp4")]
    text = vm.videomme_doc_to_text_subtitle(doc, {"frame_num": 40})
    assert "No subtitles available" not in text
    lines = text.split("\n")[1:]
    assert any(len(line.split()) > 3 for line in lines[:3])  # subtitle lines parsed out of the <font> markup
    assert vm.videomme_process_results(doc, [doc["answer"]])["videomme_perception_score"]["score"] == 1.0


TASK_DIR = REPO / "qa_harness" / "tasks"
VARIANTS = {  # our task -> (split, metric)
    "clamr_videomme_long": ("test", "videomme_perception_score"),
    "clamr_videomme_long_w_subtitle": ("test", "videomme_perception_score"),
    "clamr_longvideobench_long": ("validation", "lvb_acc"),
    "clamr_longvideobench_long_w_subtitle": ("validation", "lvb_acc"),
}


def test_task_folder_is_indexed():
    from lmms_eval.tasks import TaskManager

    tm = TaskManager("ERROR", include_path=str(TASK_DIR), include_defaults=False)
    assert set(VARIANTS) <= set(tm.all_tasks)
    assert not any(t.startswith("_clamr") for t in tm.all_tasks)


def _lvb_time(t: float) -> str:
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}"


@pytest.fixture(scope="module")
def bench_home(tmp_path_factory):
    """An $HF_HOME holding Video-MME and LongVideoBench as lmms-eval lays them out, with one generated video,
    documents in the benchmarks' exact schemas (plus one off-subset document each, which the long-subset
    filters must drop), and fixture tasks that include our task yamls with only the dataset made local."""
    from clamr_frames.context.subtitles import load_subtitles
    from clamr_frames.synth import generate_video

    home = tmp_path_factory.mktemp("bench_home")
    v = generate_video(home / "videomme", seed=11, duration=40.0, fps=2.0, needles_per_kind=1, layout="videomme",
                       videomme_markup=True, video_id="fixvid01")
    vm_docs = [
        {"video_id": "901", "duration": "long", "domain": q["domain"], "sub_category": q["sub_category"],
         "url": "https://www.youtube.com/watch?v=fixvid01", "videoID": "fixvid01", "question_id": f"901-{i + 1}",
         "task_type": q["task_type"], "question": q["question"], "options": q["options"], "answer": q["answer"]}
        for i, q in enumerate(v.questions)
    ]
    vm_docs.append(dict(vm_docs[0], duration="short", video_id="902", question_id="902-1"))

    lvb = home / "datasets" / "longvideobench"
    (lvb / "videos").mkdir(parents=True)
    (lvb / "subtitles").mkdir()
    shutil.copy(v.video_path, lvb / "videos" / "fixvid01.mp4")
    cues = load_subtitles(v.srt_path).cues
    (lvb / "subtitles" / "fixvid01_en.json").write_text(json.dumps(
        [{"start": _lvb_time(c.start), "end": _lvb_time(c.end), "line": c.text} for c in cues]))
    lvb_docs = []
    for i, q in enumerate(v.questions):
        texts = [o.split(". ", 1)[1] for o in q["options"]]
        lvb_docs.append({
            "video_id": "fixvid01", "question": q["question"], "question_wo_referring_query": q["question"],
            "candidates": texts, "correct_choice": "ABCD".index(q["answer"]), "position": [0], "topic_category": "NP",
            "question_category": "S2E", "level": "L1-Perception", "id": f"fixvid01_{i}", "video_path": "fixvid01.mp4",
            "subtitle_path": "fixvid01_en.json", "duration_group": 3600, "starting_timestamp_for_subtitles": 0,
            "duration": 1800.0, "view_count": 1, **{f"option{j}": t for j, t in enumerate(texts)}, "option4": "N/A",
        })
    lvb_docs.append(dict(lvb_docs[0], id="fixvid01_short", duration_group=600, duration=500.0))

    tasks = home / "tasks"
    tasks.mkdir()
    (tasks / "videomme.json").write_text(json.dumps(vm_docs))
    (tasks / "lvb.json").write_text(json.dumps(lvb_docs))
    for task, (split, _) in VARIANTS.items():
        data = "videomme.json" if "videomme" in task else "lvb.json"
        (tasks / f"fixture_{task}.yaml").write_text(
            f"task: fixture_{task}\ninclude: {TASK_DIR / (task + '.yaml')}\n"
            f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    {split}: {data}\n"
        )
    return {"home": home, "tasks": tasks, "questions": v.questions}


def test_benchmark_variants_on_fixture_docs(bench_home, selector, monkeypatch, tmp_path):
    """Each Video-MME / LongVideoBench variant loads through our yaml (long-subset filter, prompt, scoring),
    every request goes through selection to the inner model, and the task's own process_results scores it."""
    from lmms_eval.tasks import TaskManager

    from qa_harness.model import ClamrFrames

    monkeypatch.setenv("HF_HOME", str(bench_home["home"]))
    tm = TaskManager("ERROR", include_path=str(bench_home["tasks"]), include_defaults=False, model_name="clamr_frames")
    log = tmp_path / "selections.jsonl"
    # The answerer reads only the subtitle lines it is shown here (no OCR of frames: faster, and not under test).
    model = ClamrFrames(policy="topk", k=K, selector=selector, log_selections=str(log), inner_ocr="false")
    names = [f"fixture_{t}" for t in VARIANTS]
    res = _evaluate(model, tm, tasks=names)
    kinds = [q["needle"]["kind"] for q in bench_home["questions"]]
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    for task, (_split, metric) in VARIANTS.items():
        name = f"fixture_{task}"
        samples = res["samples"][name]
        assert len(samples) == len(kinds)  # the off-subset document was filtered out
        scored = [s[metric] for s in samples]
        assert all(isinstance(d, dict) for d in scored)  # the benchmark's own per-sample record
        assert 0.0 <= res["results"][name][f"{metric},none"] <= (100.0 if "videomme" in task else 1.0)
        mine = [r for r in logged if r["task"] == name]
        assert len(mine) == len(kinds) and all(len(r["timestamps"]) == K for r in mine)
        if task.endswith("_w_subtitle"):
            # subtitles=auto -> the selected frames' lines replace the task's uniform ones; the subtitle
            # needle is then answered from them, and the task's own parser reads the letter.
            assert all(r["subtitle_lines"] > 0 for r in mine)
            asr = [d for d, kd in zip(scored, kinds) if kd == "asr"]
            if "videomme" in task:
                assert [d["score"] for d in asr] == [1.0]
            else:
                assert [d["parsed_pred"] == d["answer"] for d in asr] == [True]
        else:
            assert all(r["subtitle_lines"] == 0 for r in mine)
