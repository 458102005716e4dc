"""How long ``clamr-frames view`` takes over a benchmark-sized selections file, and how big reports are.

Offline and self-contained: generates a few synthetic videos (low resolution), indexes them with the embedded
default scorer (subtitles as ASR), and writes a selections file of ``--questions`` real selections (every
question of every video under several policies and k, with a made-up answer so the index has right and wrong
rows, and the needle as the ground-truth window). Then times the ``clamr-frames view`` command as a process
(import, reading, thumbnails decoded from the videos, one page per question, the index) and records the time,
the pages' total size and the largest page.

``--sizes`` also writes ``select --html`` reports at k = 32 of a demo-like video (5 minutes, 320x180, as
``clamr-frames demo`` makes) and of a one-hour video (160x90) and records their file sizes.

    python -m benchmarks.view_speed                      # 900 questions, record under benchmarks/results/
    python -m benchmarks.view_speed --questions 90 --no-record
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from clamr_frames.run_info import cpu_count

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
POLICIES = ("topk", "nms", "uniform", "hybrid", "inverse-transform")
KS = (8, 16, 32)


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _cli() -> list[str]:
    return [sys.executable, "-m", "clamr_frames"]


def build_selections(work: Path, n_questions: int, n_videos: int, minutes: float, *, real: bool = False) -> Path:
    """Index ``n_videos`` synthetic videos and write ``n_questions`` selections of them.

    By default the selections' scores are drawn (a bump at the question's needle plus noise, the picks the top k
    of them): what ``view`` does per row does not depend on where the scores came from, and 900 real selections
    cost minutes of scoring on a shared machine. ``real=True`` runs the default scorer for every row instead.
    """
    import numpy as np

    from clamr_frames import FrameSelector
    from clamr_frames._fs import video_fingerprint
    from clamr_frames.select import select_frames
    from clamr_frames.selections import SelectionRecord, write_selections
    from clamr_frames.synth import generate_video

    videos = [generate_video(work / "videos", seed=900 + i, duration=60.0 * minutes, width=160, height=90)
              for i in range(n_videos)]
    selector = FrameSelector.from_pretrained("default", ocr=False, index_dir=work / "index", progress=False)
    indexes = {v.video_path: selector.index(v.video_path, v.srt_path) for v in videos}  # the stored index view reads
    rng = random.Random(0)
    nrng = np.random.default_rng(0)
    combos = itertools.cycle(itertools.product(POLICIES, KS))
    questions = [(v, q) for v in videos for q in v.questions]
    records = []
    fps = {}
    while len(records) < n_questions:
        for (v, q), (policy, k) in zip(questions, combos):
            if len(records) >= n_questions:
                break
            fp = fps.setdefault(v.video_path, video_fingerprint(v.video_path))
            truth = str(q.get("answer", "A"))
            answer = truth if rng.random() < 0.7 else "Z"
            common = {"video_fingerprint": fp, "scorer": "default", "scorer_revision": None, "policy_knobs": {},
                          "query": q["question"], "ocr": False, "fps": 1.0, "num_candidates": None, "task": "synthetic-view-speed",
                          "question_id": f"{len(records):04d}", "options": q.get("options"), "answer": answer,
                          "ground_truth": truth, "correct": answer == truth,
                          "gt_window": [q["needle"]["start"], q["needle"]["end"]]}
            if real:
                sel = selector.select(v.video_path, q["question"], k=k, subtitles=v.srt_path,
                                      options=q.get("options"), policy=policy)
                records.append(SelectionRecord.from_selection(sel, **common))
                continue
            idx = indexes[v.video_path]
            ts = idx.timestamps
            mid = 0.5 * (q["needle"]["start"] + q["needle"]["end"])
            scores = np.exp(-0.5 * ((ts - mid) / 4.0) ** 2) + 0.3 * nrng.random(len(ts))
            picked = np.asarray(select_frames(scores, ts, k, policy=policy), dtype=np.int64)
            rec = SelectionRecord(
                video=str(v.video_path), question=q["question"], k=k,
                candidates={"fps": 1.0, "num_candidates": None, "count": len(ts)},
                indices=picked.tolist(), frame_indices=idx.frame_indices[picked].tolist(),
                timestamps=ts[picked].tolist(), scores=scores[picked].tolist(), all_scores=scores.tolist(),
                policy={"name": policy, "knobs": {}}, asr_source="subtitles",
                **{key: val for key, val in common.items() if key not in ("scorer", "scorer_revision", "policy_knobs",
                                                                            "fps", "num_candidates")},
                scorer={"name": "default", "revision": None})
            records.append(rec)
    path = work / "selections.jsonl"
    write_selections(path, records, append=False)
    return path


def time_view(selections: Path, out: Path, index_dir: Path) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*_cli(), "view", str(selections), "-o", str(out), "--index-dir", str(index_dir), "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=_env(), stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    pages = sorted(out.glob("*.html"))
    sizes = [p.stat().st_size for p in pages]
    return {"seconds": round(seconds, 2), "pages": len(pages), "total_mb": round(sum(sizes) / 2**20, 2),
            "largest_page_kb": round(max(sizes) / 1024, 1)}


def report_sizes(work: Path) -> list[dict[str, Any]]:
    """``select --html`` at k = 32 of a demo-like 5-minute video and of a one-hour video."""
    from clamr_frames.synth import generate_video

    rows = []
    for label, minutes, size in (("demo-like 5 min 320x180", 5.0, (320, 180)), ("1 hour 160x90", 60.0, (160, 90))):
        v = generate_video(work / "sizes", seed=0 if minutes == 5.0 else 1, duration=60.0 * minutes,
                           width=size[0], height=size[1])
        q = v.questions[0]["question"]
        out = work / "sizes" / f"report-{int(minutes)}min.html"
        cached = any((work / "index").glob(f"{Path(v.video_path).stem}-*/manifest.json"))
        t0 = time.perf_counter()
        subprocess.run([*_cli(), "select", str(v.video_path), q, "-k", "32", "--subtitles", str(v.srt_path),
                        "--index-dir", str(work / "index"), "--html", str(out), "--quiet"],
                       check=True, env=_env(), stdout=subprocess.DEVNULL)
        rows.append({"video": label, "k": 32, "report_kb": round(out.stat().st_size / 1024, 1),
                     "candidates": int(60 * minutes), "select_html_seconds": round(time.perf_counter() - t0, 1),
                     "index_was_cached": cached,
                     "timer": "wall time of `clamr-frames select --html`: process start, model load, the index loaded "
                              "(or built when index_was_cached is false), selection, report"})
    return rows


def _write(rows: list[dict[str, Any]], notes: str, threads: int, load_before: list[float]) -> Path:
    try:
        from benchmarks.records import write_record
    except ImportError:  # before benchmarks/records.py: the same facts, written here
        import datetime as dt
        import platform

        path = BENCH_DIR / "results" / "view_speed.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False).stdout.strip()
        rec = {"name": "view_speed", "title": "clamr-frames view speed and report sizes",
               "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit or None,
               "machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "processor": platform.processor()},
               "cpu_count": threads, "load_before": load_before, "load_after": list(os.getloadavg()),
               "command": "python -m benchmarks.view_speed " + " ".join(sys.argv[1:]), "rows": rows, "notes": notes}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec, indent=1) + "\n")
        os.replace(tmp, path)
        return path
    return write_record("view_speed", rows, title="clamr-frames view speed and report sizes", notes=notes,
                        threads=threads, load_before=load_before)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=900)
    ap.add_argument("--videos", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of each synthetic video")
    ap.add_argument("--sizes", action="store_true", help="also record report sizes at k=32 (demo-like, 1 hour)")
    ap.add_argument("--work", default=str(BENCH_DIR / "_work" / "view_speed"))
    ap.add_argument("--no-record", action="store_true", help="print only")
    ap.add_argument("--real", action="store_true", help="score every row with the default scorer (slow)")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = list(os.getloadavg())
    threads = cpu_count()
    t0 = time.perf_counter()
    selections = build_selections(work, args.questions, args.videos, args.minutes, real=args.real)
    built = time.perf_counter() - t0
    view = time_view(selections, work / "report", work / "index")
    rows = [{"job": "view", "questions": args.questions, "videos": args.videos, "video_minutes": args.minutes,
             "k": "8/16/32", **view, "threads": threads,
             "timer": "wall time of the `clamr-frames view` process: import, read, thumbnails, pages, index"}]
    if args.sizes:
        rows += [dict(r, job="select --html", threads=threads) for r in report_sizes(work)]
    scores = "scored by the default scorer" if args.real else "scores drawn around each question's needle"
    notes = (f"{args.questions} selections of {args.videos} synthetic {args.minutes:g}-minute videos (160x90, indexed "
             f"with the default scorer over subtitles; {scores}; building them took {built:.0f} s, not timed).")
    for r in rows:
        print(json.dumps(r))
    if not args.no_record:
        print(f"record: {_write(rows, notes, threads, load_before)}")


if __name__ == "__main__":
    main()
