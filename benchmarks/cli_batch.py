"""CLI wall time per question on an indexed video: one ``clamr-frames select`` call per question vs one call for
all of them (``select VIDEO --questions FILE.jsonl``).

A call pays for Python, torch and transformers imports and for loading the scorer before it selects anything;
the batch mode pays that once. Both variants run in this one process, side by side, on the same questions and the
same on-disk index (built first, through the CLI, and timed separately), alternating: a batch call, part of the
single calls, a batch call, the rest, ... so that the load of a shared machine falls on both alike. The picked frames are checked to be the
same in both modes.

    python benchmarks/cli_batch.py [--minutes 20] [--questions 20] [--rounds 2] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks._common import WORK, record  # noqa: E402


def _cli(*args: str) -> tuple[float, str]:
    """Run ``python -m clamr_frames ARGS`` as a user would; (wall seconds, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "clamr_frames", *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"clamr-frames {' '.join(args[:2])} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return wall, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0, help="length of the generated video")
    ap.add_argument("--questions", type=int, default=20, help="questions per variant")
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternations: each round one batch call, then its share of the single calls")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()

    from clamr_frames.synth import generate_video

    out = WORK / f"cli_batch_{args.minutes:g}min"
    video = generate_video(out, seed=11, duration=60.0 * args.minutes)
    vpath, srt = str(video.video_path), str(video.srt_path)
    index_dir = str(out / "index")
    common = ["--subtitles", srt, "--index-dir", index_dir, "--no-ocr", "--quiet"]
    t_index, _ = _cli("index", vpath, *common)

    texts = [q["question"] for q in video.questions] or ["What is the password?"]
    rows = [{"question": texts[i % len(texts)], "k": (8, 16)[(i // len(texts)) % 2], "id": i}
            for i in range(args.questions)]
    qfile = out / "questions.jsonl"
    qfile.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    single_walls: list[float] = []
    batch_walls: list[float] = []
    picks_single: dict[int, list[float]] = {}
    picks_batch: dict[int, list[float]] = {}
    for rnd in range(args.rounds):  # each round: the batch call, then its share of the single calls
        wall, stdout = _cli("select", vpath, "--questions", str(qfile), *common)
        batch_walls.append(wall)
        for line in stdout.splitlines():
            rec = json.loads(line)
            picks_batch[rec["id"]] = [f["timestamp"] for f in rec["frames"]]
        for r in rows[rnd::args.rounds]:
            wall, stdout = _cli("select", vpath, r["question"], "-k", str(r["k"]), "--json", *common)
            single_walls.append(wall)
            picks_single[r["id"]] = [f["timestamp"] for f in json.loads(stdout)["frames"]]
    same = picks_single == picks_batch and len(picks_batch) == len(rows)

    n = len(rows)
    per_single = statistics.mean(single_walls)
    per_batch = statistics.mean(batch_walls) / n
    body = (
        f"{args.minutes:g}-minute generated video with subtitles ({Path(vpath).name}), scorer `default`, 1 fps "
        f"candidates, index built first by `clamr-frames index` in {t_index:.1f} s (not counted below). "
        f"{n} questions (k 8 or 16); {args.rounds} rounds, each one batch call for all {n} questions followed by "
        f"1/{args.rounds} of the single calls (every question once); every call is a fresh "
        f"`python -m clamr_frames` process, wall time measured around it. Machine: 2 cores, 5-min load average "
        f"{os.getloadavg()[1]:.1f} at the end (this run included); the two variants ran interleaved in one run, so "
        f"the ratio is the number to read. Same frames picked in both modes: "
        f"{'yes' if same else 'NO'}.\n\n"
        "| variant | wall per question (mean) | min / max per call |\n|---|---|---|\n"
        f"| one `select VIDEO QUESTION` call per question | {per_single:.2f} s | "
        f"{min(single_walls):.2f} / {max(single_walls):.2f} s |\n"
        f"| one `select VIDEO --questions FILE.jsonl` call for all {n} | {per_batch * 1000:.0f} ms | "
        f"{min(batch_walls):.2f} / {max(batch_walls):.2f} s per call of {n} |\n\n"
        f"Batch mode: **{per_single / per_batch:.1f}x** less wall time per question (goal: at least 10x). What is "
        f"left per question in batch mode is the query encoding, MaxSim over the candidates and the JSON record; "
        f"the batch call's fixed cost (imports, loading the scorer and the index once) is spread over its {n} "
        f"questions, so the ratio grows with the number of questions."
    )
    record("CLI: one call per question vs --questions (batch)", body, write=not args.no_record)
    if not same:
        raise SystemExit("the two modes picked different frames")


if __name__ == "__main__":
    main()
