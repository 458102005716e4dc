"""Candidate-frame decoding at 1 fps on a long video: our reader (decord and PyAV backends) vs lmms-eval's way.

The video (generated once, reused from benchmarks/_work/): 640x360 H.264 (libx264 ultrafast, crf 28, so no
B-frames), 10 fps native, a key frame every 10 s (gop 100), ``--minutes`` long (default 60). Each frame shows its
index as a row of black/white blocks (testkit/media.py) over a scrolling noise texture, so the encoder has real
work to do and every method's frames are checked to be the frames asked for.

Methods, each in its own subprocess (so peak RSS is its own), all decoding the same number of frames
(``duration`` seconds -> that many candidates):

- ``ours (decord)``: ``VideoReader(path, backend="decord").iter_candidates(fps=1, chunk_size=32)``;
- ``ours (pyav)``: the same with ``backend="pyav"``;
- ``reference``: what lmms-eval's video tasks do: ``decord.VideoReader(path, ctx=cpu(0))`` and one
  ``get_batch(np.linspace(0, len(vr) - 1, N, dtype=int)).asnumpy()`` with N = duration in seconds.

Reported per method: wall time (opening included), candidate frames per second, speed relative to the
reference, peak RSS of the process (and its growth over the imports), and the largest frame array held.

    python benchmarks/decode.py [--minutes 60] [--quick] [--chunk-size 32] [--no-record]

``--quick`` is a 3-minute video. Writes the table to benchmarks/_work/decode.md, prints it, and appends it to
benchmarks/RESULTS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks._common import WORK, header, record  # noqa: E402

WIDTH, HEIGHT, NATIVE_FPS, GOP_SECONDS = 640, 360, 10, 10
METHODS = {"reference": "reference: decord get_batch", "decord": "ours (decord)", "pyav": "ours (pyav)"}


def video_path(minutes: float) -> Path:
    return WORK / f"decode_{minutes:g}min_{WIDTH}x{HEIGHT}_{NATIVE_FPS}fps.mp4"


def make_benchmark_video(path: Path, minutes: float) -> Path:
    """Write the coded test video (see the module docstring); a partial file never takes the final name."""
    import numpy as np

    from clamr_frames.video.writer import write_video
    from testkit.media import coded_frame

    n = int(round(minutes * 60 * NATIVE_FPS))
    texture = np.random.default_rng(0).integers(0, 256, (HEIGHT, 2 * WIDTH, 3), dtype=np.uint8) // 2
    band = HEIGHT // 3

    def frames():
        for i in range(n):
            img = coded_frame(i, WIDTH, HEIGHT)
            off = (i * 4) % WIDTH  # the texture scrolls: motion the encoder has to search for
            img[:band] = texture[:band, off : off + WIDTH] + img[:band] // 2
            img[HEIGHT - band :] = texture[HEIGHT - band :, off : off + WIDTH] + img[HEIGHT - band :] // 2
            yield img

    tmp = path.with_name(path.stem + ".partial" + path.suffix)
    write_video(tmp, frames(), NATIVE_FPS, gop=GOP_SECONDS * NATIVE_FPS)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------- child side
def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_method(method: str, path: str, chunk_size: int) -> dict:
    """Decode the 1-fps candidates with one method (in this process) and report time, memory, correctness."""
    import numpy as np

    from testkit.media import read_code

    base_rss = _rss_mb()
    checked = wrong = frames = 0
    largest = 0
    if method == "reference":
        import decord  # lmms-eval's process imports decord, not PyAV

        base_rss = _rss_mb()
        t0 = time.perf_counter()
        vr = decord.VideoReader(path, ctx=decord.cpu(0))
        total = len(vr)
        n = int(total / vr.get_avg_fps())  # num_frames = duration in seconds
        idx = np.linspace(0, total - 1, n, dtype=int)
        batch = vr.get_batch(idx).asnumpy()
        seconds = time.perf_counter() - t0
        frames, largest = len(batch), batch.nbytes
        for i in range(0, len(idx), 37):
            checked += 1
            wrong += int(read_code(batch[i]) != int(idx[i]))
        open_s = float("nan")
    else:
        import av  # noqa: F401  (imports are not timed for any method)

        if method == "decord":
            import decord  # noqa: F401

        from clamr_frames.video import VideoReader

        base_rss = _rss_mb()
        t0 = time.perf_counter()
        reader = VideoReader(path, backend=method)  # type: ignore[arg-type]
        open_s = time.perf_counter() - t0
        assert reader.metadata.backend == method, reader.metadata
        for chunk in reader.iter_candidates(fps=1.0, chunk_size=chunk_size):
            frames += len(chunk)
            largest = max(largest, chunk.frames.nbytes)
            for k in (0, len(chunk) - 1):
                checked += 1
                wrong += int(read_code(chunk.frames[k]) != int(chunk.indices[k]))
        seconds = time.perf_counter() - t0
        reader.close()
    peak = _rss_mb()
    return {
        "method": method,
        "frames": frames,
        "seconds": seconds,
        "open_seconds": open_s,
        "peak_rss_mb": peak,
        "rss_growth_mb": peak - base_rss,
        "largest_array_mb": largest / 2**20,
        "checked": checked,
        "wrong": wrong,
    }


# ---------------------------------------------------------------------------------------------- parent side
def _child(method: str, path: Path, chunk_size: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.decode", "--child", method, "--video", str(path), "--chunk-size", str(chunk_size)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    ref = next(r for r in results if r["method"] == "reference")
    ref_fps = ref["frames"] / ref["seconds"]
    lines = [
        "| method | frames | wall s | frames/s | speed vs reference | peak RSS MB | RSS growth MB "
        "| largest array MB | frames checked (wrong) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        fps = r["frames"] / r["seconds"]
        lines.append(
            f"| {METHODS[r['method']]} | {r['frames']} | {r['seconds']:.2f} | {fps:.1f} | {fps / ref_fps:.2f}x | "
            f"{r['peak_rss_mb']:.0f} | {r['rss_growth_mb']:.0f} | {r['largest_array_mb']:.1f} | "
            f"{r['checked']} ({r['wrong']}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=None, help="video length (default 60; 3 with --quick)")
    ap.add_argument("--quick", action="store_true", help="a 3-minute video")
    ap.add_argument("--chunk-size", type=int, default=32)
    ap.add_argument("--methods", default="reference,decord,pyav")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--video", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_method(args.child, args.video, args.chunk_size)))
        return 0
    minutes = args.minutes if args.minutes is not None else (3.0 if args.quick else 60.0)
    WORK.mkdir(parents=True, exist_ok=True)
    path = video_path(minutes)
    if not path.exists():
        t0 = time.perf_counter()
        print(f"generating {path.name} ...", flush=True)
        make_benchmark_video(path, minutes)
        print(f"  {time.perf_counter() - t0:.0f} s, {path.stat().st_size / 2**20:.0f} MiB", flush=True)
    with open(path, "rb") as f:  # warm the page cache so that no method pays the first read
        while f.read(1 << 24):
            pass
    results = []
    for m in [m.strip() for m in args.methods.split(",") if m.strip()]:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
        r = _child(m, path, args.chunk_size)
        print(f"  {METHODS[m]}: {r['frames']} frames in {r['seconds']:.2f} s", flush=True)
        results.append(r)
    if not any(r["method"] == "reference" for r in results):
        raise SystemExit("the table needs the reference method")
    ours = [r for r in results if r["method"] != "reference"]
    opens = ", ".join(f"{METHODS[r['method']]} {r['open_seconds']:.2f} s" for r in ours)
    body = (
        f"Video: {minutes:g} min, {WIDTH}x{HEIGHT} H.264 (libx264 ultrafast, crf 28, no B-frames), {NATIVE_FPS} fps "
        f"native, key frame every {GOP_SECONDS} s; sampling 1 fps (duration-many frames), chunk size "
        f"{args.chunk_size}. Opening the file is included in every wall time (ours: the container index, "
        f"{opens}).\n\n"
        + table(results)
        + "\n"
    )
    title = "Video decoding: 1-fps candidates, our reader vs decord get_batch (lmms-eval)"
    (WORK / "decode.md").write_text(header(title) + "\n" + body, encoding="utf-8")
    record(title, body, write=not args.no_record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
