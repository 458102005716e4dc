"""The Video-MME / LongVideoBench task files (qa_harness/tasks), as each row of CLaMR's Table 4 needs them:

- the "no sample" row (lmms-eval's ``qwen2_5_vl``) gets the subtitle lines of 768 frames, other models 32
  (per-model ``lmms_eval_specific_kwargs``, resolved by lmms-eval itself);
- the ``_paper`` tasks write the CLaMR notebook's prompt exactly;
- Video-MME lines are in time order (where lmms-eval's ``list(set(...))`` is not);
- the long-subset filters log their document counts (900 / 300 for Video-MME long).
(The notebook's subtitle format in the clamr_frames model: test_notebook_format.py.)

Fixture documents in the benchmarks' schemas; videos are generated (coded frames), nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.extras import require_extra

from clamr_frames.context.subtitles import Cue, load_subtitles
from qa_harness.subtitles import (
    block_format,
    split_subtitle_block,
)
from qa_harness.tasks import utils as tu
from testkit.prompts import VMME_OPTIONS, VMME_SECONDS, block_lines, notebook_prompt

REPO = Path(__file__).resolve().parents[2]
TASK_DIR = REPO / "qa_harness" / "tasks"


# -- the notebook's prompt, exactly --------------------------------------------------------------------------


def test_paper_task_prompt_is_the_notebooks(vmme_clip):
    doc = vmme_clip["doc"]
    text = tu.videomme_doc_to_text_subtitle_paper(doc, {"frame_num": 2 * VMME_SECONDS})
    # Every native frame once: one line per frame, "" at whole seconds; the notebook drops the empty ones and
    # concatenates the rest without a separator.
    want = "".join(f"line {i:02d}." for i in range(VMME_SECONDS))
    assert text == notebook_prompt(doc["question"], VMME_OPTIONS, want)
    # 768 frames of a 120-frame video repeat native frames, and each repeat shows its line again (one line per
    # frame shown, as the notebook's subtitles.txt).
    many = split_subtitle_block(tu.videomme_doc_to_text_subtitle_paper(doc, {}))[1]
    assert many.count("line 00.") >= 3 and many.replace("line 00.", "").startswith("line 01.")
    assert block_format(text) == "clamr-notebook"
    # Without a subtitle file the block reads N/A (the notebook's empty block).
    none = tu.videomme_doc_to_text_subtitle_paper(dict(doc, subtitle_path="/nonexistent.srt", videoID="zz"), {})
    assert none == notebook_prompt(doc["question"], VMME_OPTIONS, "N/A")
    # The frames-only prompt is the notebook's get_text_prompt.
    plain = tu.videomme_doc_to_text(doc, {})
    assert plain == notebook_prompt(doc["question"], VMME_OPTIONS, "").split("\n", 2)[2]


# -- Video-MME lines in time order ----------------------------------------------------------------------------


def test_videomme_lines_are_in_time_order_where_lmms_eval_scrambles(vmme_clip):
    subs = load_subtitles(vmme_clip["srt"])
    assert tu.uniform_subtitle_lines(vmme_clip["video"], subs, 768) == [f"line {i:02d}." for i in range(VMME_SECONDS)]
    # A long video has hundreds of cues: here 600 cues of 0.1 s, so the 120 native frames (every 0.5 s) show
    # cues 0, 5, ..., 595. lmms-eval collects those indices with list(set(...)), which iterates in hash-table
    # order (595 comes before 5); the lines must still come back in time order.
    cues = [Cue(i / 10, (i + 1) / 10, f"cue {i:03d}.") for i in range(600)]
    times = tu.uniform_frame_times(vmme_clip["video"], 768)
    shown = [i for i, c in enumerate(cues) if any(c.start <= t < c.end for t in times)]
    assert list(set(shown)) != sorted(shown)  # the case lmms-eval scrambles
    lines = tu.uniform_subtitle_lines(vmme_clip["video"], cues, 768)
    assert lines == [f"cue {i:03d}." for i in sorted(shown)] and len(lines) == 2 * VMME_SECONDS


# -- document counts ------------------------------------------------------------------------------------------


def _vmme_docs(n_videos, per_video, duration="long"):
    return [{"videoID": f"{duration}{v:03d}", "duration": duration, "question_id": f"{v}-{q}"}
            for v in range(n_videos) for q in range(per_video)]


def test_videomme_long_filter_counts_and_logs(monkeypatch):
    from datasets import Dataset

    said = []
    monkeypatch.setattr(tu, "_report", lambda msg, warn=False: said.append((warn, msg)))
    full = Dataset.from_list(_vmme_docs(300, 3) + _vmme_docs(300, 3, "short") + _vmme_docs(300, 3, "medium"))
    out = tu.videomme_process_docs_long(full)
    assert tu.doc_counts(out, "videoID") == (900, 300) and set(out["duration"]) == {"long"}
    assert said == [(False, "Video-MME long: 900 questions on 300 videos")]
    said.clear()
    partial = Dataset.from_list(_vmme_docs(2, 3) + _vmme_docs(1, 3, "short"))
    assert tu.doc_counts(tu.videomme_process_docs_long(partial), "videoID") == (6, 2)
    (warn, msg), = said
    assert warn and "6 questions on 2 videos" in msg and "900 on 300" in msg


def test_lvb_long_filter_counts_and_logs(monkeypatch):
    from datasets import Dataset

    said = []
    monkeypatch.setattr(tu, "_report", lambda msg, warn=False: said.append((warn, msg)))
    rows = [{"video_path": f"g{g}_{i // 2}.mp4", "duration_group": g, "duration": d}
            for g, d in ((15, 10.0), (60, 40.0), (600, 400.0), (3600, 1800.0)) for i in range(6)]
    out = tu.lvb_process_docs_long(Dataset.from_list(rows))
    assert tu.doc_counts(out, "video_path") == (6, 3) and set(out["duration_group"]) == {3600}
    (warn, msg), = said
    assert not warn and "6 questions on 3 videos" in msg and "about 564" in msg
    # Without duration_group the duration decides: (900, 3600] s.
    by_duration = [{"video_path": f"v{i}.mp4", "duration": d} for i, d in enumerate((899.0, 900.5, 3600.0, 3601.0))]
    kept = tu.lvb_process_docs_long(Dataset.from_list(by_duration))
    assert kept["duration"] == [900.5, 3600.0]


# -- per-model kwargs, as lmms-eval resolves them ----------------------------------------------------------


def _fixture_task(vmme_clip, task: str, tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "docs.json").write_text(json.dumps([vmme_clip["doc"]]))
    (tmp_path / f"fixture_{task}.yaml").write_text(
        f"task: fixture_{task}\ninclude: {TASK_DIR / (task + '.yaml')}\n"
        f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {tmp_path / 'docs.json'}\n"
    )
    return tmp_path


@pytest.fixture()
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_datasets"))


def _task(vmme_clip, task, model_name, tmp_path):
    require_extra("eval")
    from lmms_eval.tasks import TaskManager, get_task_dict

    folder = _fixture_task(vmme_clip, task, tmp_path)
    tm = TaskManager("ERROR", include_path=str(folder), include_defaults=False, model_name=model_name)
    return get_task_dict([f"fixture_{task}"], tm)[f"fixture_{task}"]


@pytest.mark.slow
def test_no_sample_row_sees_the_lines_of_768_frames(vmme_clip, offline, tmp_path):
    qwen = _task(vmme_clip, "clamr_videomme_long_w_subtitle", "qwen2_5_vl", tmp_path / "q")
    other = _task(vmme_clip, "clamr_videomme_long_w_subtitle", "llava_onevision", tmp_path / "o")
    assert qwen.lmms_eval_specific_kwargs["frame_num"] == 768
    assert other.lmms_eval_specific_kwargs["frame_num"] == 32
    doc = qwen.test_docs()[0]
    all_lines = block_lines(qwen.doc_to_text(doc))
    few = block_lines(other.doc_to_text(doc))
    assert all_lines == [f"line {i:02d}." for i in range(VMME_SECONDS)]
    assert 0 < len(few) < 32 and set(few) < set(all_lines)
    # The rest of the prompt is the same for both (the qwen2_5_vl entry repeats default's prompts).
    assert qwen.doc_to_text(doc).split("\nSelect", 1)[1] == other.doc_to_text(doc).split("\nSelect", 1)[1]


def test_paper_tasks_ask_for_128_tokens_and_768_frames(vmme_clip, offline, tmp_path):
    task = _task(vmme_clip, "clamr_videomme_long_w_subtitle_paper", "clamr_frames", tmp_path / "p")
    assert task.config.generation_kwargs["max_new_tokens"] == 128
    assert task.lmms_eval_specific_kwargs["frame_num"] == 768
    doc = task.test_docs()[0]
    assert task.doc_to_text(doc) == tu.videomme_doc_to_text_subtitle_paper(doc, {"frame_num": 768})
    plain = _task(vmme_clip, "clamr_videomme_long_paper", "clamr_frames", tmp_path / "n")
    assert plain.config.generation_kwargs["max_new_tokens"] == 128
    assert split_subtitle_block(plain.doc_to_text(plain.test_docs()[0]))[1] is None


def test_lvb_template_gives_qwen_768_frames_too():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    for name in ("_clamr_videomme_template_yaml", "_clamr_lvb_template_yaml"):
        kw = yaml.load((TASK_DIR / name).read_text(), Loader=Loader)["lmms_eval_specific_kwargs"]
        # lmms-eval uses a matching model's entry instead of default, so it must be complete.
        assert kw["qwen2_5_vl"] == dict(kw["default"], frame_num=768), name


