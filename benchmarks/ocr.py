"""OCR throughput (RapidOCR through clamr_frames.context.ocr) on generated frames, with and without the change detector.

1. Single frames: signs drawn with PIL on plain / gradient backgrounds at 320x180 and 480x270 (one or two lines,
   upper / lower case words and a number, font size scaled to the frame). Frames per second of
   ``OcrEngine.read`` and the share of drawn words read back, for the engine's default detector size (360) and
   RapidOCR's own (736).
2. Sequences at 1 fps where the text changes rarely (a sign whose text changes every ``--change-every`` seconds
   on a static, noisy background): OCR on every frame vs only on frames the :class:`ChangeDetector` flags, on
   the raw frames and after an H.264 round trip (codec noise), plus a case with a small moving object (the
   picture changes every frame, so the detector cannot skip anything). "words ok" is the share of frames whose
   text contains the sign's current key word.

    python benchmarks/ocr.py [--frames 16] [--seconds 60] [--change-every 15] [--no-record]

Writes the table to benchmarks/_work/ocr.md (and appends it to benchmarks/RESULTS.md unless --no-record).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import WORK, header, record  # noqa: E402

WORDS = (
    "harbour museum falcon cobalt granite library station platform exit bridge river garden market "
    "citadel copper lantern orchard meadow tunnel summit"
).split()
SIZES = ((320, 180), (480, 270))


def draw_frame(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, list[str]]:
    """A background (plain or gradient) with one or two text lines; returns the frame and its words."""
    from PIL import Image, ImageDraw, ImageFont

    if rng.uniform() < 0.5:
        img = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(30, 220, 3)))
    else:
        ramp = np.linspace(rng.uniform(20, 120), rng.uniform(140, 240), width, dtype=np.float32)
        bg = np.stack([np.tile(ramp, (height, 1)), np.full((height, width), rng.uniform(40, 200)),
                       np.tile(ramp[::-1], (height, 1))], -1)
        img = Image.fromarray(bg.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    words: list[str] = []
    y = int(rng.integers(4, height // 3))
    for _ in range(int(rng.integers(1, 3))):
        line = [str(w) for w in rng.choice(WORDS, 2, replace=False)] + [str(int(rng.integers(100, 1000)))]
        text = " ".join(line).upper() if rng.uniform() < 0.6 else " ".join(line)
        size = max(9, int(height * rng.uniform(0.06, 0.11)))
        font = ImageFont.load_default(size=size)
        x = int(rng.integers(4, max(5, width // 5)))
        box = draw.textbbox((x, y), text, font=font)
        draw.rectangle([box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4], fill=(240, 240, 232))
        draw.text((x, y), text, font=font, fill=(15, 15, 15))
        words += line
        y = box[3] + int(height * 0.12)
    return np.asarray(img).copy(), words


def sign_sequence(width: int, height: int, seconds: int, change_every: int, moving: bool = False) -> tuple[list[np.ndarray], list[str]]:
    """1-fps frames: a static noisy background and a sign whose key word changes every ``change_every`` s."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(7)
    base = Image.new("RGB", (width, height), (70, 100, 130))
    frames, keys = [], []
    font = ImageFont.load_default(size=max(9, int(height * 0.09)))
    for t in range(seconds):
        key = WORDS[(t // change_every) % len(WORDS)].upper()
        img = base.copy()
        d = ImageDraw.Draw(img)
        text = f"PLATFORM {3 + t // change_every}: {key}"
        box = d.textbbox((int(width * 0.08), int(height * 0.35)), text, font=font)
        d.rectangle([box[0] - 5, box[1] - 5, box[2] + 5, box[3] + 5], fill=(240, 240, 232))
        d.text((int(width * 0.08), int(height * 0.35)), text, font=font, fill=(15, 15, 15))
        if moving:  # a small object crossing the lower part of the picture
            s = height // 8
            x = int((t * width * 0.07) % (width - s))
            d.rectangle([x, height - 2 * s, x + s, height - s], fill=(250, 230, 90))
        a = np.asarray(img).astype(np.int16) + rng.integers(-3, 4, (height, width, 3))
        frames.append(np.clip(a, 0, 255).astype(np.uint8))
        keys.append(key)
    return frames, keys


def h264_round_trip(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Encode at 1 fps with libx264 (clamr_frames.video.write_video) and decode every frame with PyAV."""
    import av

    from clamr_frames.video.writer import write_video

    with tempfile.TemporaryDirectory() as d:
        path = write_video(Path(d) / "seq.mp4", iter(frames), fps=1.0)
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=16, help="single frames per size")
    ap.add_argument("--seconds", type=int, default=60, help="length of each 1-fps sequence")
    ap.add_argument("--change-every", type=int, default=15, help="seconds between text changes in a sequence")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()

    import onnxruntime

    from clamr_frames.context.ocr import ChangeDetector, OcrEngine, OcrPass

    engines = {lim: OcrEngine(det_limit_side_len=lim) for lim in (360, 736)}
    rng = np.random.default_rng(0)

    single = [
        "| frame | detector side | frames/s | median ms/frame | words read |",
        "|---|---:|---:|---:|---:|",
    ]
    for w, h in SIZES:
        data = [draw_frame(rng, w, h) for _ in range(args.frames)]
        for lim, eng in engines.items():
            eng.read(data[0][0])  # warm-up (onnxruntime allocates on the first run)
            times, hits = [], []
            for frame, words in data:
                t0 = time.perf_counter()
                text = eng.read(frame).lower()
                times.append(time.perf_counter() - t0)
                hits += [wd.lower() in text for wd in words]
            single.append(
                f"| {w}x{h} | {lim} | {len(times) / sum(times):.2f} | {1000 * statistics.median(times):.0f} "
                f"| {100 * np.mean(hits):.0f} % |"
            )
            print(single[-1], flush=True)

    seq = [
        "| sequence | change detector | OCR calls | seconds | frames/s | words ok |",
        "|---|---|---:|---:|---:|---:|",
    ]
    engine = engines[360]
    cases = []
    for w, h in SIZES:
        frames, keys = sign_sequence(w, h, args.seconds, args.change_every)
        cases.append((f"{w}x{h}, static", frames, keys))
        cases.append((f"{w}x{h}, static, H.264", h264_round_trip(frames), keys))
    frames, keys = sign_sequence(320, 180, args.seconds, args.change_every, moving=True)
    cases.append(("320x180, moving object", frames, keys))
    default = ChangeDetector().detector_id
    for name, frames, keys in cases:
        for label, thr in (("off (every frame)", 0.0), (f"on ({default})", None)):
            p = OcrPass(engine) if thr is None else OcrPass(engine, change_threshold=thr)
            t0 = time.perf_counter()
            texts = p(np.arange(len(frames), dtype=float), frames)
            secs = time.perf_counter() - t0
            ok = np.mean([k.lower() in t.lower() for k, t in zip(keys, texts)])
            seq.append(f"| {name} | {label} | {p.calls} / {len(frames)} | {secs:.1f} | {len(frames) / secs:.2f} | {100 * ok:.0f} % |")
            print(seq[-1], flush=True)

    body = (
        "Single frames (OcrEngine.read, text lines in reading order):\n\n" + "\n".join(single)
        + f"\n\nSequences at 1 fps, {args.seconds} s, sign text changes every {args.change_every} s "
        "(detector side 360):\n\n" + "\n".join(seq)
        + f"\n\nrapidocr {engine.engine_id.split('/')[0].split('-', 1)[1]}, onnxruntime {onnxruntime.__version__}, "
        "text-direction classifier off; onnxruntime uses every core it sees. Times include the change detector's "
        "own cost (a 96-cell-wide grayscale thumbnail per frame).\n"
    )
    title = "OCR throughput (RapidOCR) with and without the change detector"
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "ocr.md").write_text(header(title) + "\n" + body, encoding="utf-8")
    record(title, body, write=not args.no_record)


if __name__ == "__main__":
    main()
