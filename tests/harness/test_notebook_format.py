"""The CLaMR notebook's subtitle format in the harness: one line per frame shown (``frame_lines``), the
``subtitle_format`` knob, and the clamr_frames model writing the notebook's block for its selected frames."""

from __future__ import annotations

import pytest

from testkit.extras import require_extra

from clamr_frames.context.subtitles import Cue, load_subtitles
from qa_harness.subtitles import SUBTITLE_HEADER, apply_subtitles, frame_lines, lines_for_policy, split_subtitle_block
from qa_harness.tasks import utils as tu
from testkit.prompts import VMME_OPTIONS, VMME_SECONDS, block_lines, notebook_prompt



def test_frame_lines_repeat_a_line_per_frame():
    cues = [Cue(0.0, 2.5, "a."), Cue(3.0, 4.0, "b.")]
    assert frame_lines(cues, [0.5, 1.0, 2.0, 2.7, 3.5]) == ["a.", "a.", "a.", "", "b."]
    assert lines_for_policy(cues, [1.0, 3.5], "selected", per_frame=True) == ["a.", "b."]
    assert lines_for_policy(cues, [1.0], "all", per_frame=True, all_timestamps=[0.0, 1.0, 3.2]) == ["a.", "a.", "b."]
    assert lines_for_policy(cues, [1.0, 2.0], "selected") == ["a."]  # lmms-eval format: each line once
    prompt = notebook_prompt("Q?", VMME_OPTIONS, "old.")
    out = apply_subtitles(prompt, frame_lines(cues, [0.5, 1.0, 2.7]), "auto")
    assert out == notebook_prompt("Q?", VMME_OPTIONS, "a.a.")  # the format of the task's block is kept
    assert apply_subtitles(prompt, [], "selected") == notebook_prompt("Q?", VMME_OPTIONS, "N/A")
    assert apply_subtitles(prompt, ["x."], "selected", "lmms-eval").startswith(SUBTITLE_HEADER + "x.\nSelect")
    assert split_subtitle_block(prompt)[1] == "old."


# -- the clamr_frames model in the notebook format ------------------------------------------------------------


@pytest.mark.slow
def test_model_writes_the_notebook_block_per_selected_frame(vmme_clip, tmp_path):
    require_extra("eval")
    from lmms_eval.api.instance import Instance

    from clamr_frames import FrameSelector
    from clamr_frames.index import IndexSettings
    from qa_harness.model import ClamrFrames

    # Candidates every 0.5 s: those at half seconds have a subtitle line, those at whole seconds none.
    selector = FrameSelector.from_pretrained("default", settings=IndexSettings(fps=2.0), index_dir=tmp_path / "cache",
                                             progress=False, ocr=False)
    doc = dict(vmme_clip["doc"], question="What came right after line 41?")

    def request(prompt):
        return Instance(request_type="generate_until",
                        arguments=(prompt, {"max_new_tokens": 128}, tu.videomme_doc_to_visual, 0, "t", "test"),
                        idx=0, metadata={"task": "t", "doc_id": 0, "repeats": 1})

    def model(**kw):
        m = ClamrFrames(k=4, selector=selector, policy="topk", **kw)  # the four best-scored lines, named below
        m.task_dict = {"t": {"test": {0: doc}}}
        return m

    paper_prompt = tu.videomme_doc_to_text_subtitle_paper(doc, {"frame_num": 768})
    for fmt in ("auto", "clamr-notebook"):
        m = model(subtitles="selected", subtitle_format=fmt)
        req, sel = m.build_request(request(paper_prompt if fmt == "auto" else tu.videomme_doc_to_text(doc, {})))
        want = "".join(frame_lines(load_subtitles(vmme_clip["srt"]), sel.timestamps))
        assert "line 4" in want  # the selected frames' own lines, near the one the question names
        assert req.prompt == notebook_prompt(doc["question"], VMME_OPTIONS, want), fmt
        assert req.gen_kwargs["max_new_tokens"] == 128
    # subtitles=all: the line of every candidate frame, in order.
    req, sel = model(subtitles="all").build_request(request(paper_prompt))
    assert len(sel.all_timestamps) == 2 * VMME_SECONDS
    want = "".join(f"line {i:02d}." for i in range(VMME_SECONDS))
    assert req.prompt == notebook_prompt(doc["question"], VMME_OPTIONS, want)
    # The lmms-eval format keeps its own block.
    req, _ = model(subtitles="all").build_request(request(tu.videomme_doc_to_text_subtitle(doc, {})))
    assert block_lines(req.prompt) == [f"line {i:02d}." for i in range(VMME_SECONDS)]


def test_bad_subtitle_format_is_an_input_error(tmp_path):
    require_extra("eval")
    from clamr_frames.errors import InputError
    from qa_harness.model import ClamrFrames

    with pytest.raises(InputError, match="subtitle_format must be one of"):
        ClamrFrames(subtitle_format="paper", selector=object())
