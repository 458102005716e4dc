"""Fidelity to the CLaMR paper and its notebook: the token budget of every Table-4 row computed from its args, the
actual video tokens against Qwen2.5-VL's own video processor, the time axis, AKS/BOLT querying with the question
only, CLaMR on the NF4 base (argument plumbing on CPU), and docs/table4.md generated from the code."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from testkit.extras import require_extra

from qa_harness import table4 as t4

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_768 = 65536 * 0.8  # tokens the notebook's total_pixels stands for (its 768-frame run's nominal budget)


def _row(retriever, modality="–"):
    return next(r for r in t4.ROWS if r.retriever == retriever and r.modality == modality)


def test_no_sample_row_gets_the_papers_cap():
    args = _row("no sample").args("paper")
    assert t4.budget_tokens(args) == 24576  # "video tokens <= 24,576" (paper, official Qwen2.5-VL setting)
    for w, h in t4.FRAME_SIZES:
        assert 0.8 * 24576 <= t4.video_tokens(args, w, h) <= 24576
    # the same cap through lmms-eval's own qwen2_5_vl (qwen_vl_utils), and what its defaults give instead
    assert t4.qwen_vl_utils_budget(768, 50176, 3136) == 24576
    assert t4.qwen_vl_utils_budget(768, 1605632, 256 * 28 * 28) == 115200


@pytest.mark.parametrize("row", [r for r in t4.ROWS if r.frames == 100], ids=lambda r: f"{r.retriever}-{r.modality}")
def test_hundred_frame_rows_get_the_notebooks_budget(row):
    for setting in ("paper", "notebook"):
        budget = t4.budget_tokens(row.args(setting))
        assert budget == 6800 and abs(budget - NOTEBOOK_768 * 100 / 768) / budget < 0.005  # ~6.8k
    assert t4.budget_tokens(row.args("harness")) == 9600  # today's default cap: ~9.6k


def test_notebook_no_sample_row_is_about_52k():
    budget = t4.budget_tokens(_row("no sample").args("notebook"))
    assert abs(budget - NOTEBOOK_768) / NOTEBOOK_768 < 0.005


@pytest.mark.parametrize("setting", list(t4.SETTINGS))
@pytest.mark.parametrize("size", t4.FRAME_SIZES)
def test_video_tokens_match_qwens_video_processor(setting, size):
    """The tokens computed for a row equal what Qwen2.5-VL's video processor makes of two frames decoded as the
    answer path decodes them (times the number of temporal patches)."""
    np = pytest.importorskip("numpy")
    transformers = pytest.importorskip("transformers")
    args = _row("uniform").args(setting)
    k, mx, mn = t4.frame_pixels(args)
    w, h = t4.decoded_size(*size, mx)
    frames = np.zeros((2, h, w, 3), dtype=np.uint8)
    vp = transformers.Qwen2VLVideoProcessor()
    out = vp(videos=[frames], size={"shortest_edge": mn, "longest_edge": mx}, do_sample_frames=False,
             return_tensors="np")
    t, gh, gw = (int(x) for x in out["video_grid_thw"][0])
    per_patch = t * gh * gw // (vp.merge_size ** 2)
    assert t4.video_tokens(args, *size) == math.ceil(k / 2) * per_patch


def test_max_video_tokens_reaches_the_answerer(monkeypatch):
    require_extra("eval")
    from qa_harness import answerers
    from qa_harness.model import ClamrFrames

    got = {}

    class FakeQwen:
        def __init__(self, **kw):
            got.update(kw)

    monkeypatch.setattr(answerers, "QwenVLAnswerer", FakeQwen)
    ClamrFrames(inner="qwen2_5_vl", k=768, max_video_tokens=24576, time_axis="notebook", device="cpu")
    assert got["max_pixels"] == 50176 and got["min_pixels"] <= 50176 and got["time_axis"] == "notebook"
    got.clear()
    ClamrFrames(inner="qwen2_5_vl", k=100, device="cpu")
    assert got["max_pixels"] == 151200 and got["time_axis"] == "real"


def test_time_axis_seconds_per_patch():
    from qa_harness.answerers import video_fps

    assert t4.seconds_per_patch("k=100,time_axis=notebook", 100, 3600.0) == 1.0  # the notebook's hand-over
    assert t4.seconds_per_patch("k=100", 100, 3600.0) == 72.0  # today's real time axis
    assert video_fps("notebook", 0.01) == 2.0
    from clamr_frames.errors import InputError

    with pytest.raises(InputError, match="time_axis must be one of"):
        video_fps("fast", 1.0)


def test_aks_and_bolt_recipes_query_with_the_question_only():
    for name, args in t4.SELECTOR_RECIPES.items():
        v = t4.parse_args(args)
        assert v["query"] == "question", name
        assert v["fps"] == 1.0 and v["policy"] in ("aks", "bolt")


def test_every_row_parses():
    for row in t4.ROWS:
        for setting in t4.SETTINGS:
            v = t4.parse_args(row.args(setting))
            assert v["k"] == row.frames and v["num_candidates"] == 768


def test_nf4_reaches_the_clamr_loader(monkeypatch):
    """nf4=true loads the CLaMR scorer on the 4-bit NF4 base (load_in_4bit); on a CPU the loader refuses clearly."""
    require_extra("eval")
    from clamr_frames.encoders import registry
    from clamr_frames.errors import ModelLoadError
    from qa_harness.model import ClamrFrames

    seen = {}
    real = registry.load_encoder

    def spy(name, **kw):
        seen.update(kw, name=name)
        return real(name, **kw)

    monkeypatch.setattr(registry, "load_encoder", spy)
    model = ClamrFrames(scorer="clamr", nf4="true", device="cpu")
    with pytest.raises(ModelLoadError, match="load_in_4bit needs a CUDA device"):
        model.selector  # noqa: B018
    assert seen["name"] == "clamr" and seen["load_in_4bit"] is True


def test_docs_table4_is_generated():
    path = REPO / "docs" / "table4.md"
    assert path.read_text(encoding="utf-8") == t4.markdown(), "regenerate: python -m qa_harness.table4 --write docs/table4.md"
