"""Task functions for the clamr-frames lmms-eval tasks (``--include_path qa_harness/tasks``).

Video-MME and LongVideoBench tasks keep lmms-eval's datasets, caches and scoring (their own ``process_results``
and aggregation are referenced from the yaml files); what differs is honest subtitle handling:

* the ``clamr_*`` tasks without ``_w_subtitle`` put **no** subtitles in the prompt (lmms-eval's ``videomme_long``
  uses the subtitle template, so it is not a "without subtitles" run);
* the ``_w_subtitle`` tasks put a subtitle block in the prompt: for an ordinary model, the lines on screen at
  ``frame_num`` uniformly sampled frames (lmms-eval's rule); the ``clamr_frames`` model replaces the block
  with its subtitle policy's lines (those of the frames it selected, or all).

Videos and subtitles are found from the document's ``video_path`` / ``subtitle_path`` when they are absolute
(the synthetic task), else in lmms-eval's cache layout under ``$HF_HOME`` (read at call time): Video-MME
``videomme/data/<videoID>.mp4`` + ``videomme/subtitle/<videoID>.srt``, LongVideoBench
``datasets/longvideobench/videos/<video_path>`` + ``.../subtitles/<subtitle_path>``.
A missing video raises FileNotFoundError naming the path (lmms-eval's own Video-MME function calls sys.exit).

Subtitle blocks, and how they differ from the references:

* Video-MME (lmms-eval format): the lines on screen at ``frame_num`` uniformly spaced native frames, each once,
  **in time order**. lmms-eval's own function gathers the cue indices with ``list(set(...))``, which scrambles
  their order on long videos (a set of ints iterates in hash-table order); the lines and the wording are
  otherwise lmms-eval's.
* Video-MME (``_paper`` tasks): the CLaMR notebook's prompt (``qwen_videomme_baseline.ipynb``): header
  ``"This video's subtitles are listed below:\\n"``, one line per frame of ``frame_num`` (768) uniformly spaced
  frames concatenated without a separator (``"N/A"`` when empty), the frames-only instruction ("... based on
  the video. ..."), ``max_new_tokens`` 128. Unverified: where the notebook's video slicer put its 768 frames
  (here ``np.linspace`` over the native frames, lmms-eval's rule) and how it matched a cue to a frame (here:
  the cue on screen at the frame's time).
* LongVideoBench ``_w_subtitle``: **the project's own format**, not lmms-eval's. It is the Video-MME block
  (header, then the lines on screen at ``frame_num`` uniform frames, in time order) before LongVideoBench's
  own question and option lines; a JSON cue with a null end lasts 5 s (lmms-eval's ``_val_i`` closes it at
  the video's end). Why not lmms-eval's ``longvideobench_val_i`` format, which interleaves the lines with
  ``<image>`` markers of 16 pre-sampled frames: it hands over frames already sampled (nothing left to select),
  lmms-eval's Qwen2.5-VL puts all the frames before the text anyway (its simple form also deletes the
  markers), so the paper's answerer would not see an interleaving through lmms-eval, and the CLaMR paper does
  not release its LongVideoBench prompt. One block format keeps the subtitle policies (none / selected / all)
  the same on both benchmarks.

Document counts are logged when a task loads (``process_docs``): the full Video-MME long subset has 900
questions on 300 videos (a different count is a warning: an incomplete dataset cache); LongVideoBench's
validation split has about 564 questions in the (900, 3600] s group.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger("qa_harness.tasks")

VIDEOMME_CACHE = "videomme"
LVB_CACHE = os.path.join("datasets", "longvideobench")
#: Video-MME's official instructions (frames only / frames + subtitles), as lmms-eval's comments quote them.
INSTRUCTION = (
    "Select the best answer to the following multiple-choice question based on the video. "
    "Respond with only the letter (A, B, C, or D) of the correct option."
)
INSTRUCTION_SUBS = (
    "Select the best answer to the following multiple-choice question based on the video and the subtitles. "
    "Respond with only the letter (A, B, C, or D) of the correct option."
)
DEFAULT_FRAME_NUM = 32
#: The CLaMR notebook's "no sample" baseline: the subtitle line of each of 768 frames.
PAPER_FRAME_NUM = 768
#: (questions, videos) of Video-MME's long subset.
VIDEOMME_LONG_COUNTS = (900, 300)
#: Questions in LongVideoBench's validation split, duration group (900, 3600] s (approximate).
LVB_LONG_QUESTIONS = 564


def _hf_home() -> Path:
    return Path(os.path.expanduser(os.getenv("HF_HOME", "~/.cache/huggingface/")))


def _existing(path: Path, alternatives: tuple[str, ...] = ()) -> Path:
    for p in (path, *(path.with_suffix(s) for s in alternatives)):
        if p.is_file():
            return p
    raise FileNotFoundError(f"video not found: {path} (download the benchmark or check HF_HOME={_hf_home()})")


def _kw(kwargs: dict | None) -> dict:
    return dict(kwargs or {})


# -- Video-MME (and the synthetic task, which has its schema) ------------------------------------


def videomme_video_path(doc: dict) -> Path:
    """The video of a Video-MME style document (absolute ``video_path`` first, else the lmms-eval cache)."""
    vp = doc.get("video_path")
    if vp and Path(vp).is_absolute():
        return _existing(Path(vp))
    return _existing(_hf_home() / VIDEOMME_CACHE / "data" / f"{doc['videoID']}.mp4", (".MP4", ".mkv"))


def videomme_subtitle_path(doc: dict) -> Path | None:
    """The .srt of a Video-MME style document, or None when it has none."""
    sp = doc.get("subtitle_path")
    if sp and Path(sp).is_absolute():
        return Path(sp) if Path(sp).is_file() else None
    p = _hf_home() / VIDEOMME_CACHE / "subtitle" / f"{doc['videoID']}.srt"
    return p if p.is_file() else None


def videomme_doc_to_visual(doc: dict) -> list[str]:
    """``[video path]``."""
    return [str(videomme_video_path(doc))]


def _videomme_question(doc: dict) -> str:
    return doc["question"] + "\n" + "\n".join(str(o) for o in doc["options"])


def videomme_doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """Video-MME prompt **without** subtitles (official frames-only instruction)."""
    kw = _kw(lmms_eval_specific_kwargs)
    post = kw.get("post_prompt", "The best answer is:")
    return kw.get("pre_prompt", "") + INSTRUCTION + "\n" + _videomme_question(doc) + "\n" + post


def uniform_frame_times(video: str | Path, frame_num: int) -> "list[float]":
    """Seconds of ``frame_num`` uniformly spaced native frames (``np.linspace(0, N - 1, frame_num, dtype=int)``,
    lmms-eval's rule; ``-1`` means every frame)."""
    import numpy as np

    from clamr_frames.video import probe

    meta = probe(video)
    n = max(int(meta.num_frames), 1)
    fps = float(meta.fps) if meta.fps else 1.0
    idx = np.linspace(0, n - 1, n if frame_num == -1 else int(frame_num), dtype=int)
    return (idx / fps).tolist()


def uniform_subtitle_lines(video: str | Path, subtitles: Any, frame_num: int) -> list[str]:
    """Lines on screen at ``frame_num`` uniformly spaced frames (lmms-eval's Video-MME rule), each once, in time
    order (lmms-eval's ``list(set(...))`` order differs on long videos; see the module doc)."""
    from clamr_frames.context.subtitles import clean_text

    times = uniform_frame_times(video, frame_num)
    cues = list(getattr(subtitles, "cues", subtitles))
    picked = sorted({i for i, c in enumerate(cues) for t in times if c.start <= t < c.end})
    return [t for t in (clean_text(cues[i].text) for i in picked) if t]


def _subtitle_block(video: Path, sub_path: Path | None, frame_num: int, offset: float = 0.0,
                    fmt: str = "lmms-eval", cues: Any = None) -> str:
    from clamr_frames.context.subtitles import load_subtitles
    from qa_harness.subtitles import frame_lines, subtitle_block

    if cues is None and sub_path is None:
        return subtitle_block(None, fmt)
    subs = cues if cues is not None else load_subtitles(sub_path, offset=offset)
    if fmt == "clamr-notebook":
        return subtitle_block(frame_lines(subs, uniform_frame_times(video, frame_num)), fmt)
    return subtitle_block(uniform_subtitle_lines(video, subs, frame_num), fmt)


def videomme_doc_to_text_subtitle(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """Video-MME prompt **with** a subtitle block (lmms-eval's format; lines of ``frame_num`` uniform frames)."""
    kw = _kw(lmms_eval_specific_kwargs)
    block = _subtitle_block(videomme_video_path(doc), videomme_subtitle_path(doc), int(kw.get("frame_num", DEFAULT_FRAME_NUM)))
    post = kw.get("post_prompt", "The best answer is:")
    return block + kw.get("pre_prompt", "") + INSTRUCTION_SUBS + "\n" + _videomme_question(doc) + "\n" + post


def videomme_doc_to_text_subtitle_paper(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """Video-MME prompt with subtitles in the CLaMR notebook's format (see the module doc): the line of each of
    ``frame_num`` (768) uniform frames, concatenated, then the frames-only instruction."""
    kw = _kw(lmms_eval_specific_kwargs)
    frame_num = int(kw.get("frame_num", PAPER_FRAME_NUM))
    block = _subtitle_block(videomme_video_path(doc), videomme_subtitle_path(doc), frame_num, fmt="clamr-notebook")
    return block + videomme_doc_to_text(doc, kw)


# -- "with our transcript": the subtitle block filled from speech recognition instead of the subtitle file ----------


def transcript_for(video: str | Path) -> Any:
    """Our speech-recognised transcript of ``video`` (Whisper through :mod:`clamr_frames.context.asr`, default
    settings, cached beside the indexes by the video's content), usable wherever subtitles are (``.cues``)."""
    from clamr_frames.context.asr import TranscriptCache, cached_transcribe
    from clamr_frames.index.store import IndexStore

    return cached_transcribe(video, None, cache=TranscriptCache(IndexStore().root / "asr"), progress=False)


def mark_transcript(dataset: Any) -> Any:
    """Mark every document ``subtitle_source: transcript``: the ``clamr_frames`` model then fills the prompt's
    subtitle block from our transcript, and the per-sample output shows which source a run used."""
    if hasattr(dataset, "map"):
        return dataset.map(lambda _x: {"subtitle_source": "transcript"})
    return [{**d, "subtitle_source": "transcript"} for d in dataset]


def videomme_process_docs_long_transcript(dataset: Any) -> Any:
    """Video-MME's long subset, marked for the transcript prompt."""
    return mark_transcript(videomme_process_docs_long(dataset))


def lvb_process_docs_long_transcript(dataset: Any) -> Any:
    """LongVideoBench (900, 3600] s, marked for the transcript prompt."""
    return mark_transcript(lvb_process_docs_long(dataset))


def videomme_doc_to_text_transcript(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """Video-MME prompt with the subtitle block of ``_w_subtitle`` (lmms-eval's format) holding our transcript's
    lines at ``frame_num`` uniform frames instead of the subtitle file's."""
    kw = _kw(lmms_eval_specific_kwargs)
    video = videomme_video_path(doc)
    block = _subtitle_block(video, None, int(kw.get("frame_num", DEFAULT_FRAME_NUM)), cues=transcript_for(video))
    post = kw.get("post_prompt", "The best answer is:")
    return block + kw.get("pre_prompt", "") + INSTRUCTION_SUBS + "\n" + _videomme_question(doc) + "\n" + post


def videomme_doc_to_text_transcript_paper(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The ``_w_subtitle_paper`` prompt (the notebook's format) with our transcript's lines."""
    kw = _kw(lmms_eval_specific_kwargs)
    video = videomme_video_path(doc)
    block = _subtitle_block(video, None, int(kw.get("frame_num", PAPER_FRAME_NUM)), fmt="clamr-notebook",
                            cues=transcript_for(video))
    return block + videomme_doc_to_text(doc, kw)


def lvb_doc_to_text_transcript(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The LongVideoBench ``_w_subtitle`` prompt with our transcript's lines."""
    kw = _kw(lmms_eval_specific_kwargs)
    video = lvb_video_path(doc)
    block = _subtitle_block(video, None, int(kw.get("frame_num", DEFAULT_FRAME_NUM)), cues=transcript_for(video))
    post = kw.get("post_prompt", "Answer with the option's letter from the given choices directly.\n")
    return block + "Select the best answer to the following multiple-choice question based on the video and the subtitles.\n" + f"{kw.get('pre_prompt', '')}{_lvb_question(doc)}\n{post}"


def doc_counts(dataset: Any, video_key: str) -> tuple[int, int]:
    """(questions, distinct videos) of a task's documents (a ``datasets.Dataset`` or a list of dicts)."""
    videos = dataset[video_key] if hasattr(dataset, "column_names") else [d[video_key] for d in dataset]
    return len(dataset), len(set(videos))


def videomme_process_docs_long(dataset: Any) -> Any:
    """Video-MME's long subset (30-60 min videos); logs the counts, warns when they are not the full 900 / 300."""
    out = dataset.filter(lambda x: x["duration"] == "long")
    questions, videos = doc_counts(out, "videoID")
    if (questions, videos) == VIDEOMME_LONG_COUNTS:
        _report(f"Video-MME long: {questions} questions on {videos} videos")
    else:
        want_q, want_v = VIDEOMME_LONG_COUNTS
        _report(f"Video-MME long: {questions} questions on {videos} videos, where the benchmark has {want_q} on "
                f"{want_v} (incomplete dataset cache?)", warn=True)
    return out


def _report(message: str, *, warn: bool = False) -> None:
    """Log through lmms-eval's logger (loguru) when it is there, so the line shows in the run's output."""
    try:
        from loguru import logger as log
    except ImportError:  # pragma: no cover - loguru comes with lmms-eval
        log = logger
    (log.warning if warn else log.info)(message)


def videomme_process_results(doc: dict, results: list) -> dict:
    """lmms-eval's own Video-MME scoring."""
    from lmms_eval.tasks.videomme.utils import videomme_process_results as f

    return f(doc, results)


def videomme_aggregate_results(results: list) -> float:
    """lmms-eval's own Video-MME aggregation (overall %, logged per category)."""
    from lmms_eval.tasks.videomme.utils import videomme_aggregate_results as f

    return f(results)


# -- MLVU (multiple-choice dev split) ----------------------------------------------------------------

MLVU_CACHE = "mlvu"
#: lmms-eval's MLVU post prompt (``tasks/mlvu/mlvu_dev.yaml``).
MLVU_POST_PROMPT = "\nOnly give the best option.\nBest option: ("


def mlvu_video_path(doc: dict) -> Path:
    """The video of an MLVU document: absolute ``video_path`` first (the synthetic stand-in), else lmms-eval's
    cache layout ``$HF_HOME/mlvu/<video_name>``."""
    vp = doc.get("video_path")
    if vp and Path(vp).is_absolute():
        return _existing(Path(vp))
    return _existing(_hf_home() / MLVU_CACHE / str(doc["video_name"]))


def mlvu_doc_to_visual(doc: dict) -> list[str]:
    """``[video path]`` (lmms-eval's own function calls sys.exit on a missing file; this raises naming it)."""
    return [str(mlvu_video_path(doc))]


def mlvu_question_and_options(doc: dict) -> tuple[str, list[str]]:
    """(question, ``"A. text"`` options) of an MLVU document, whose ``question`` field carries its options as
    ``(A) text`` lines after the question (``candidates`` holds the option texts when present)."""
    from qa_harness.docs import mcq_from_doc

    item = mcq_from_doc(doc)
    return item.question, item.labelled_options()


def mlvu_doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """lmms-eval's MLVU prompt: ``pre_prompt + question (with its options) + post_prompt``."""
    kw = _kw(lmms_eval_specific_kwargs)
    return kw.get("pre_prompt", "") + doc["question"] + kw.get("post_prompt", MLVU_POST_PROMPT)


def mlvu_doc_to_text_paper(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """MLVU in the ``_paper`` prompt (the CLaMR notebook's Video-MME prompt): the frames-only instruction, the
    question, ``"A. text"`` option lines, ``"The best answer is:"``."""
    kw = _kw(lmms_eval_specific_kwargs)
    question, options = mlvu_question_and_options(doc)
    post = kw.get("post_prompt", "The best answer is:")
    return kw.get("pre_prompt", "") + INSTRUCTION + "\n" + question + "\n" + "\n".join(options) + "\n" + post


def mlvu_process_results(doc: dict, results: list) -> dict:
    """lmms-eval's own MLVU scoring (letter extracted by its ``extract_mcq_answer``)."""
    from lmms_eval.tasks.mlvu.utils import mlvu_process_results as f

    return f(doc, results)


def mlvu_aggregate_results(results: list) -> float:
    """Mean of the per-category accuracies (%), as lmms-eval's ``mlvu_aggregate_results_dev``, over the
    categories present: on the full dev split (all 7 categories) the same number; lmms-eval's counts an absent
    category as 0 %, which would make a subset (``--limit``, the synthetic stand-in) meaningless."""
    by: dict[str, list[bool]] = {}
    for r in results:
        by.setdefault(str(r["task_type"]), []).append(r["pred_answer"] == r["answer"])
    if not by:
        return 0.0
    per = {k: 100.0 * sum(v) / len(v) for k, v in by.items()}
    for k, v in sorted(per.items()):
        _report(f"MLVU {k}: {v:.1f}% ({len(by[k])} questions)")
    return sum(per.values()) / len(per)


# -- LongVideoBench -------------------------------------------------------------------------------


def lvb_video_path(doc: dict) -> Path:
    """The video of a LongVideoBench document (lmms-eval's cache layout)."""
    vp = Path(str(doc["video_path"]))
    return _existing(vp if vp.is_absolute() else _hf_home() / LVB_CACHE / "videos" / vp)


def lvb_subtitle_path(doc: dict) -> Path | None:
    """The JSON subtitles of a LongVideoBench document, or None."""
    sp = doc.get("subtitle_path")
    if not sp:
        return None
    p = Path(str(sp))
    p = p if p.is_absolute() else _hf_home() / LVB_CACHE / "subtitles" / p
    return p if p.is_file() else None


def lvb_doc_to_visual(doc: dict) -> list[str]:
    """``[video path]`` (the ``_v`` form: the selector needs the whole video, not pre-sampled frames)."""
    return [str(lvb_video_path(doc))]


def _lvb_question(doc: dict) -> str:
    opts = [doc.get(f"option{i}") for i in range(5)]
    opts = [o for o in opts if o is not None and o != "N/A"]
    return doc["question"] + "\n" + "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(opts))


def lvb_doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """LongVideoBench prompt without subtitles (lmms-eval's ``_v`` format)."""
    kw = _kw(lmms_eval_specific_kwargs)
    post = kw.get("post_prompt", "Answer with the option's letter from the given choices directly.\n")
    return f"{kw.get('pre_prompt', '')}{_lvb_question(doc)}\n{post}"


def lvb_doc_to_text_subtitle(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """LongVideoBench prompt with a subtitle block (Video-MME's format, lines of ``frame_num`` uniform frames)."""
    kw = _kw(lmms_eval_specific_kwargs)
    offset = float(doc.get("starting_timestamp_for_subtitles") or 0.0)
    block = _subtitle_block(lvb_video_path(doc), lvb_subtitle_path(doc), int(kw.get("frame_num", DEFAULT_FRAME_NUM)), offset)
    post = kw.get("post_prompt", "Answer with the option's letter from the given choices directly.\n")
    return block + "Select the best answer to the following multiple-choice question based on the video and the subtitles.\n" + f"{kw.get('pre_prompt', '')}{_lvb_question(doc)}\n{post}"


def lvb_process_docs_long(dataset: Any) -> Any:
    """LongVideoBench's (900, 3600] s duration group (the CLaMR paper's subset); logs the counts."""

    def keep(x: dict) -> bool:
        if x.get("duration_group") is not None:
            return int(x["duration_group"]) == 3600
        return 900 < float(x["duration"]) <= 3600

    out = dataset.filter(keep)
    questions, videos = doc_counts(out, "video_path")
    _report(f"LongVideoBench (900, 3600] s: {questions} questions on {videos} videos (the validation split has "
            f"about {LVB_LONG_QUESTIONS})")
    return out


def lvb_process_results(doc: dict, results: list) -> dict:
    """lmms-eval's own LongVideoBench scoring."""
    from lmms_eval.tasks.longvideobench.utils import longvideobench_process_results as f

    return f(doc, results)


def lvb_aggregate_results(results: list) -> float:
    """lmms-eval's own LongVideoBench aggregation (accuracy 0-1)."""
    from lmms_eval.tasks.longvideobench.utils import longvideobench_aggregate_results as f

    return f(results)
