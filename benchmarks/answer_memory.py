"""Peak memory of answering one question: the harness's answer path vs lmms-eval's own video loading.

``python -m benchmarks.answer_memory [--ks 32,768] [--durations 600,3600] [--size 320x180] [--out FILE]``

For a 10-minute and a 1-hour synthetic video (``clamr_frames.synth``, low resolution, generated once under
``benchmarks/_work/answer_memory``) and each k, every loader runs in a **fresh process** that imports what it
needs, resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), then loads the k frames of one question:

``clamr_answer``
    the ``clamr_frames`` model answering from a selections file (``selections=FILE``): the record's k distinct
    picks spread evenly over the video's native frames (the far-apart case for seeking; the frames lmms-eval's
    uniform sampling takes), decoded by ``ClamrFrames._frames`` as PIL images
    at the inner model's size (``max_pixels`` 151200).
``lmms_read_video_pyav``
    lmms-eval 0.7.3's shared loader ``models/model_utils/load_video.read_video`` (PyAV backend, its default),
    ``num_frm=k``.
``lmms_load_video_decord``
    lmms-eval's ``load_video_decord(path, k)`` (what ``llava_onevision`` and friends call).
``qwen_vl_utils_fetch_video``
    ``qwen_vl_utils.process_vision_info`` with ``nframes=k`` and the same ``max_pixels``: what lmms-eval's
    ``qwen2_5_vl`` model hands its video to.

A row is the memory the load adds: peak RSS during the load minus RSS just before it (MiB), plus the load's wall
time. The JSON record (``benchmarks/results/answer_memory.json`` by default) holds date, commit, machine, CPU count,
load average before and after, the command, versions and the rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

from clamr_frames.run_info import cpu_count

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / "_work" / "answer_memory"
DEFAULT_OUT = BENCH_DIR / "results" / "answer_memory.json"
METHODS = ("clamr_answer", "lmms_read_video_pyav", "lmms_load_video_decord", "qwen_vl_utils_fetch_video")
MAX_PIXELS = 360 * 420


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    # "5" resets the peak resident set size (VmHWM) to the current RSS (Linux >= 4.0).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# -- one measurement (run in its own process) -------------------------------------------------------


def _prepare(method: str, video: str, k: int, selections: str):
    """Import what the method needs and return a zero-argument function doing the load."""
    if method == "clamr_answer":
        # what the first call would import lazily (the decoder, PIL's image module): not part of the load
        import av  # noqa: F401
        import PIL.Image  # noqa: F401

        import clamr_frames.video._pyav_backend  # noqa: F401
        from qa_harness.docs import McqItem
        from qa_harness.model import ClamrFrames

        model = ClamrFrames(selections=selections, k=k, max_pixels=MAX_PIXELS, inner_ocr="false")
        item = McqItem("q", ["a", "b"], ["A", "B"])

        def run():
            picked = model.source.pick(video=video, item=item, subtitles=None, doc={"question_id": "q0"},
                                       task="answer_memory", doc_id=0)
            frames, _ = model._frames(video, picked)
            return len(frames)

        return run
    if method == "lmms_read_video_pyav":
        from lmms_eval.models.model_utils.load_video import read_video

        return lambda: len(read_video(video, num_frm=k, backend="pyav"))
    if method == "lmms_load_video_decord":
        from lmms_eval.models.model_utils.load_video import load_video_decord

        return lambda: len(load_video_decord(video, k))
    if method == "qwen_vl_utils_fetch_video":
        import decord  # noqa: F401  (qwen_vl_utils' video reader, imported on first use)
        from qwen_vl_utils import process_vision_info

        msgs = [{"role": "user", "content": [{"type": "video", "video": video, "nframes": k, "max_pixels": MAX_PIXELS}]}]

        def run():
            _, videos = process_vision_info(msgs)
            return int(videos[0].shape[0])

        return run
    raise SystemExit(f"unknown method {method!r}")


def measure_one(method: str, video: str, k: int, selections: str) -> dict:
    import gc

    fn = _prepare(method, video, k, selections)
    gc.collect()
    _reset_peak()
    before = _status_kib("VmRSS")
    t0 = time.perf_counter()
    n = fn()
    wall = time.perf_counter() - t0
    peak = _status_kib("VmHWM")
    return {"frames": n, "rss_before_mib": round(before / 1024, 1), "peak_mib": round(peak / 1024, 1),
            "added_mib": round((peak - before) / 1024, 1), "seconds": round(wall, 2)}


# -- the driver ---------------------------------------------------------------------------------------


def _video(duration: float, size: tuple[int, int]) -> Path:
    from clamr_frames.synth import generate_video

    vid = f"mem_{int(duration)}s_{size[0]}x{size[1]}"
    path = WORK / f"{vid}.mp4"
    if not path.is_file():
        WORK.mkdir(parents=True, exist_ok=True)
        generate_video(WORK, seed=1, duration=duration, fps=2.0, width=size[0], height=size[1], video_id=vid,
                       needles_per_kind=1)
    return path


def _selections(video: Path, k: int) -> Path:
    """A selections record of k distinct native frames spread evenly over the video (far apart: the seeking case;
    the frames lmms-eval's uniform sampling takes), on a candidate grid of every native frame."""
    import numpy as np

    from clamr_frames._fs import video_fingerprint
    from clamr_frames.selections import SelectionRecord, write_selections
    from clamr_frames.video import VideoReader

    with VideoReader(video) as reader:
        n = reader.metadata.num_frames
        idx, ts = reader.candidate_indices(num_frames=n)
    picks = np.linspace(0, len(idx) - 1, k, dtype=int)
    if len(np.unique(picks)) < k:
        raise SystemExit(f"{video}: {n} frames, fewer than k={k}")
    rec = SelectionRecord(
        video=str(video), video_fingerprint=video_fingerprint(video), question="q", k=k,
        candidates={"fps": None, "num_candidates": n, "count": len(idx)}, indices=picks.tolist(),
        frame_indices=idx[picks].tolist(), timestamps=ts[picks].tolist(), scores=[0.0] * k,
        scorer={"name": "uniform", "revision": None}, policy={"name": "uniform", "knobs": {}}, query="q",
        asr_source="none", ocr=False, task="answer_memory", doc_id=0, question_id="q0",
    )
    path = WORK / f"{video.stem}_k{k}.jsonl"
    write_selections(path, [rec], append=False)
    return path


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=BENCH_DIR.parent, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("av", "decord", "lmms_eval", "qwen-vl-utils", "numpy", "pillow", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _machine() -> str:
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.answer_memory", description=__doc__.split("\n")[0])
    ap.add_argument("--ks", default="32,768")
    ap.add_argument("--durations", default="600,3600", help="seconds of the synthetic videos")
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--one", nargs=4, metavar=("METHOD", "VIDEO", "K", "SELECTIONS"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        method, video, k, sel = a.one
        print(json.dumps(measure_one(method, video, int(k), sel)))
        return 0
    w, h = (int(x) for x in a.size.lower().split("x"))
    ks = [int(x) for x in a.ks.split(",")]
    methods = [m for m in a.methods.split(",") if m]
    load_before = os.getloadavg()
    rows = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(BENCH_DIR.parent), os.environ.get("PYTHONPATH", "")]))
    for duration in (float(x) for x in a.durations.split(",")):
        video = _video(duration, (w, h))
        for k in ks:
            sel = _selections(video, k)
            for method in methods:
                cmd = [sys.executable, "-m", "benchmarks.answer_memory", "--one", method, str(video), str(k), str(sel)]
                p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=BENCH_DIR.parent, check=False)
                row = {"method": method, "duration_s": duration, "k": k, "size": f"{w}x{h}"}
                if p.returncode == 0:
                    row.update(json.loads(p.stdout.strip().splitlines()[-1]))
                else:
                    row["error"] = (p.stderr.strip().splitlines() or ["failed"])[-1][:300]
                rows.append(row)
                print(json.dumps(row), flush=True)
    rec = {
        "benchmark": "answer_memory",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
        "machine": _machine(),
        "cpu_count": cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "command": "python -m benchmarks.answer_memory " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
        "versions": _versions(),
        "rows": rows,
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    print(summary(rec))
    return 0


def summary(rec: dict) -> str:
    """A Markdown table of a record's rows (added MiB and seconds per method, video and k)."""
    lines = ["| method | video | k | added MiB | seconds |", "|---|---|---|---|---|"]
    for r in rec["rows"]:
        added = r.get("added_mib", "error: " + r.get("error", "?"))
        lines.append(f"| {r['method']} | {r['duration_s'] / 60:.0f} min {r['size']} | {r['k']} | {added} | "
                     f"{r.get('seconds', '')} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
