"""Reproducing CLaMR's Table 4: what the Video-MME / LongVideoBench tasks and the harness give each row.

- the "no sample" row (lmms-eval's ``qwen2_5_vl``) gets the subtitle lines of 768 frames, other models 32
  (per-model ``lmms_eval_specific_kwargs``, resolved by lmms-eval itself);
- the ``_paper`` tasks and ``subtitle_format=clamr-notebook`` write the CLaMR notebook's prompt exactly;
- Video-MME lines are in time order (where lmms-eval's ``list(set(...))`` is not);
- the long-subset filters log their document counts (900 / 300 for Video-MME long);
- the notebook's pixel cap.

Fixture documents in the benchmarks' schemas; videos are generated (coded frames), nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clamr_frames.context.subtitles import Cue, load_subtitles, write_srt
from qa_harness.subtitles import (
    SUBTITLE_HEADER,
    apply_subtitles,
    block_format,
    frame_lines,
    lines_for_policy,
    split_subtitle_block,
)
from qa_harness.tasks import utils as tu

REPO = Path(__file__).resolve().parents[2]
TASK_DIR = REPO / "qa_harness" / "tasks"
DURATION = 60  # seconds at 2 fps: 120 native frames
OPTIONS = ["A. the red kite", "B. the blue boat", "C. the green door", "D. the grey wall"]


def _vmme(text: str) -> str:
    return f'<font color="white" size=".72c">{text}</font>'


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 60 s video and Video-MME-style subtitles: cue i on screen over [i + 0.2, i + 0.7) s, i = 0..59.

    Frames at whole seconds see no cue and frames at half seconds see one, so 32 uniform frames of the 120
    see at most 32 cues, while 768 (every native frame) see all 60.
    """
    from testkit.media import make_video

    d = tmp_path_factory.mktemp("table4")
    video = make_video(d / "fixvid.mp4", 2 * DURATION, fps=2.0)
    srt = write_srt(d / "fixvid.srt", [Cue(i + 0.2, i + 0.7, _vmme(f"line {i:02d}.")) for i in range(DURATION)])
    doc = {"videoID": "fixvid", "video_id": "001", "duration": "long", "domain": "Knowledge",
           "sub_category": "Humanity & History", "task_type": "Counting Problem", "question_id": "001-1",
           "question": "What does the speaker point at?", "options": OPTIONS, "answer": "B",
           "video_path": str(video), "subtitle_path": str(srt)}
    return {"dir": d, "video": video, "srt": srt, "doc": doc}


# -- the notebook's prompt, exactly --------------------------------------------------------------------------


def _notebook_prompt(question, options, subtitles):
    """The CLaMR notebook's get_text_prompt_with_subtitles, as its text reads (subtitles already joined)."""
    return (
        "This video's subtitles are listed below:\n" + subtitles + "\n"
        "Select the best answer to the following multiple-choice question based on the video. "
        "Respond with only the letter (A, B, C, or D) of the correct option.\n"
        + question + "\n" + "\n".join(options) + "\nThe best answer is:"
    )


def test_paper_task_prompt_is_the_notebooks(clip):
    doc = clip["doc"]
    text = tu.videomme_doc_to_text_subtitle_paper(doc, {"frame_num": 2 * DURATION})
    # Every native frame once: one line per frame, "" at whole seconds; the notebook drops the empty ones and
    # concatenates the rest without a separator.
    want = "".join(f"line {i:02d}." for i in range(DURATION))
    assert text == _notebook_prompt(doc["question"], OPTIONS, want)
    # 768 frames of a 120-frame video repeat native frames, and each repeat shows its line again (one line per
    # frame shown, as the notebook's subtitles.txt).
    many = split_subtitle_block(tu.videomme_doc_to_text_subtitle_paper(doc, {}))[1]
    assert many.count("line 00.") >= 3 and many.replace("line 00.", "").startswith("line 01.")
    assert block_format(text) == "clamr-notebook"
    # Without a subtitle file the block reads N/A (the notebook's empty block).
    none = tu.videomme_doc_to_text_subtitle_paper(dict(doc, subtitle_path="/nonexistent.srt", videoID="zz"), {})
    assert none == _notebook_prompt(doc["question"], OPTIONS, "N/A")
    # The frames-only prompt is the notebook's get_text_prompt.
    plain = tu.videomme_doc_to_text(doc, {})
    assert plain == _notebook_prompt(doc["question"], OPTIONS, "").split("\n", 2)[2]


def test_frame_lines_repeat_a_line_per_frame():
    cues = [Cue(0.0, 2.5, "a."), Cue(3.0, 4.0, "b.")]
    assert frame_lines(cues, [0.5, 1.0, 2.0, 2.7, 3.5]) == ["a.", "a.", "a.", "", "b."]
    assert lines_for_policy(cues, [1.0, 3.5], "selected", per_frame=True) == ["a.", "b."]
    assert lines_for_policy(cues, [1.0], "all", per_frame=True, all_timestamps=[0.0, 1.0, 3.2]) == ["a.", "a.", "b."]
    assert lines_for_policy(cues, [1.0, 2.0], "selected") == ["a."]  # lmms-eval format: each line once
    prompt = _notebook_prompt("Q?", OPTIONS, "old.")
    out = apply_subtitles(prompt, frame_lines(cues, [0.5, 1.0, 2.7]), "auto")
    assert out == _notebook_prompt("Q?", OPTIONS, "a.a.")  # the format of the task's block is kept
    assert apply_subtitles(prompt, [], "selected") == _notebook_prompt("Q?", OPTIONS, "N/A")
    assert apply_subtitles(prompt, ["x."], "selected", "lmms-eval").startswith(SUBTITLE_HEADER + "x.\nSelect")
    assert split_subtitle_block(prompt)[1] == "old."


def test_notebook_pixel_cap():
    from qa_harness.answerers import NOTEBOOK_MAX_PIXELS, NOTEBOOK_MIN_PIXELS

    # 65536 tokens * 0.8 shared by 768 frames, 2 frames per temporal patch: 107,042 pixels, above 1.05 x min.
    assert (NOTEBOOK_MIN_PIXELS, NOTEBOOK_MAX_PIXELS) == (100_352, 107_042)
    assert NOTEBOOK_MAX_PIXELS < 360 * 420  # below this harness's default cap


# -- Video-MME lines in time order ----------------------------------------------------------------------------


def test_videomme_lines_are_in_time_order_where_lmms_eval_scrambles(clip):
    subs = load_subtitles(clip["srt"])
    lines = tu.uniform_subtitle_lines(clip["video"], subs, 768)
    assert lines == [f"line {i:02d}." for i in range(DURATION)]
    # lmms-eval collects the same cue indices with list(set(...)): for 60 cues a set of ints iterates in
    # hash-table order, not time order (here 0..59 fit the table, so show it on indices a long video has).
    long_video_cues = [3, 130, 257]
    assert list(set(long_video_cues)) != sorted(long_video_cues)


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


def _fixture_task(clip, task: str, tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "docs.json").write_text(json.dumps([clip["doc"]]))
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


def _task(clip, task, model_name, tmp_path):
    pytest.importorskip("lmms_eval")
    from lmms_eval.tasks import TaskManager, get_task_dict

    folder = _fixture_task(clip, task, tmp_path)
    tm = TaskManager("ERROR", include_path=str(folder), include_defaults=False, model_name=model_name)
    return get_task_dict([f"fixture_{task}"], tm)[f"fixture_{task}"]


def _block_lines(prompt: str) -> list[str]:
    return split_subtitle_block(prompt)[1].splitlines()


def test_no_sample_row_sees_the_lines_of_768_frames(clip, offline, tmp_path):
    qwen = _task(clip, "clamr_videomme_long_w_subtitle", "qwen2_5_vl", tmp_path / "q")
    other = _task(clip, "clamr_videomme_long_w_subtitle", "llava_onevision", tmp_path / "o")
    assert qwen.lmms_eval_specific_kwargs["frame_num"] == 768
    assert other.lmms_eval_specific_kwargs["frame_num"] == 32
    doc = qwen.test_docs()[0]
    all_lines = _block_lines(qwen.doc_to_text(doc))
    few = _block_lines(other.doc_to_text(doc))
    assert all_lines == [f"line {i:02d}." for i in range(DURATION)]
    assert 0 < len(few) < 32 and set(few) < set(all_lines)
    # The rest of the prompt is the same for both (the qwen2_5_vl entry repeats default's prompts).
    assert qwen.doc_to_text(doc).split("\nSelect", 1)[1] == other.doc_to_text(doc).split("\nSelect", 1)[1]


def test_paper_tasks_ask_for_128_tokens_and_768_frames(clip, offline, tmp_path):
    task = _task(clip, "clamr_videomme_long_w_subtitle_paper", "clamr_frames", tmp_path / "p")
    assert task.config.generation_kwargs["max_new_tokens"] == 128
    assert task.lmms_eval_specific_kwargs["frame_num"] == 768
    doc = task.test_docs()[0]
    assert task.doc_to_text(doc) == tu.videomme_doc_to_text_subtitle_paper(doc, {"frame_num": 768})
    plain = _task(clip, "clamr_videomme_long_paper", "clamr_frames", tmp_path / "n")
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


# -- the clamr_frames model in the notebook format ------------------------------------------------------------


def test_model_writes_the_notebook_block_per_selected_frame(clip, tmp_path):
    pytest.importorskip("lmms_eval")
    from lmms_eval.api.instance import Instance

    from clamr_frames import FrameSelector
    from clamr_frames.index import IndexSettings
    from qa_harness.model import ClamrFrames

    # Candidates every 0.5 s: those at half seconds have a subtitle line, those at whole seconds none.
    selector = FrameSelector.from_pretrained("default", settings=IndexSettings(fps=2.0), index_dir=tmp_path / "cache",
                                             progress=False)
    doc = dict(clip["doc"], question="What came right after line 41?")

    def request(prompt):
        return Instance(request_type="generate_until",
                        arguments=(prompt, {"max_new_tokens": 128}, tu.videomme_doc_to_visual, 0, "t", "test"),
                        idx=0, metadata={"task": "t", "doc_id": 0, "repeats": 1})

    def model(**kw):
        m = ClamrFrames(k=4, selector=selector, **kw)
        m.task_dict = {"t": {"test": {0: doc}}}
        return m

    paper_prompt = tu.videomme_doc_to_text_subtitle_paper(doc, {"frame_num": 768})
    for fmt in ("auto", "clamr-notebook"):
        m = model(subtitles="selected", subtitle_format=fmt)
        req, sel = m.build_request(request(paper_prompt if fmt == "auto" else tu.videomme_doc_to_text(doc, {})))
        want = "".join(frame_lines(load_subtitles(clip["srt"]), sel.timestamps))
        assert "line 4" in want  # the selected frames' own lines, near the one the question names
        assert req.prompt == _notebook_prompt(doc["question"], OPTIONS, want), fmt
        assert req.gen_kwargs["max_new_tokens"] == 128
    # subtitles=all: the line of every candidate frame, in order.
    req, sel = model(subtitles="all").build_request(request(paper_prompt))
    assert len(sel.all_timestamps) == 2 * DURATION
    want = "".join(f"line {i:02d}." for i in range(DURATION))
    assert req.prompt == _notebook_prompt(doc["question"], OPTIONS, want)
    # The lmms-eval format keeps its own block.
    req, _ = model(subtitles="all").build_request(request(tu.videomme_doc_to_text_subtitle(doc, {})))
    assert _block_lines(req.prompt) == [f"line {i:02d}." for i in range(DURATION)]


def test_bad_subtitle_format_is_an_input_error(tmp_path):
    pytest.importorskip("lmms_eval")
    from clamr_frames.errors import InputError
    from qa_harness.model import ClamrFrames

    with pytest.raises(InputError, match="subtitle_format must be one of"):
        ClamrFrames(subtitle_format="paper", selector=object())
