"""Accuracy of clamr-frames selection vs uniform sampling at the same k, through lmms-eval's own evaluator.

``python -m qa_harness.compare OUT_DIR [--k 8] [--policies topk,uniform] [--subtitles selected,none]``

``OUT_DIR`` is a folder written by ``python -m qa_harness.make_synthetic``. Each (policy, subtitle policy) pair is
one ``lmms_eval.evaluator.simple_evaluate`` run of the ``clamr_frames`` model on the ``synthetic_videoqa`` task with
the chosen inner model (default: the deterministic ``ocr_reader`` answerer, CPU, no weights). The index cache is
shared, so every video is encoded once for all runs. Prints a table (overall and per question kind) and writes
``compare.json`` into ``--output`` (default ``OUT_DIR/compare``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

METRIC = "videomme_perception_score,none"


def run_one(
    data_dir: str | Path,
    *,
    policy: str,
    subtitles: str,
    k: int,
    task: str = "synthetic_videoqa",
    model_args: str = "",
    limit: int | None = None,
) -> dict[str, Any]:
    """One lmms-eval run; returns ``{"accuracy", "by_kind", "n", "seconds", "samples"}``."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from qa_harness.lmms_plugin import MODEL_ID, register

    register()  # works from a source checkout too (the entry point needs a pip install)
    args = f"policy={policy},k={k},subtitles={subtitles}" + (f",{model_args}" if model_args else "")
    tm = TaskManager("WARNING", include_path=str(Path(data_dir).resolve()), model_name=MODEL_ID)
    t0 = time.perf_counter()
    res = simple_evaluate(
        model=MODEL_ID, model_args=args, tasks=[task], task_manager=tm, log_samples=True, limit=limit,
        verbosity="WARNING",
    )
    seconds = time.perf_counter() - t0
    samples = res["samples"][task]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        kind = (s["doc"].get("needle") or {}).get("kind", s["doc"].get("task_type", "?"))
        by_kind[kind].append(float(s["videomme_perception_score"]["score"]))
    return {
        "policy": policy,
        "subtitles": subtitles,
        "k": k,
        "accuracy": float(res["results"][task][METRIC]),
        "by_kind": {kd: 100.0 * sum(v) / len(v) for kd, v in sorted(by_kind.items())},
        "n": len(samples),
        "seconds": seconds,
        "answers": [
            {"question_id": s["doc"].get("question_id"), "target": s["target"], "answer": s["filtered_resps"][0]}
            for s in samples
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa_harness.compare", description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", help="folder written by python -m qa_harness.make_synthetic")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--policies", default="topk,uniform")
    ap.add_argument("--subtitles", default="selected,none", help="subtitle policies to run (comma separated)")
    ap.add_argument("--model-args", default="ocr=true", help="extra clamr_frames model args (default: ocr=true)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--output", default=None)
    a = ap.parse_args(argv)
    out = Path(a.output or Path(a.data_dir) / "compare")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for subs in a.subtitles.split(","):
        for policy in a.policies.split(","):
            r = run_one(a.data_dir, policy=policy, subtitles=subs, k=a.k, model_args=a.model_args, limit=a.limit)
            rows.append(r)
            kinds = "  ".join(f"{kd} {v:5.1f}" for kd, v in r["by_kind"].items())
            print(f"k={a.k:<3d} policy={policy:<10s} subtitles={subs:<9s} acc={r['accuracy']:5.1f}  {kinds}  "
                  f"(n={r['n']}, {r['seconds']:.0f}s)", flush=True)
    (out / "compare.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
