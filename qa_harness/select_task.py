"""Select frames for every question of an lmms-eval task, with no answering model: a selections file.

``python -m qa_harness select-task TASK[,TASK...] --model_args "scorer=clamr,k=100,..." --output sel.jsonl
[--include_path DIR] [--limit N]``

The documents, videos and subtitles come from the task exactly as lmms-eval's evaluator hands them to the
``clamr_frames`` model (same ``doc_id`` numbering, same ``doc_to_visual`` / ``doc_to_text``), and selection runs
through the same code as the model (:class:`qa_harness.selecting.LiveSelections`), so answering later with
``selections=sel.jsonl`` gives the frames live selection would have given. Only the scorer is loaded; answering
args (``inner``, ``pretrained``, ``inner_<key>``, ``subtitles``, pixel caps, ...) are accepted and ignored, so one
``--model_args`` string serves both steps.

Resumable: questions already in ``--output`` are skipped (records are appended one complete line at a time; a
line torn by an interruption is dropped on the next run). One machine; the questions of one video share its
index, so a video is encoded once. (Ray: the corpus pipeline ``clamr-frames index --ray`` can build the indexes
first; this command then only scores.)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from clamr_frames.errors import ClamrFramesError, InputError


def parse_arg_string(text: str) -> dict[str, Any]:
    """``k=v,k2=v2`` (lmms-eval's ``--model_args`` syntax) as a dict of strings."""
    out: dict[str, Any] = {}
    for part in (p for p in (text or "").split(",") if p.strip()):
        if "=" not in part:
            raise InputError(f"model arg {part!r} is not key=value")
        key, value = part.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def task_documents(task_names: Sequence[str], include_path: str | None = None) -> Iterator[tuple[str, str, int, Any, Any]]:
    """``(task, split, doc_id, doc, task object)`` for every document of the tasks, as the evaluator numbers them."""
    from lmms_eval.tasks import TaskManager, get_task_dict

    # With a folder of task yamls, only those are indexed (lmms-eval's ~2,000 built-in tasks take ~10 s).
    tm = TaskManager("WARNING", include_path=include_path, include_defaults=include_path is None,
                     model_name="clamr_frames")
    missing = [t for t in task_names if t not in tm.all_tasks]
    if missing:
        raise InputError(f"unknown task(s) {missing} (give the folder of their yamls with --include_path)")
    tasks = get_task_dict(list(task_names), tm)
    for name in task_names:
        task = tasks[name]
        split = task.config.test_split or task.config.validation_split
        for doc_id, doc in enumerate(task.eval_docs):
            yield name, str(split), doc_id, doc, task


def select_task(
    task_names: Sequence[str],
    output: str | Path,
    model_args: dict[str, Any],
    *,
    include_path: str | None = None,
    limit: int | None = None,
    selector: Any = None,
    progress: bool = True,
) -> dict[str, int]:
    """Write the selections of every question of ``task_names`` to ``output``; returns counts
    (``selected``, ``skipped`` as already present)."""
    from clamr_frames.context.subtitles import load_subtitles
    from clamr_frames.selections import completed_keys, write_selections
    from qa_harness.docs import find_subtitles, mcq_from_doc, video_from_visuals
    from qa_harness.model import _asr_settings
    from qa_harness.model_args import parse_model_args
    from qa_harness.selecting import LiveSelections, question_id

    parsed = parse_model_args(model_args)
    if parsed.values["selections"]:
        raise InputError("select-task makes a selections file; drop selections= from its model args")
    live = LiveSelections(parsed.values, encoder_kwargs=parsed.prefixed["scorer"],
                          policy_knobs=parsed.prefixed["policy"], asr_settings=_asr_settings(parsed.prefixed["asr"]),
                          selector=selector, device=parsed.values["selector_device"] or parsed.values["device"],
                          progress=progress)
    out = Path(output)
    done = completed_keys(out)
    subs_cache: dict[Any, Any] = {}
    counts = {"selected": 0, "skipped": 0}
    per_task: dict[str, int] = {}
    for task, _split, doc_id, doc, task_obj in task_documents(task_names, include_path):
        per_task[task] = per_task.get(task, 0) + 1
        if limit is not None and per_task[task] > limit:
            continue
        qid = question_id(doc)
        key = (task, "question_id", qid) if qid is not None else (task, "doc_id", str(doc_id))
        if key in done:
            counts["skipped"] += 1
            continue
        prompt = task_obj.doc_to_text(doc)
        video = video_from_visuals(task_obj.doc_to_visual(doc))
        item = mcq_from_doc(doc, prompt if isinstance(prompt, str) else None)
        ref = find_subtitles(doc, video, parsed.values["subtitle_dir"])
        subs = None
        if ref is not None:
            subs = subs_cache.get(ref)
            if subs is None:
                subs = subs_cache[ref] = load_subtitles(ref.path, offset=ref.offset)
        picked = live.pick(video=video, item=item, subtitles=subs, doc=doc, task=task, doc_id=doc_id)
        write_selections(out, [picked.record])
        counts["selected"] += 1
        if progress:
            print(f"{task} {qid or doc_id}: {len(picked.timestamps)} frames", file=sys.stderr)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa_harness select-task", description=__doc__.split("\n")[0])
    ap.add_argument("tasks", help="task name(s), comma-separated")
    ap.add_argument("--model_args", "--model-args", default="", help="clamr_frames model args (k=v,...)")
    ap.add_argument("--output", "-o", required=True, help="selections file to write / resume (JSONL)")
    ap.add_argument("--include_path", "--include-path", default=None, help="folder of task yamls")
    ap.add_argument("--limit", type=int, default=None, help="at most N questions per task")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    try:
        counts = select_task([t for t in a.tasks.split(",") if t], a.output, parse_arg_string(a.model_args),
                             include_path=a.include_path, limit=a.limit, progress=not a.quiet)
    except ClamrFramesError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{a.output}: {counts['selected']} questions selected, {counts['skipped']} already there")
    return 0


__all__ = ["main", "parse_arg_string", "select_task", "task_documents"]
