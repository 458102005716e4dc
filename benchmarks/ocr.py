"""OCR throughput (RapidOCR through clamr_frames.context.ocr): single frames, sequences, and whole videos.

Part ``frames`` (items 1 and 2), part ``videos`` (item 3); ``--part all`` runs both.

1. Single frames: signs drawn with PIL on plain / gradient backgrounds at 320x180 and 480x270 (one or two lines,
   upper / lower case words and a number, font size scaled to the frame). Frames per second of
   ``OcrEngine.read`` and the share of drawn words read back, for the engine's default detector size (360) and
   RapidOCR's own (736).
2. Sequences at 1 fps where the text changes rarely (a sign whose text changes every ``--change-every`` seconds
   on a static, noisy background): OCR on every frame vs only on frames the :class:`ChangeDetector` flags, on
   the raw frames and after an H.264 round trip (codec noise), plus a case with a small moving object (the
   picture changes every frame, so the detector cannot skip anything). "words ok" is the share of frames whose
   text contains the sign's current key word.
3. Whole videos, decoded as the index builder decodes them (1 fps, longer side at most 448): OCR of every frame,
   today's whole-frame change detector (``detector="frame"``) and the text-aware pass (``detector="text"``, the
   detector on a downscaled frame, only new or changed boxes recognised) at two detector sizes, with the
   detector on every frame, every second (the default) and every third frame, per stage
   (decode, detection, recognition, the rest) and in frames/s, on
   (a) generated videos whose camera pans in every frame (``clamr_frames.synth``, ``motion="pan"``),
   (b) a generated slide-style video (static slides whose bullets appear one by one),
   (c) real clips nobody here made: the sample AVIs of Debian's ``opencv-doc`` package
       (``apt-get install -y opencv-doc``; skipped when absent), sampled at ``--real-fps``.
   "frame recall": share of frames showing a generated sign / slide line whose text contains its key word;
   "word recall": share of the words (3+ letters or digits) every-frame OCR read in a frame that the method read
   in the same frame.

    python benchmarks/ocr.py [--part frames|videos|all] [--frames 16] [--seconds 60] [--change-every 15]
                             [--pan-videos 2] [--pan-seconds 300] [--slide-seconds 300] [--real-fps 2] [--no-record]

Writes the tables to benchmarks/_work/ocr.md / ocr_videos.md (and appends them to benchmarks/RESULTS.md unless
--no-record).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


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


def frames_part(args: argparse.Namespace) -> None:
    """Items 1 and 2 of the module docstring."""
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


# ------------------------------------------------------------------------------------------------
# whole videos

OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
_TOKEN = re.compile(r"[A-Za-z0-9]{3,}")


def words_of(text: str) -> set[str]:
    """Upper-cased words of 3+ letters or digits (what word recall counts)."""
    return {w.upper() for w in _TOKEN.findall(text)}


def slide_video(path: Path, seconds: int, width: int = 448, height: int = 252, per_slide: int = 30,
                build_every: int = 6, seed: int = 0) -> list[set[str]]:
    """Write a 1-fps slide-style H.264 video: a title and up to four bullets, one more bullet every
    ``build_every`` s, a new slide every ``per_slide`` s, sensor noise on every frame. Returns the key words
    on screen per frame (the title's and the bullets' capitalised words)."""
    from PIL import Image, ImageDraw, ImageFont

    from clamr_frames.video.writer import write_video

    rng = np.random.default_rng(seed)
    title_font = ImageFont.load_default(size=int(height * 0.09))
    font = ImageFont.load_default(size=int(height * 0.065))
    states: dict[tuple[int, int], tuple[np.ndarray, set[str]]] = {}

    def state(slide: int, bullets: int) -> tuple[np.ndarray, set[str]]:
        if (slide, bullets) not in states:
            r = np.random.default_rng([seed, slide])
            bg = tuple(int(v) for v in r.integers(215, 250, 3))
            img = Image.new("RGB", (width, height), bg)
            d = ImageDraw.Draw(img)
            title = f"{str(r.choice(WORDS)).upper()} {str(r.choice(WORDS)).upper()} {int(r.integers(2, 99))}"
            d.text((int(width * 0.06), int(height * 0.06)), title, font=title_font, fill=(20, 30, 90))
            keys = words_of(title)
            for b in range(bullets):
                line = " ".join([str(w).capitalize() for w in r.choice(WORDS, 3, replace=False)] + [str(int(r.integers(10, 999)))])
                d.text((int(width * 0.08), int(height * (0.3 + 0.15 * b))), "- " + line, font=font, fill=(25, 25, 25))
                keys |= words_of(line)
            states[(slide, bullets)] = (np.asarray(img).copy(), keys)
        return states[(slide, bullets)]

    frames, truth = [], []
    for t in range(seconds):
        base, keys = state(t // per_slide, min(4, (t % per_slide) // build_every))
        noisy = base.astype(np.int16) + rng.integers(-2, 3, base.shape)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
        truth.append(keys)
    write_video(path, iter(frames), fps=1.0)
    return truth


def decode(path: Path, fps: float) -> tuple[np.ndarray, list[tuple[np.ndarray, list[np.ndarray]]], float]:
    """Candidate chunks as the index builder reads them (longer side at most 448), and the decode seconds."""
    from clamr_frames.video import VideoReader

    t0 = time.perf_counter()
    with VideoReader(path) as r:
        chunks = [(c.timestamps, list(c.frames)) for c in r.iter_candidates(fps=fps, max_side=448, chunk_size=64)]
    secs = time.perf_counter() - t0
    ts = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0)
    return ts, chunks, secs


def run_methods(engine, methods, chunks) -> list[tuple[list[str], object, float]]:
    """Every method's OCR pass over the chunks, interleaved chunk by chunk (so that a change of the machine's
    load during the run touches all methods alike): per method, its texts, stats and seconds."""
    from clamr_frames.context.ocr import make_ocr_pass

    passes = [make_ocr_pass(engine, detector=detector, **knobs)[0] for _, detector, knobs in methods]
    texts: list[list[str]] = [[] for _ in methods]
    secs = [0.0] * len(methods)
    for ts, frames in chunks:
        for k, p in enumerate(passes):
            t0 = time.perf_counter()
            texts[k] += p(ts, frames)
            secs[k] += time.perf_counter() - t0
    return [(texts[k], passes[k].stats, secs[k]) for k in range(len(methods))]


METHODS = (
    ("every frame", "none", {}),
    ("whole-frame detector (before)", "frame", {}),
    ("text regions, det 96, every frame", "text", {"det_side": 96, "det_every": 1}),
    ("text regions, det 128, every frame", "text", {"det_side": 128, "det_every": 1}),
    ("text regions, det 128, every 2nd frame (default)", "text", {"det_side": 128, "det_every": 2}),
    ("text regions, det 128, every 3rd frame", "text", {"det_side": 128, "det_every": 3}),
)


def videos_part(args: argparse.Namespace) -> None:
    """Item 3 of the module docstring."""
    import os

    import onnxruntime

    from clamr_frames.context.ocr import OcrEngine
    from clamr_frames.synth import generate_video

    engine = OcrEngine(threads=1)
    work = WORK / "ocr_videos"
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    cases = []  # (name, path, fps, truth per frame: set of key words | None)
    for i in range(args.pan_videos):
        v = generate_video(work, seed=20 + i, duration=float(args.pan_seconds), kinds=("ocr", "vision"),
                           needles_per_kind=7, motion="pan", video_id=f"pan-{20 + i}")
        cases.append((f"generated, camera pans (seed {20 + i}, {args.pan_seconds} s)", v.video_path, 1.0,
                      [n for n in v.needles if n.kind == "ocr"]))
    slides = work / "slides.mp4"
    slide_truth = slide_video(slides, args.slide_seconds)
    cases.append((f"generated slides ({args.slide_seconds} s)", slides, 1.0, slide_truth))
    real = sorted(OPENCV_SAMPLES.glob("*.avi")) if OPENCV_SAMPLES.is_dir() else []
    for path in real:
        cases.append((f"opencv-doc {path.name} ({args.real_fps:g} fps)", path, args.real_fps, None))
    if not real:
        print("opencv-doc sample AVIs not found (apt-get install -y opencv-doc): real clips skipped", flush=True)

    rows = [
        "| video | method | frames | decode s | detector s | recognizer s | other s | OCR s | OCR frames/s | "
        "frames/s with decode | frame recall | word recall | OCR / detector runs | crops read |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    totals: dict[str, list[float]] = {}
    for name, path, fps, truth in cases:
        ts, chunks, dec_s = decode(path, fps)
        n = len(ts)
        engine.read(chunks[0][1][0])  # warm-up
        engine.detect(chunks[0][1][0], side=96)
        results = run_methods(engine, METHODS, chunks)
        reference = results[0][0]
        for (label, detector, knobs), (texts, st, secs) in zip(METHODS, results):
            ref_words = [(i, w) for i, t in enumerate(reference) for w in words_of(t)]
            word_rec = np.mean([w in words_of(texts[i]) for i, w in ref_words]) if ref_words else float("nan")
            if truth is None:
                frame_rec = float("nan")
            elif truth and hasattr(truth[0], "key"):  # generated needles: frames inside a sign's span
                hits = [nd.key.upper() in texts[i].upper() for nd in truth for i, t in enumerate(ts) if nd.start <= t < nd.end]
                frame_rec = float(np.mean(hits))
            else:  # slides: every key word on screen
                hits = [w in words_of(texts[i]) for i, keys in enumerate(truth[:n]) for w in keys]
                frame_rec = float(np.mean(hits))
            fr = "–" if np.isnan(frame_rec) else f"{100 * frame_rec:.1f} %"
            wr = "–" if np.isnan(word_rec) else f"{100 * word_rec:.1f} %"
            det = st.det_seconds
            rec = st.rec_seconds
            crops = str(st.recognised) if detector == "text" else "–"
            det_cell, rec_cell = (f"{det:.1f}", f"{rec:.1f}") if detector == "text" else (f"{det:.1f} (full OCR)", "–")
            rows.append(
                f"| {name} | {label} | {n} | {dec_s:.1f} | {det_cell} | {rec_cell} | {st.other_seconds:.1f} | "
                f"{secs:.1f} | {n / secs:.1f} | {n / (secs + dec_s):.1f} | {fr} | {wr} | {st.detected} | {crops} |"
            )
            print(rows[-1], flush=True)
            if truth is not None:
                agg = totals.setdefault(label, [0.0, 0, 0.0, 0])
                agg[0] += secs
                agg[1] += n
    load1 = os.getloadavg()[0]
    summary = ["| method | frames | OCR s | OCR frames/s | vs every frame |", "|---|---:|---:|---:|---:|"]
    base = totals.get(METHODS[0][0])
    for label, (secs, n, *_rest) in totals.items():
        summary.append(f"| {label} | {n} | {secs:.1f} | {n / secs:.1f} | {base[0] / secs:.1f}x |" if base else "")
    body = (
        "Per video: candidates at the given fps, decoded as the index builder does (longer side at most 448 px); "
        "every method reads the same decoded frames, the methods taking turns chunk by chunk (64 frames), so that "
        "the machine's changing load touches them alike. \"detector s\" is the time in RapidOCR's full pipeline for "
        "the first two methods and in the text detector alone for the text-region pass.\n\n"
        + "\n".join(rows)
        + "\n\nAll generated videos together:\n\n" + "\n".join(summary)
        + f"\n\nrapidocr {engine.engine_id.split('/')[0].split('-', 1)[1]}, onnxruntime {onnxruntime.__version__}, one "
        f"onnxruntime thread (per-core rates). The machine's 2 cores were shared with other jobs (load average "
        f"{load0:.1f} at the start, {load1:.1f} at the end): compare rows of one video with each other (ratios), "
        "not with other tables.\n"
    )
    title = "OCR on whole videos: every frame vs the whole-frame detector vs text regions"
    (WORK / "ocr_videos.md").write_text(header(title) + "\n" + body, encoding="utf-8")
    record(title, body, write=not args.no_record)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("frames", "videos", "all"), default="all")
    ap.add_argument("--frames", type=int, default=16, help="single frames per size")
    ap.add_argument("--seconds", type=int, default=60, help="length of each 1-fps sequence")
    ap.add_argument("--change-every", type=int, default=15, help="seconds between text changes in a sequence")
    ap.add_argument("--pan-videos", type=int, default=2, help="generated panning-camera videos")
    ap.add_argument("--pan-seconds", type=int, default=300, help="length of each panning-camera video")
    ap.add_argument("--slide-seconds", type=int, default=300, help="length of the slide-style video")
    ap.add_argument("--real-fps", type=float, default=2.0, help="candidate rate on the opencv-doc clips")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    if args.part in ("frames", "all"):
        frames_part(args)
    if args.part in ("videos", "all"):
        videos_part(args)


if __name__ == "__main__":
    main()
