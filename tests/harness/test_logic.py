"""qa_harness logic that needs no lmms-eval: documents → question/options/paths, subtitle policies, the
deterministic text answerer, task prompt functions and the synthetic task writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.extras import require_extra
import yaml

from clamr_frames.context.subtitles import Cue
from clamr_frames.errors import InputError
from qa_harness.answerers import AnswerRequest, OcrReaderAnswerer, build_answerer, fallback_letter, match_option
from qa_harness.docs import (
    McqItem,
    find_subtitles,
    mcq_from_doc,
    mcq_from_prompt,
    text_from_messages,
    video_from_messages,
    video_from_visuals,
)
from qa_harness.subtitles import (
    NO_SUBTITLES,
    SUBTITLE_HEADER,
    apply_subtitles,
    check_policy,
    lines_for_policy,
    resolve_policy,
    split_subtitle_block,
)

VIDEOMME_DOC = {
    "videoID": "abc",
    "question_id": "abc-1",
    "duration": "long",
    "question": "What is written on the banner?",
    "options": ["A. Welcome home", "B. Grand opening", "C. Closed today", "D. For sale"],
    "answer": "B",
}
LVB_DOC = {
    "id": "x1",
    "question": "Which animal crosses the road?",
    "option0": "a fox",
    "option1": "a deer",
    "option2": "N/A",
    "option3": "a cat",
    "option4": "N/A",
    "correct_choice": 1,
    "video_path": "vid/x1.mp4",
    "subtitle_path": "x1_en.json",
    "starting_timestamp_for_subtitles": 12.5,
    "duration_group": 3600,
    "duration": 1800.0,
}


# -- documents ---------------------------------------------------------------------------------------------


def test_videomme_doc():
    item = mcq_from_doc(VIDEOMME_DOC)
    assert item.question == "What is written on the banner?"
    assert item.options == ["Welcome home", "Grand opening", "Closed today", "For sale"]
    assert item.letters == list("ABCD") and item.answer == "B"
    assert item.labelled_options() == VIDEOMME_DOC["options"]


def test_lvb_doc_drops_absent_options_and_maps_answer_index():
    item = mcq_from_doc(LVB_DOC)
    assert item.options == ["a fox", "a deer", "a cat"]
    assert item.letters == ["A", "B", "C"]
    assert item.answer == "B"


def test_generic_options_dict_and_prompt_fallback():
    item = mcq_from_doc({"question": "Q?", "choices": {"a": "one", "b": "two"}, "answer": "b"})
    assert item.letters == ["A", "B"] and item.options == ["one", "two"] and item.answer == "B"
    prompt = "Some instructions.\nHow many cars pass?\n(A) two\n(B) three\n(C) four\nAnswer with the letter."
    parsed = mcq_from_prompt(prompt)
    assert parsed is not None and parsed.question == "How many cars pass?" and parsed.options == ["two", "three", "four"]
    item = mcq_from_doc({"videoID": "v"}, prompt)
    assert item.options == ["two", "three", "four"] and item.question == "How many cars pass?"
    assert mcq_from_prompt("no options here\nA. only one") is None


def test_doc_without_question_is_an_input_error():
    with pytest.raises(InputError, match="no question"):
        mcq_from_doc({"videoID": "v"})


def test_video_from_visuals_and_messages(tmp_path):
    assert video_from_visuals(["/x/a.mp4"]) == "/x/a.mp4"
    assert video_from_visuals("/x/a.MKV") == "/x/a.MKV"
    odd = tmp_path / "clip.bin"
    odd.write_bytes(b"\0")
    assert video_from_visuals([str(odd)]) == str(odd)
    from PIL import Image

    with pytest.raises(InputError, match="no video path.*_val_v"):
        video_from_visuals([Image.new("RGB", (4, 4))])
    # lmms-eval types .webm as audio in chat messages; the extension still marks it as a video
    msgs = [{"role": "user", "content": [{"type": "audio", "url": "/v/a.webm"}, {"type": "text", "text": "Q?"}]}]
    assert video_from_messages(msgs) == "/v/a.webm"
    assert text_from_messages(msgs) == "Q?"


def test_find_subtitles_videomme_and_lvb_layouts(tmp_path):
    vm = tmp_path / "videomme"
    (vm / "data").mkdir(parents=True)
    (vm / "subtitle").mkdir()
    video = vm / "data" / "abc.mp4"
    video.write_bytes(b"")
    assert find_subtitles(VIDEOMME_DOC, video) is None
    srt = vm / "subtitle" / "abc.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nhi\n")
    ref = find_subtitles(VIDEOMME_DOC, video)
    assert ref is not None and ref.path == srt and ref.offset == 0.0

    lvb = tmp_path / "longvideobench"
    (lvb / "videos" / "vid").mkdir(parents=True)
    (lvb / "subtitles").mkdir()
    lvideo = lvb / "videos" / "vid" / "x1.mp4"
    lvideo.write_bytes(b"")
    js = lvb / "subtitles" / "x1_en.json"
    js.write_text("[]")
    ref = find_subtitles(LVB_DOC, lvideo)
    assert ref is not None and ref.path == js and ref.offset == 12.5

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "talk.mp4").write_bytes(b"")
    (flat / "talk.vtt").write_text("WEBVTT\n")
    assert find_subtitles({}, flat / "talk.mp4").path == flat / "talk.vtt"
    other = tmp_path / "subs"
    other.mkdir()
    (other / "talk.srt").write_text("")
    assert find_subtitles({}, flat / "talk.mp4", subtitle_dir=other).path == other / "talk.srt"


# -- subtitle policies -------------------------------------------------------------------------------------

STOCK_PROMPT = (
    SUBTITLE_HEADER
    + "line at frame 1\nline at frame 2\n"
    + "Select the best answer to the following multiple-choice question based on the video and the subtitles. "
    "Respond with only the letter (A, B, C, or D) of the correct option.\nWhat?\nA. x\nB. y\nThe best answer is:"
)
CUES = [Cue(0.0, 2.0, "first line"), Cue(3.0, 5.0, "<i>second</i> line"), Cue(10.0, 12.0, "third line")]


def test_policy_names():
    assert check_policy("Selected") == "selected"
    with pytest.raises(InputError, match="subtitles must be one of"):
        check_policy("some")
    assert resolve_policy("auto", STOCK_PROMPT) == "selected"
    assert resolve_policy("auto", "What?\nA. x\nB. y") == "none"
    assert resolve_policy("all", "What?") == "all"


def test_split_block_keeps_instructions():
    before, body, after = split_subtitle_block(STOCK_PROMPT)
    assert before == "" and body == "line at frame 1\nline at frame 2"
    assert after.startswith("Select the best answer") and after.endswith("The best answer is:")
    assert split_subtitle_block("What?") == ("What?", None, "")


def test_apply_subtitles_replaces_removes_and_inserts():
    out = apply_subtitles(STOCK_PROMPT, ["second line"], "selected")
    assert out.startswith(SUBTITLE_HEADER + "second line\nSelect the best answer")
    assert "frame 1" not in out and "frame 2" not in out
    gone = apply_subtitles(STOCK_PROMPT, ["second line"], "none")
    assert SUBTITLE_HEADER not in gone and gone.startswith("Select the best answer")
    plain = "What?\nA. x\nB. y"
    assert apply_subtitles(plain, ["a"], "auto") == plain
    assert apply_subtitles(plain, None, "all") == SUBTITLE_HEADER + NO_SUBTITLES + "\n" + plain
    assert apply_subtitles(plain, [], "selected") == SUBTITLE_HEADER + "\n" + plain


def test_lines_for_policy():
    assert lines_for_policy(CUES, [1.0, 4.0, 4.5], "selected") == ["first line", "second line"]
    assert lines_for_policy(CUES, [7.0], "selected") == []
    assert lines_for_policy(CUES, [], "all") == ["first line", "second line", "third line"]
    assert lines_for_policy(CUES, [1.0], "none") == []
    assert lines_for_policy(None, [1.0], "selected") is None
    with pytest.raises(InputError):
        lines_for_policy(CUES, [1.0], "auto")


# -- the text answerer -------------------------------------------------------------------------------------

ITEM = McqItem("What dessert flavour did the night nurse say?", ["Durian", "Lychee", "Quince", "Papaya"], list("ABCD"), "A")


def _req(item=ITEM, lines=(), frame_text=None, frames=()):
    return AnswerRequest(prompt="", frames=list(frames), timestamps=[], item=item, subtitle_lines=list(lines),
                         frame_text=frame_text)


def test_answerer_reads_subtitle_lines_and_prefers_the_question_context():
    lines = ["We ran out of quince jam again.", "The night nurse confirmed that the dessert flavour is Durian."]
    assert OcrReaderAnswerer(ocr=False).answer(_req(lines=lines)) == "A"
    letter, support = match_option(ITEM, lines)
    assert letter == "A" and support > 1.5


def test_answerer_reads_frame_text_with_split_words():
    item = McqItem("What word is written on the post office sign?", ["KESTREL", "VORTEX", "MARLIN", "JASPER"], list("ABCD"))
    assert OcrReaderAnswerer(ocr=False).answer(_req(item, frame_text=["", "POST OFFICE:\nMAR LIN"])) == "C"


def test_answerer_without_evidence_answers_a_stable_non_constant_guess():
    a = OcrReaderAnswerer(ocr=False)
    assert a.answer(_req()) == fallback_letter(ITEM) == a.answer(_req())
    guesses = {fallback_letter(McqItem(f"question {i}?", ["w", "x", "y", "z"], list("ABCD"))) for i in range(40)}
    assert guesses == set("ABCD")
    assert a.generate([_req(), _req(lines=["flavour is Papaya, said the night nurse"])])[1] == "D"


@pytest.mark.slow
def test_answerer_ocr_reads_a_rendered_sign():
    require_extra("ocr")
    from PIL import Image

    from clamr_frames.synth import SyntheticScene

    scene = SyntheticScene(seed=3, duration=40.0, needles_per_kind=1, kinds=("ocr",))
    needle = scene.needles[0]
    frame = scene.render_frame((needle.start + needle.end) / 2)
    blank = scene.render_frame(max(needle.start - 10.0, 0.0))
    options = [needle.key, "ZEPHYR", "QUOKKA", "NIMBUS"]
    item = McqItem("What word is written on the sign?", options, list("ABCD"))
    a = OcrReaderAnswerer(ocr=True)
    assert a.answer(_req(item, frames=[Image.fromarray(blank), Image.fromarray(frame)])) == "A"


def test_build_answerer_names():
    assert isinstance(build_answerer("ocr_reader", pretrained="ignored", ocr=False), OcrReaderAnswerer)
    assert build_answerer("ocr_reader", ocr="False").ocr is False  # model args come as strings
    assert build_answerer("text-match", ocr="true").ocr is True
    with pytest.raises(InputError, match="ocr must be auto, true or false"):
        build_answerer("ocr_reader", ocr="sometimes")
    with pytest.raises(InputError, match="unknown inner model"):
        build_answerer("gpt-7")


# -- task functions and the synthetic task -----------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    from qa_harness.make_synthetic import make_synthetic

    out = tmp_path_factory.mktemp("synth")
    make_synthetic(out, n_videos=1, duration=40.0, needles_per_kind=1, frame_num=8)
    return out


class _TagLoader(yaml.SafeLoader):
    pass


_TagLoader.add_multi_constructor("!", lambda loader, suffix, node: f"!{suffix} {loader.construct_scalar(node)}")


def test_make_synthetic_writes_task_files(synth_dir):
    rows = json.loads((synth_dir / "synthetic_videoqa.json").read_text())
    assert len(rows) == 3 and {r["needle"]["kind"] for r in rows} == {"asr", "ocr", "vision"}
    for r in rows:
        assert Path(r["video_path"]).is_file() and Path(r["subtitle_path"]).is_file()
        assert Path(r["video_path"]) == synth_dir / "data" / f"{r['videoID']}.mp4"
        assert r["answer"] in "ABCD" and len(r["options"]) == 4
    for task in ("synthetic_videoqa", "synthetic_videoqa_w_subtitle"):
        cfg = yaml.load((synth_dir / f"{task}.yaml").read_text(), Loader=_TagLoader)
        assert cfg["task"] == task and cfg["dataset_path"] == "json"
        assert cfg["dataset_kwargs"]["data_files"]["test"] == "synthetic_videoqa.json"
        assert cfg["process_results"] == "!function qa_harness.tasks.utils.videomme_process_results"


def test_task_prompts_with_and_without_subtitles(synth_dir):
    from qa_harness.tasks import utils as tu

    doc = json.loads((synth_dir / "synthetic_videoqa.json").read_text())[0]
    assert tu.videomme_doc_to_visual(doc) == [doc["video_path"]]
    plain = tu.videomme_doc_to_text(doc, {"post_prompt": "The best answer is:"})
    assert SUBTITLE_HEADER not in plain and plain.endswith("The best answer is:")
    assert all(o in plain for o in doc["options"])
    with_subs = tu.videomme_doc_to_text_subtitle(doc, {"frame_num": 40})
    before, body, after = split_subtitle_block(with_subs)
    assert before == "" and body and "<font" not in body  # markup stripped like lmms-eval's regex does
    assert after.startswith(tu.INSTRUCTION_SUBS)
    # 40 uniform frames of a 40 s video see more lines than 2 frames
    few = split_subtitle_block(tu.videomme_doc_to_text_subtitle(doc, {"frame_num": 2}))[1]
    assert len(few.splitlines()) < len(body.splitlines())
    missing = dict(doc, video_path=str(synth_dir / "data" / "nope.mp4"))
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        tu.videomme_doc_to_visual(missing)


def test_lvb_prompt_and_paths(tmp_path, monkeypatch):
    from qa_harness.tasks import utils as tu

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    text = tu.lvb_doc_to_text(LVB_DOC, {"pre_prompt": "", "post_prompt": "Answer.\n"})
    assert text == "Which animal crosses the road?\nA. a fox\nB. a deer\nC. a cat\nAnswer.\n"
    with pytest.raises(FileNotFoundError, match="longvideobench/videos/vid/x1.mp4"):
        tu.lvb_doc_to_visual(LVB_DOC)
    assert tu.lvb_subtitle_path(LVB_DOC) is None


# -- the modules' own examples (pytest's testpaths do not reach qa_harness/) -------------------------------


@pytest.mark.parametrize("module", ["qa_harness.docs", "qa_harness.subtitles", "qa_harness.answerers"])
def test_module_doctests(module):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


# -- the comparison table ----------------------------------------------------------------------------------


def test_compare_table_and_arguments(tmp_path):
    from qa_harness.compare import main, markdown_table, setting_name

    rows = [
        {"scorer": "default", "subtitles": "selected", "policy": "topk", "k": 8, "accuracy": 75.0,
         "by_kind": {"asr": 100.0, "ocr": 50.0}, "n": 4, "seconds": 12.3},
        {"scorer": "default", "subtitles": "selected", "policy": "uniform", "k": 8, "accuracy": 25.0,
         "by_kind": {"asr": 0.0, "vision": 50.0}, "n": 4, "seconds": 3.0},
    ]
    lines = markdown_table(rows).splitlines()
    assert lines[0] == "| scorer | subtitles | policy | k | accuracy | asr | ocr | vision | questions | seconds |"
    assert lines[2] == "| default | selected | topk | 8 | 75.0 | 100.0 | 50.0 |  | 4 | 12 |"
    assert lines[3] == "| default | selected | uniform (baseline) | 8 | 25.0 | 0.0 |  | 50.0 | 4 | 3 |"
    assert setting_name("/models/clamr v2", "nms", 16, "none") == "_models_clamr_v2_nms_k16_subs-none"
    with pytest.raises(SystemExit, match="not a folder"):
        main([str(tmp_path / "missing")])
    with pytest.raises(SystemExit, match="--k must be"):
        main([str(tmp_path), "--k", "8,x"])
