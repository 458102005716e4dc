"""Accuracy of several scorer / policy / k settings side by side, each run through lmms-eval's own evaluator.

``python -m qa_harness.compare DATA_DIR [--scorers default] [--policies topk,nms,uniform] [--k 8,16]``

``DATA_DIR`` is a folder written by ``python -m qa_harness.make_synthetic`` (its ``synthetic_videoqa`` task), or any
folder of task yamls given with ``--task NAME``. Every (scorer, ASR source, subtitle policy, policy, k) setting is one
``lmms_eval.evaluator.simple_evaluate`` run of the ``clamr_frames`` model with the chosen inner model (default:
the deterministic ``ocr_reader`` answerer: CPU, no weights), scored by the task's own ``process_results``. The
index cache is shared, so each video is encoded once per scorer for all runs.

Writes into ``--output`` (default ``DATA_DIR/compare``): ``compare.md`` (the Markdown table), ``compare.json``
(every run: accuracy, per question kind, answers) and ``selections/<setting>.jsonl`` (the timestamps, scores and
answer of every question, for inspection). ``--record`` also writes a machine record under ``benchmarks/results/`` and regenerates ``benchmarks/RESULTS.md``
(run from the repository root).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from clamr_frames.errors import InputError

#: metric key in lmms-eval's results per metric name our tasks use (Video-MME style in %, LongVideoBench 0-1)
METRICS = {"videomme_perception_score": 100.0, "lvb_acc": 1.0}


def _metric(result: dict[str, Any]) -> tuple[str, float]:
    for name, scale in METRICS.items():
        key = f"{name},none"
        if key in result:
            return name, 100.0 * float(result[key]) / scale
    raise InputError(f"no known accuracy metric in the task's results (keys: {sorted(result)})")


def _correct(sample: dict[str, Any], metric: str) -> float:
    rec = sample[metric]
    if metric == "lvb_acc":
        return float(rec["parsed_pred"] == rec["answer"])
    return float(rec["score"])


def _kind(doc: dict[str, Any]) -> str:
    needle = doc.get("needle")
    if isinstance(needle, dict) and needle.get("kind"):
        return str(needle["kind"])
    return str(doc.get("task_type") or doc.get("question_category") or "all")


def setting_name(scorer: str, policy: str, k: int, subtitles: str, asr: str = "auto") -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in scorer)
    return f"{safe}_{policy}_k{k}_subs-{subtitles}" + ("" if asr == "auto" else f"_asr-{asr}")


def run_one(
    data_dir: str | Path,
    *,
    scorer: str = "default",
    policy: str,
    k: int,
    subtitles: str = "selected",
    asr: str = "auto",
    task: str = "synthetic_videoqa",
    model_args: str = "",
    limit: int | None = None,
    log_selections: str | Path | None = None,
    task_manager: Any = None,
) -> dict[str, Any]:
    """One lmms-eval run of ``clamr_frames``; returns accuracy (%), accuracy per question kind, answers, timing."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from qa_harness.lmms_plugin import MODEL_ID, register

    register()  # works from a source checkout too (the entry point needs a pip install)
    args = f"scorer={scorer},policy={policy},k={k},subtitles={subtitles},asr={asr}"
    if log_selections:
        Path(log_selections).unlink(missing_ok=True)
        args += f",log_selections={log_selections}"
    if model_args:
        args += f",{model_args}"
    tm = task_manager or TaskManager(
        "WARNING", include_path=str(Path(data_dir).resolve()), include_defaults=False, model_name=MODEL_ID
    )
    t0 = time.perf_counter()
    res = simple_evaluate(
        model=MODEL_ID, model_args=args, tasks=[task], task_manager=tm, log_samples=True, limit=limit,
        verbosity="WARNING",
    )
    seconds = time.perf_counter() - t0
    metric, accuracy = _metric(res["results"][task])
    samples = res["samples"][task]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        by_kind[_kind(s["doc"])].append(_correct(s, metric))
    return {
        "scorer": scorer,
        "policy": policy,
        "subtitles": subtitles,
        "asr": asr,
        "k": k,
        "task": task,
        "accuracy": accuracy,
        "by_kind": {kd: 100.0 * sum(v) / len(v) for kd, v in sorted(by_kind.items())},
        "n": len(samples),
        "videos": sorted({str(s["doc"]["video_path"]) for s in samples if s["doc"].get("video_path")}),
        "seconds": seconds,
        "answers": [
            {"question_id": s["doc"].get("question_id", s["doc"].get("id")), "target": s["target"],
             "answer": s["filtered_resps"][0] if isinstance(s["filtered_resps"], list) else s["filtered_resps"]}
            for s in samples
        ],
    }


def _describe_videos(rows: list[dict[str, Any]]) -> str:
    """", 8 videos of 180 s" for the videos the first run saw (documents with a ``video_path``), else ""."""
    from clamr_frames.video import probe

    videos = rows[0].get("videos") if rows else None
    if not videos:
        return ""
    lengths = sorted(probe(v).duration for v in videos)
    span = f"{lengths[0]:.0f} s" if lengths[-1] - lengths[0] < 1 else f"{lengths[0]:.0f}-{lengths[-1]:.0f} s"
    return f", {len(videos)} videos of {span}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows (scorer, subtitles, policy, k): accuracy overall and per question kind (%), questions, wall seconds.

    An ``ASR source`` column (the ``asr`` model arg) is added when a row uses another than ``auto``.
    """
    kinds = sorted({kd for r in rows for kd in r["by_kind"]})
    with_asr = any(r.get("asr", "auto") != "auto" for r in rows)
    head = ["scorer", *(["ASR source"] if with_asr else []), "subtitles", "policy", "k", "accuracy", *kinds,
            "questions", "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        policy = r["policy"] + (" (baseline)" if r["policy"] == "uniform" else "")
        cells = [r["scorer"], *([r.get("asr", "auto")] if with_asr else []), r["subtitles"], policy, str(r["k"]),
                 f"{r['accuracy']:.1f}"]
        cells += [f"{r['by_kind'][kd]:.1f}" if kd in r["by_kind"] else "" for kd in kinds]
        cells += [str(r["n"]), f"{r['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _record_row(r: dict[str, Any]) -> dict[str, Any]:
    """One row of the machine record: the table's columns (accuracy per question kind flattened)."""
    row = {k: r[k] for k in ("scorer", "asr", "subtitles", "policy", "k", "accuracy", "n", "seconds")}
    row.update({f"accuracy {kd}": round(v, 1) for kd, v in r["by_kind"].items()})
    row["accuracy"] = round(float(row["accuracy"]), 1)
    row["seconds"] = round(float(row["seconds"]), 1)
    return row


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _csv(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise InputError(f"empty list: {value!r}")
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa_harness.compare", description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", help="folder written by python -m qa_harness.make_synthetic (or of task yamls)")
    ap.add_argument("--task", default="synthetic_videoqa")
    ap.add_argument("--scorers", default="default", help="comma-separated scorers (default: default)")
    ap.add_argument("--policies", default="topk,nms,uniform", help="comma-separated policies")
    ap.add_argument("--k", default="8,16", help="comma-separated frame counts")
    ap.add_argument("--subtitles", default="selected", help="comma-separated subtitle policies")
    ap.add_argument("--asr", default="auto",
                    help="comma-separated ASR sources of the scorer: auto, subtitles, whisper (speech recognised from "
                         "the audio track; generate with make_synthetic --speech), none")
    ap.add_argument("--model-args", default="ocr=true",
                    help="extra clamr_frames model args (default: ocr=true: the scorer and the answerer read the "
                         "frames' on-screen text; needs the ocr extra)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--output", default=None)
    ap.add_argument("--record", action="store_true", help="write a machine record under benchmarks/results/ and regenerate benchmarks/RESULTS.md (source checkout)")
    a = ap.parse_args(argv)
    data_dir = Path(a.data_dir)
    if not data_dir.is_dir():
        raise SystemExit(f"error: {data_dir}: not a folder (generate one with python -m qa_harness.make_synthetic)")
    try:
        ks = [int(v) for v in _csv(a.k)]
    except ValueError:
        raise SystemExit(f"error: --k must be comma-separated integers, got {a.k!r}") from None
    out = Path(a.output or data_dir / "compare")
    (out / "selections").mkdir(parents=True, exist_ok=True)

    from lmms_eval.tasks import TaskManager

    tm = TaskManager("WARNING", include_path=str(data_dir.resolve()), include_defaults=False, model_name="clamr_frames")
    if a.task not in tm.all_tasks:
        raise SystemExit(f"error: no task {a.task!r} in {data_dir} (found: {', '.join(tm.all_tasks) or 'none'})")
    rows = []
    settings = [(sc, asr, subs, pol, k) for sc in _csv(a.scorers) for asr in _csv(a.asr) for subs in _csv(a.subtitles)
                for pol in _csv(a.policies) for k in ks]
    for scorer, asr, subs, policy, k in settings:
        name = setting_name(scorer, policy, k, subs, asr)
        r = run_one(
            data_dir, scorer=scorer, policy=policy, k=k, subtitles=subs, asr=asr, task=a.task,
            model_args=a.model_args, limit=a.limit, log_selections=out / "selections" / f"{name}.jsonl",
            task_manager=tm,
        )
        rows.append(r)
        kinds = "  ".join(f"{kd} {v:5.1f}" for kd, v in r["by_kind"].items())
        print(f"scorer={scorer:<8s} asr={asr:<9s} subtitles={subs:<8s} policy={policy:<10s} k={k:<3d} "
              f"acc={r['accuracy']:5.1f}  {kinds}  (n={r['n']}, {r['seconds']:.0f}s)", flush=True)
    table = markdown_table(rows)
    (out / "compare.md").write_text(table, encoding="utf-8")
    (out / "compare.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(table)
    print(f"wrote {out / 'compare.md'}, {out / 'compare.json'} and {out / 'selections'}/")
    if a.record:
        repo = Path(__file__).resolve().parents[1]
        results = repo / "benchmarks" / "results"
        if not results.is_dir():
            raise SystemExit(f"error: --record needs a source checkout ({results} not found)")
        from clamr_frames.run_info import write_record

        notes = (
            f"Task `{a.task}` from `{data_dir}` ({rows[0]['n'] if rows else 0} questions{_describe_videos(rows)}"
            + (", written by `python -m qa_harness.make_synthetic`" if (data_dir / "questions.json").is_file() else "")
            + "), model `clamr_frames` with model args `{}`, inner model `ocr_reader` unless the model args say "
            "otherwise, scored by lmms-eval's own `process_results`; accuracy in %, per question kind of the "
            "generated needles. `seconds`: wall time of each lmms-eval run, including the build of any index not "
            "yet in the cache (the first run of a scorer pays for it).".format(a.model_args)
        )
        path = write_record(
            f"compare--{a.task}", [_record_row(r) for r in rows], directory=results, notes=notes,
            title=f"lmms-eval: accuracy on {a.task} per scorer, policy and k", threads=_torch_threads(),
            timer="one lmms-eval run: model load, any index build, selection and answering",
        )
        # RESULTS.md is generated from the records (python -m benchmarks report): regenerate it in the checkout
        subprocess.run([sys.executable, "-m", "benchmarks", "report"], cwd=repo, check=True)
        print(f"recorded {path}; regenerated benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
