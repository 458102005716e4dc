"""Context at video speed: a new video indexed with OCR + ASR + the default scorer, vs uniform decoding.

One run, one generated video whose camera pans in every frame (``clamr_frames.synth``, ``motion="pan"``;
signs, spoken lines when the generator can speak them, coloured shapes), measured twice from cold caches:

1. uniform decoding: the 1-fps candidates decoded as lmms-eval's uniform sampling needs them (the floor);
2. ``FrameSelector.from_pretrained("default", ocr=True)`` (+ speech recognition when ``clamr_frames.context.asr``
   is installed) indexing the video through the pipelined builder, with its per-stage work
   (:class:`clamr_frames.index.pipeline.PipelineStats`).

Then every generated question is asked (k=16, topk) and "hit" counts questions with a picked frame inside the
needle's span. A shorter video than an hour is extrapolated to one hour from the measured wall time and from each
stage's rate (each stage's work grows linearly with the video's length).

    python benchmarks/context_speed.py [--minutes 60] [--no-record]

Appends the table to benchmarks/RESULTS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import tempfile
import time
from pathlib import Path

import numpy as np


from benchmarks._common import WORK, record  # noqa: E402


def make_video(minutes: float, seed: int) -> tuple[object, bool]:
    """The benchmark video (written to benchmarks/_work; the same seed gives the same file) and whether its audio
    track speaks."""
    from clamr_frames.synth import generate_video

    kw: dict = {"audio": True}
    spoken = "speech" in inspect.signature(generate_video).parameters and importlib.util.find_spec("espeakng_loader")
    if spoken:
        kw = {"speech": True}
    out = WORK / "context_speed"
    vid = f"pan-{seed}-{minutes:g}min" + ("-speech" if spoken else "")
    t0 = time.perf_counter()
    v = generate_video(out, seed=seed, duration=60.0 * minutes, kinds=("ocr", "asr", "vision"), needles_per_kind=7,
                       motion="pan", video_id=vid, **kw)
    print(f"generated {v.video_path} in {time.perf_counter() - t0:.0f} s", flush=True)
    return v, bool(spoken)


def uniform_decode(path: Path) -> tuple[float, int]:
    from clamr_frames.video import VideoReader

    t0 = time.perf_counter()
    n = 0
    with VideoReader(path) as r:
        for chunk in r.iter_candidates(fps=1.0, max_side=448, chunk_size=64):
            n += len(chunk.frames)
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the generated video")
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--asr-threads", type=int, default=0,
                    help="CTranslate2 threads for speech recognition (0: the pipeline's share of the cores)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    from clamr_frames import FrameSelector
    from clamr_frames.index.pipeline import PipelineStats, thread_plan, usable_cores

    video, spoken = make_video(args.minutes, args.seed)
    has_asr = importlib.util.find_spec("clamr_frames.context.asr") is not None
    load0 = os.getloadavg()[0]
    dec_s, n = uniform_decode(video.video_path)
    print(f"uniform decoding: {n} frames in {dec_s:.1f} s", flush=True)

    with tempfile.TemporaryDirectory() as cache:
        kwargs: dict = {"index_dir": cache, "ocr": True, "progress": True}
        if has_asr:
            from clamr_frames.context.asr import AsrSettings

            kwargs["asr"] = "whisper"
            kwargs["asr_settings"] = AsrSettings(cpu_threads=args.asr_threads)
        selector = FrameSelector.from_pretrained("default", **kwargs)
        stats = PipelineStats()
        t0 = time.perf_counter()
        index = selector.index(video.video_path, stats=stats)
        wall = time.perf_counter() - t0
        hits = []
        for q in video.questions:
            sel = selector.select(video.video_path, q["question"], k=16, options=q.get("options"))
            a, b = q["needle"]["start"], q["needle"]["end"]
            hits.append((q["needle"]["kind"], any(a - 0.5 <= t <= b + 0.5 for t in sel.timestamps)))
    load1 = os.getloadavg()[0]
    hours = args.minutes / 60.0
    scale = 1.0 / hours
    rows = [
        "| stage | work | busy s | rate | busy s per video hour |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, st in stats.stages.items():
        rate = f"{st.rate:.1f}x real time" if st.unit == "s audio" else f"{st.rate:.1f} frames/s"
        work = f"{st.done:.0f} s audio" if st.unit == "s audio" else f"{st.done:.0f} frames"
        rows.append(f"| {name} | {work} | {st.busy:.1f} | {rate} | {st.busy * scale:.0f} |")
    by_kind: dict[str, list[bool]] = {}
    for kind, hit in hits:
        by_kind.setdefault(kind, []).append(hit)
    hit_line = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_kind.items()))
    summary = [
        "| | video | wall s | per video hour (s) | x real time |",
        "|---|---:|---:|---:|---:|",
        f"| uniform decoding (1 fps) | {args.minutes:g} min | {dec_s:.1f} | {dec_s * scale:.0f} | "
        f"{60 * args.minutes / dec_s:.0f} |",
        f"| index: OCR{' + ASR' if has_asr else ''} + default scorer, pipelined | {args.minutes:g} min | {wall:.1f} | "
        f"{wall * scale:.0f} | {60 * args.minutes / wall:.0f} |",
    ]
    plan: dict = thread_plan(ocr=True, asr=has_asr)
    if has_asr:
        from clamr_frames.context.asr import AsrSettings, WhisperTranscriber

        workers, per_worker = WhisperTranscriber(AsrSettings(cpu_threads=args.asr_threads or plan["asr"])).parallelism()
        plan["asr"] = f"{workers} worker{'s' if workers > 1 else ''} x {per_worker} thread{'s' if per_worker > 1 else ''}"
    body = (
        f"Generated video: {args.minutes:g} min, 320x180 at 2 fps, the camera pans in every frame, 7 signs, "
        f"7 {'spoken' if spoken else 'subtitle-only (the audio is a tone)'} lines, 7 shapes; {len(index.timestamps)} "
        f"candidates at 1 fps. Cold caches (a fresh index and OCR/ASR cache directory).\n\n"
        + "\n".join(summary)
        + f"\n\nWhere the time goes (each stage's own work; stages overlap, so the busy times add up to more than "
        f"the wall time; the encoder waited {stats.waited_for_cues:.1f} s for speech recognition):\n\n"
        + "\n".join(rows)
        + f"\n\nQuestions with a picked frame in the needle's span (k=16, topk): {hit_line}.\n"
        + ("" if has_asr else "Speech recognition (clamr_frames.context.asr) is not installed in this tree: no ASR "
           "stage; spoken-line questions have no ASR context.\n")
        + f"\nThreads: {plan} on {usable_cores()} cores; 1-min load average {load0:.1f} before the "
        f"run, {load1:.1f} at its end (this run's own threads included). The per-hour columns scale this run "
        "linearly.\n"
    )
    title = f"Context at video speed: index a new {args.minutes:g}-minute video (OCR{' + ASR' if has_asr else ''} + default scorer) vs uniform decoding"
    record(title, body, write=not args.no_record)
    print(f"questions hit: {np.mean([h for _, h in hits]):.2f}")


if __name__ == "__main__":
    main()
