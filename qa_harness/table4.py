"""The CLaMR paper's Table 4 as runnable recipes, and the video-token budget each row gets.

Every row of Table 4 (long-video QA with Qwen2.5-VL-7B-Instruct) is a set of ``clamr_frames`` model args per
*setting*:

``paper``
    what the paper states: the "no sample" row capped at **24,576 video tokens** (the official Qwen2.5-VL
    setting, ``max_video_tokens=24576``); the 100-frame rows at the notebook's per-frame pixels (the paper gives
    no number; its notebook does); the notebook's hand-over of the frames' times (``time_axis=notebook``).
``notebook``
    the CLaMR repository's ``qwen_videomme_baseline.ipynb``: per-frame pixels as if 768 frames shared
    65,536·0.8 tokens (``max_pixels=107042,min_pixels=100352``), for its 768-frame and its 100-frame runs alike,
    so about 52k and 6.8k tokens; 2 fps hand-over, i.e. 1 s per temporal patch (``time_axis=notebook``).
``harness``
    this harness's defaults (``max_pixels`` 151,200, the real time axis ``k / duration``).

:func:`video_tokens` computes the Qwen2.5-VL video tokens a row's frames cost from its args and the video's
frame size, through the same steps as the answer path (decode size, then Qwen's ``smart_resize``).
``python -m qa_harness.table4 [--write docs/table4.md]`` renders the table (:func:`markdown`).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Qwen2.5-VL: 14-px patches merged 2x2 -> one token per 28x28 pixels; two frames per temporal patch.
FACTOR = 28
TEMPORAL_PATCH = 2
#: The paper's stated cap for the "no sample" row (official Qwen2.5-VL setting).
PAPER_NO_SAMPLE_TOKENS = 24576
#: The notebook's total budget (65536·28·28·0.8 pixels = 52,428.8 tokens) shared as if by 768 frames.
NOTEBOOK_TOTAL_TOKENS = 65536 * 0.8
NOTEBOOK_FRAMES = 768
#: The answerer and the candidate grid of every row (the paper: 100 of 768 evenly spaced frames).
ANSWERER = "inner=qwen2_5_vl,pretrained=Qwen/Qwen2.5-VL-7B-Instruct,inner_attn_implementation=sdpa"
CANDIDATES = "num_candidates=768"
#: Tasks per Table-4 column.
COLUMNS = {
    "LVB": "clamr_longvideobench_long_w_subtitle",
    "VMME w/o subs": "clamr_videomme_long_paper",
    "VMME w/ subs": "clamr_videomme_long_w_subtitle_paper",
}
#: The frame sizes the budgets are shown for (Video-MME's long videos are mostly 16:9).
FRAME_SIZES = ((1280, 720), (640, 480))

SETTINGS = {
    "paper": {"no_sample": f"max_video_tokens={PAPER_NO_SAMPLE_TOKENS},time_axis=notebook",
              "frames": "max_pixels=107042,min_pixels=100352,time_axis=notebook"},
    "notebook": {"no_sample": "max_pixels=107042,min_pixels=100352,time_axis=notebook",
                 "frames": "max_pixels=107042,min_pixels=100352,time_axis=notebook"},
    "harness": {"no_sample": "", "frames": ""},
}


@dataclass(frozen=True)
class Row:
    """One Table-4 row: what selects, with how many frames, the paper's numbers (None: not reported)."""

    retriever: str
    modality: str
    frames: int
    selection: str
    paper: dict[str, float | None] = field(default_factory=dict)

    def args(self, setting: str) -> str:
        """The row's ``clamr_frames`` model args under ``setting`` (answerer + candidates + selection + budget)."""
        budget = SETTINGS[setting]["no_sample" if self.retriever == "no sample" else "frames"]
        return ",".join(p for p in (ANSWERER, CANDIDATES, self.selection, budget) if p)


ROWS = (
    Row("no sample", "–", 768, "policy=uniform,k=768", {"LVB": 55.67, "VMME w/o subs": 53.10, "VMME w/ subs": 62.30}),
    Row("uniform", "–", 100, "policy=uniform,k=100", {"LVB": 52.30, "VMME w/o subs": 53.90, "VMME w/ subs": 57.80}),
    Row("LanguageBind", "V", 100, "scorer=languagebind-v,asr=none,policy=topk,k=100",
        {"LVB": None, "VMME w/o subs": 53.60, "VMME w/ subs": 57.30}),
    Row("LanguageBind", "V+A", 100, "scorer=languagebind-va,policy=topk,k=100",
        {"LVB": 56.38, "VMME w/o subs": 54.40, "VMME w/ subs": 57.80}),
    Row("CLaMR", "V", 100, "scorer=clamr,asr=none,policy=topk,k=100",
        {"LVB": None, "VMME w/o subs": 55.60, "VMME w/ subs": 59.40}),
    Row("CLaMR", "V+A", 100, "scorer=clamr,policy=topk,k=100",
        {"LVB": 57.09, "VMME w/o subs": 55.90, "VMME w/ subs": 61.30}),
)

#: AKS and BOLT as their released code runs them: 1-fps candidates, the question alone as the query.
SELECTOR_RECIPES = {
    "BOLT (Video-MME)": "scorer=clip,scorer_weights=openai/clip-vit-large-patch14,fps=1,k=100,query=question,"
                        "policy=bolt,policy_alpha=3",
    "BOLT (LongVideoBench)": "scorer=clip,scorer_weights=openai/clip-vit-large-patch14,fps=1,k=100,query=question,"
                             "policy=bolt,policy_alpha=2.5",
    "AKS": "scorer=clip,scorer_weights=openai/clip-vit-large-patch14,fps=1,k=100,query=question,policy=aks",
}


def smart_resize(height: int, width: int, min_pixels: int, max_pixels: int, factor: int = FACTOR) -> tuple[int, int]:
    """Qwen2.5-VL's resize rule: sides multiples of ``factor``, area within [min_pixels, max_pixels], aspect kept.

    >>> smart_resize(720, 1280, 100352, 107042)   # the floor is not re-applied after shrinking to the cap
    (224, 420)
    """
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def decoded_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) the answer path decodes a frame at (``qa_harness.model.decode_side``, aspect kept)."""
    from qa_harness.model import decode_side

    side = decode_side(width, height, max_pixels)
    if max(width, height) <= side:
        return width, height
    s = side / max(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


def parse_args(args: str) -> dict[str, Any]:
    from qa_harness.model_args import parse_model_args
    from qa_harness.select_task import parse_arg_string

    return parse_model_args(parse_arg_string(args)).values


def frame_pixels(args: str) -> tuple[int, int, int]:
    """(k, max_pixels, min_pixels) per frame that a row's args give the answerer (``max_video_tokens`` applied)."""
    from qa_harness.model import frame_pixels_for_budget

    v = parse_args(args)
    mx, mn = frame_pixels_for_budget(v["k"], v["max_video_tokens"], v["max_pixels"], v["min_pixels"])
    return v["k"], mx, mn


def budget_tokens(args: str) -> int:
    """The video-token budget a row's args set: ``ceil(k / 2)`` temporal patches times the tokens the per-frame
    pixel cap allows (``floor(max_pixels / 28²)``); what the paper's 24,576 and the notebook's ~6.8k / ~52k are.

    >>> budget_tokens("k=768,max_video_tokens=24576"), budget_tokens("k=100,max_pixels=107042,min_pixels=100352")
    (24576, 6800)
    """
    k, mx, _ = frame_pixels(args)
    return math.ceil(k / TEMPORAL_PATCH) * (mx // (FACTOR * FACTOR))


def qwen_vl_utils_budget(nframes: int, max_pixels: int, min_pixels: int, total_pixels: float | None = None) -> int:
    """The budget lmms-eval's own ``qwen2_5_vl`` gets from qwen_vl_utils (0.0.14 ``fetch_video``): per frame
    ``min(max_pixels, max(min(768·28², total_pixels / nframes · 2), 1.05 · min_pixels))`` with ``total_pixels``
    128,000·0.9 tokens' worth by default.

    >>> qwen_vl_utils_budget(768, 1605632, 256 * 28 * 28)   # the README's "no sample" recipe today
    115200
    >>> qwen_vl_utils_budget(768, 50176, 3136)              # capped as the paper states
    24576
    """
    px = FACTOR * FACTOR
    total = total_pixels if total_pixels is not None else 128000 * px * 0.9
    per_frame = min(max_pixels, max(min(768 * px, total / nframes * TEMPORAL_PATCH), int(min_pixels * 1.05)))
    return math.ceil(nframes / TEMPORAL_PATCH) * int(per_frame // px)


def video_tokens(args: str, width: int, height: int) -> int:
    """Qwen2.5-VL video tokens of a row's k frames of a ``width`` x ``height`` video under ``args``."""
    k, mx, mn = frame_pixels(args)
    w, h = decoded_size(width, height, mx)
    rh, rw = smart_resize(h, w, mn, mx)
    return math.ceil(k / TEMPORAL_PATCH) * (rh // FACTOR) * (rw // FACTOR)


def seconds_per_patch(args: str, k: int, duration: float) -> float:
    """Seconds Qwen2.5-VL's time ids advance per temporal patch under ``args`` (``time_axis``)."""
    from qa_harness.answerers import video_fps

    v = parse_args(args)
    return TEMPORAL_PATCH / video_fps(v["time_axis"], k / duration)


def markdown() -> str:
    """docs/table4.md: each row, its args per setting, and the video tokens they give (computed here)."""
    sizes = " / ".join(f"{w}×{h}" for w, h in FRAME_SIZES)
    out = [
        "# Table 4 of the CLaMR paper, as runnable recipes",
        "",
        "<!-- Generated by `python -m qa_harness.table4 --write docs/table4.md`; do not edit by hand. -->",
        "",
        "Answerer Qwen2.5-VL-7B-Instruct; frames chosen from 768 evenly spaced candidates. Tasks per column: "
        + ", ".join(f"{c}: `{t}`" for c, t in COLUMNS.items()) + ". Every row runs as",
        "",
        "```bash",
        'python -m lmms_eval --model clamr_frames --model_args "$ARGS" --tasks TASK \\',
        "    --include_path qa_harness/tasks --batch_size 1 --output_path logs/ --log_samples",
        "```",
        "",
        ("Settings (see `qa_harness.table4`): **paper** — the \"no sample\" row capped at the paper's 24,576 video "
        "tokens, the 100-frame rows at the notebook's per-frame pixels, the notebook's time axis; **notebook** — the "
        "CLaMR notebook's pixels for all rows (about 52k tokens at 768 frames, 6.8k at 100); **harness** — this "
        "harness's defaults (151,200 px per frame, real time axis)."),
        "",
        ("The token budget is what the args allow: ceil(k / 2) temporal patches (two frames each) times the tokens of "
        "the per-frame pixel cap (one token per 28×28 px). The tokens actually used depend on the frame size (Qwen2.5-VL "
        f"resizes each frame onto its 28-px grid under the cap); they are computed here for {sizes} px frames through "
        "the answer path's decode size. Seconds per temporal patch are for a one-hour video."),
        "",
        ("| retriever | modality | frames | paper LVB / w/o / w/ subs | setting | token budget | video tokens "
        f"({sizes}) | s per patch | model args |"),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        paper = " / ".join("–" if row.paper.get(c) is None else f"{row.paper[c]:.2f}" for c in COLUMNS)
        for setting in SETTINGS:
            args = row.args(setting)
            toks = " / ".join(f"{video_tokens(args, w, h):,}" for w, h in FRAME_SIZES)
            spp = seconds_per_patch(args, row.frames, 3600.0)
            out.append(f"| {row.retriever} | {row.modality} | {row.frames} | {paper} | {setting} | "
                       f"{budget_tokens(args):,} | {toks} | "
                       f"{spp:g} | `{args}` |")
    out += [
        "",
        ("The paper's own \"no sample\" run used lmms-eval's Qwen2.5-VL directly (`--model qwen2_5_vl`). With "
        "`max_num_frames=768,fps=2` and lmms-eval's default pixel range, qwen_vl_utils gives it a budget of "
        f"{qwen_vl_utils_budget(768, 1605632, 256 * 28 * 28):,} tokens; the paper's cap through lmms-eval's model "
        "is `--model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct,max_num_frames=768,fps=2,max_pixels=50176,"
        f"min_pixels=3136` (budget {qwen_vl_utils_budget(768, 50176, 3136):,})."),
        "",
        "CLaMR on the 4-bit NF4 base its adapter was trained on: add `nf4=true` to a CLaMR row (CUDA only).",
        "",
        "## AKS and BOLT",
        "",
        "Their released code queries the scorer with the question alone (`query=question`) over 1-fps candidates:",
        "",
        "| recipe | model args |",
        "|---|---|",
    ]
    out += [f"| {name} | `{ANSWERER},{args}` |" for name, args in SELECTOR_RECIPES.items()]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa_harness.table4", description=__doc__.split("\n")[0])
    ap.add_argument("--write", default=None, help="write the Markdown here (e.g. docs/table4.md)")
    a = ap.parse_args(argv)
    text = markdown()
    if a.write:
        Path(a.write).parent.mkdir(parents=True, exist_ok=True)
        Path(a.write).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["COLUMNS", "ROWS", "SELECTOR_RECIPES", "SETTINGS", "Row", "budget_tokens", "markdown",
           "qwen_vl_utils_budget", "seconds_per_patch", "smart_resize", "video_tokens"]
