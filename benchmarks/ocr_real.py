"""OCR's cost on real footage: index time without OCR, with the old OCR pass and with today's, and the text read.

The video: about 12 minutes composed only of the committed real clips (``testkit.real_footage``; sources in
tests/data/README.md), as in issue 23: test cards whose counters and timecode change in every frame (SMPTE card
with three running counters, colour-bar card with a caption, a timecode and a progress bar), a handheld camera
(cockatoo), films (Big Buck Bunny with its title over a shot, a Chaplin film, a cartoon), looped, 960x540 at
8 fps. The index decodes it as always (1 candidate per second, longer side at most 448).

Text recall: the share of ground-truth on-screen strings that the OCR text of the candidate showing them
contains, both normalised (lower case, letters and digits only): the colour-bar card's caption and its timecode
at that candidate, the SMPTE card's frame counter and timecode at that candidate (known from which source frame
the composition put there), the film's title lines.

Each index build runs in a fresh subprocess (``--worker``) with a fresh index directory, so nothing is cached;
the variants run interleaved, ``--repeats`` times, and the table reports medians. "before" is the code of
another checkout (``--base``, e.g. a git worktree of main), "after" this checkout.

    python -m benchmarks.ocr_real [--repeats 3] [--base /work/wt/ocr-base] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FPS = 8.0
SIZE = (960, 540)

#: One minute of footage; the video repeats it 12 times with the start of each clip moved on.
def plan(minutes: int = 12):
    from testkit.real_footage import Segment

    segs = []
    for m in range(minutes):
        segs += [
            Segment("smpte", (2.0 * m) % 10, 10.0),  # three counters change in every frame
            Segment("cockatoo", (3.0 * m) % 14, 10.0),  # handheld camera, no text
            Segment("testcard", (0.5 * m) % 2, 8.0),  # static caption + running timecode
            Segment("bunny", 17.0, 8.0),  # fade in of the title over a shot (20.5-22.5 s)
            Segment("chaplin", (1.0 * m) % 9, 9.0),
            Segment("testcard", 1.0, 6.0),
            Segment("pigs", 0.0, 3.0),
            Segment("smpte", (5.0 + m) % 10, 6.0),
        ]
    return segs


def soundtrack(seconds: float, rate: int = 16000) -> np.ndarray:
    """The committed speech recordings (tests/data/speech), one every 75 s from 20 s, over low noise (about
    -50 dBFS): speech recognition runs in the index as it does on the issue's video, so "without OCR" is the
    default index of a video with speech, not an index that decodes nothing."""
    from testkit.real_media import decode_mono, recordings

    audio = np.random.default_rng(0).normal(0.0, 0.003, int(seconds * rate)).astype(np.float32)
    for i, rec in enumerate(recordings()):
        at = int((20 + 75 * i) * rate)
        speech = decode_mono(rec.path, rate)[: max(0, audio.size - at)]
        audio[at : at + speech.size] += speech
    return np.clip(audio, -1.0, 1.0)


def compose_video(path: Path):
    """The ~12-minute composition (written once per path) and where each segment lies."""
    from testkit.real_footage import compose

    segs = plan()
    seconds = sum(round(s.duration * FPS) for s in segs) / FPS
    return compose(path, segs, fps=FPS, size=SIZE, audio=soundtrack(seconds), audio_rate=16000)


def worker(video: str, ocr: bool) -> dict:
    """Index ``video`` once with the default scorer in a fresh index directory: seconds, the OCR pass's stats and
    the OCR text of every candidate (run in a subprocess: the clamr_frames it imports is the checkout's)."""
    import dataclasses

    import clamr_frames
    import clamr_frames.context.ocr as ocr_pkg

    passes = []
    make = ocr_pkg.make_ocr_pass

    def spy(*a, **k):  # the pass the index plan builds, to read its stats afterwards
        p = make(*a, **k)
        passes.append(p[0])
        return p

    ocr_pkg.make_ocr_pass = spy
    from clamr_frames.index.pipeline import PipelineStats

    pstats = PipelineStats()
    with tempfile.TemporaryDirectory() as d:
        sel = clamr_frames.FrameSelector.from_pretrained("default", ocr=ocr, index_dir=d, progress=False)
        t0, c0 = time.perf_counter(), os.times()
        idx = sel.index(video, stats=pstats)
        seconds, c1 = time.perf_counter() - t0, os.times()
        texts = list(getattr(idx, "ocr", None) or [])
        ts = [float(t) for t in idx.timestamps]
    stats = dataclasses.asdict(passes[0].stats) if passes else {}
    return {"seconds": seconds, "cpu": (c1.user - c0.user) + (c1.system - c0.system), "stats": stats, "texts": texts,
            "timestamps": ts, "pipeline": pstats.to_json(),
            "ocr_id": getattr(passes[0], "ocr_id", None) if passes else None}


def memory_check(video: str) -> dict:
    """The text the OCR pass reads with its glyph memory and archive and without them, on the candidates the index
    decodes (untimed): how many candidates' texts differ, and the recognizer runs each way."""
    from clamr_frames.context.ocr import OcrEngine, make_ocr_pass
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.video import VideoReader

    st = IndexSettings()
    chunks = list(VideoReader(video).iter_candidates(fps=st.fps, num_frames=st.num_frames, max_side=st.max_side,
                                                     chunk_size=st.chunk_size))
    engine = OcrEngine()

    def both(chunks) -> dict:
        out = {}
        for name, knobs in (("with", {}), ("without", {"glyphs": False, "archive": 0})):
            ocr, _ = make_ocr_pass(engine, **knobs)
            out[name] = [text for c in chunks for text in ocr(c.timestamps, list(c.frames))]
            out[name + " recognised"] = ocr.stats.recognised
        return {"candidates": len(out["with"]), "differ": sum(a != b for a, b in zip(out["with"], out["without"])),
                "recognised with": out["with recognised"], "recognised without": out["without recognised"],
                "texts": out["with"]}

    got = both(chunks)
    # the same on videos of another generator (testkit.heldout: other fonts, panning, distractor shapes)
    from testkit.heldout import heldout_set

    with tempfile.TemporaryDirectory() as d:
        held = [both(list(VideoReader(str(v.video_path)).iter_candidates(fps=1.0, max_side=st.max_side,
                                                                          chunk_size=st.chunk_size)))
                for v in heldout_set(d, seeds=list(HELDOUT_SEEDS), duration=240.0)]
    got["heldout"] = {k: sum(h[k] for h in held) for k in held[0] if k != "texts"}
    return got


#: Held-out generated videos on which the glyph memory and the archive are checked to change no text.
HELDOUT_SEEDS = (900, 901, 902, 903)



#: Source clips whose on-screen text is known frame by frame, and the title lines of the film (seconds shown).
TITLE = ("THE PEACH OPEN MOVIE PROJECT", "PRESENTS")
TITLE_SHOWN = (21.0, 22.5)  # Big Buck Bunny: fully faded in from 21 s to 22.5 s (read frame by frame at 0.5 s)


def normalise(text: str) -> str:
    """Lower case, letters and digits only: OCR's spacing and punctuation do not decide a hit."""
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _source_times(clip: str) -> list[float]:
    """Presentation times of a clip's frames (from the container's packets: no decoding), from 0."""
    import av

    from testkit.real_footage import CLIPS
    from testkit.real_media import DATA

    with av.open(str(DATA / CLIPS[clip][0])) as c:
        s = c.streams.video[0]
        ts = sorted(float(p.pts * s.time_base) for p in c.demux(s) if p.pts is not None)
    return [t - ts[0] for t in ts]


def expected_text(placed, timestamps) -> list[tuple[int, str, str]]:
    """Ground truth: (candidate, kind, string) for every on-screen string a candidate shows.

    The composition put the clip's frame at grid time ``g`` of its 8 fps resampling (the last source frame at or
    before it); the test cards' counters are functions of the source frame ``k`` (both cards are 25 fps): the
    colour-bar card shows the timecode 00:00:05:00 + k frames, the SMPTE card counts 29.97 fps frames
    ``n = round(k / 25 * 29.97)`` and shows ``n``, ``n / 29.97`` s and the timecode of ``n`` (checked against
    full-size readings of the source frames). Only whole strings are counted (a partial read is a miss)."""
    lengths = {c: _source_times(c) for c in ("smpte", "testcard", "bunny")}
    grid_len = {c: int(ts[-1] * FPS + 0.5) + 1 for c, ts in lengths.items()}
    out = []
    for i, t in enumerate(timestamps):
        j = round(t * FPS)
        seg = next((p for p in placed if round(p.t0 * FPS) <= j < round(p.t1 * FPS)), None)
        if seg is None or seg.segment.clip not in lengths:
            continue
        clip = seg.segment.clip
        g = (round(seg.segment.start * FPS) + j - round(seg.t0 * FPS)) % grid_len[clip]
        src = g / FPS
        k = max(n for n, st in enumerate(lengths[clip]) if st <= src + 1e-6)
        if clip == "testcard":
            out.append((i, "caption", "1024 x 768 25 fps Photo JPEG 75%"))
            f = 125 + k
            out.append((i, "timecode", f"00:00:{f // 25:02d}:{f % 25:02d}"))
        elif clip == "smpte":
            n = round(k / 25 * 29.97)
            out.append((i, "counter", f"{n}.000"))
            out.append((i, "counter", f"{n / 29.97:.3f}"))
            out.append((i, "timecode", f"00:00:{n // 30:02d};{n % 30:02d}"))
        elif TITLE_SHOWN[0] <= lengths[clip][k] <= TITLE_SHOWN[1]:
            out += [(i, "title", line) for line in TITLE]
    return out


def recall(truth, texts) -> dict[str, float]:
    """Share of ground-truth strings found in their candidate's OCR text, per kind and in all."""
    hits: dict[str, list[bool]] = {}
    for i, kind, s in truth:
        hits.setdefault(kind, []).append(normalise(s) in normalise(texts[i]))
    out = {k: sum(v) / len(v) for k, v in sorted(hits.items())}
    out["all"] = sum(sum(v) for v in hits.values()) / max(1, sum(len(v) for v in hits.values()))
    return out


def decode_worker(video: str) -> dict:
    """Only decode the candidates as the index build does with OCR on (its fps, frame size and chunks): the part of
    OCR's cost that any use of the pixels pays (the text-only index without OCR decodes no frame)."""
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.video import VideoReader

    st = IndexSettings()
    t0, c0 = time.perf_counter(), os.times()
    reader = VideoReader(video)
    n = sum(len(c.frames) for c in reader.iter_candidates(fps=st.fps, num_frames=st.num_frames,
                                                         max_side=st.max_side, chunk_size=st.chunk_size))
    c1 = os.times()
    return {"seconds": time.perf_counter() - t0, "cpu": (c1.user - c0.user) + (c1.system - c0.system), "frames": n}


def encode_worker(texts_path: str) -> dict:
    """Only encode the OCR texts (one document per candidate, as the index reads them) with the default scorer, on
    the one torch thread the pipeline gives the encoder while OCR and speech recognition run: the part of OCR's
    cost that indexing its text pays, whatever reads it."""
    import torch

    import clamr_frames
    from clamr_frames.encoders.base import Document
    from clamr_frames.index.builder import IndexSettings

    torch.set_num_threads(1)
    texts = json.loads(Path(texts_path).read_text())
    encoder = clamr_frames.FrameSelector.from_pretrained("default", progress=False).encoder
    step = IndexSettings().chunk_size
    t0, c0 = time.perf_counter(), os.times()
    for i in range(0, len(texts), step):
        encoder.encode_documents([Document(None, ocr=t) for t in texts[i : i + step]])
    c1 = os.times()
    return {"seconds": time.perf_counter() - t0, "cpu": (c1.user - c0.user) + (c1.system - c0.system)}


VARIANTS = {  # name: (checkout, what the worker does)
    "decode candidates only": ("after", "decode"),
    "encode the OCR text only": ("after", "encode"),
    "no OCR": ("after", "no-ocr"),
    "OCR before": ("before", "ocr"),
    "OCR after": ("after", "ocr"),
}
TIMERS = {
    "decode": "wall s of decoding the candidates alone (builder's fps, size, chunks), fresh process",
    "encode": "wall s of encoding the OCR text of every candidate (the texts of the OCR pass, read before the rounds) "
              "with the default scorer on one torch thread, model loading excluded, fresh process",
    "index": "wall s of FrameSelector.index() in a fresh process and index dir: decode, OCR, speech recognition, "
             "encoding pipelined; OCR engine and whisper start included",
}


def run_worker(checkout: Path, video: Path, job: str, texts: Path | None = None) -> dict:
    """One job in a fresh interpreter whose clamr_frames is ``checkout``'s: ``"ocr"`` / ``"no-ocr"`` (an index
    build), ``"decode"``, ``"encode"`` (the OCR texts in ``texts``) or ``"check"`` (:func:`memory_check`)."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(video), "--job", job]
    if texts is not None:
        cmd += ["--texts", str(texts)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker failed ({checkout}, {job}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--base", type=Path, default=Path("/work/wt/ocr-base"),
                    help="checkout whose OCR is 'before' (e.g. git worktree add --detach /work/wt/ocr-base main)")
    ap.add_argument("--video", type=Path, default=None, help="where the composition is written (default: _work)")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--job", default="ocr", choices=("ocr", "no-ocr", "decode", "encode", "check"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--texts", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        video = str(args.worker)
        jobs = {"ocr": lambda: worker(video, True), "no-ocr": lambda: worker(video, False),
                "decode": lambda: decode_worker(video), "encode": lambda: encode_worker(args.texts),
                "check": lambda: memory_check(video)}
        print(json.dumps(jobs[args.job]()))
        return
    from benchmarks._common import WORK, record

    if not (args.base / "clamr_frames").is_dir():
        raise SystemExit(f"--base {args.base}: no clamr_frames there (git worktree add --detach {args.base} main)")
    base_commit = subprocess.run(["git", "-C", str(args.base), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, check=False).stdout.strip() or "?"
    video = args.video or (WORK / "ocr_real_12min.mp4")
    video.parent.mkdir(parents=True, exist_ok=True)
    placed = compose_video(video)
    checkouts = {"before": args.base.resolve(), "after": ROOT}
    check = run_worker(ROOT, video, "check")  # untimed: the glyph memory and the archive change no text
    texts = video.with_suffix(".ocr.json")  # the OCR texts, for the encoding-only job
    texts.write_text(json.dumps(check.pop("texts")))
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for r in range(args.repeats):
        names = list(VARIANTS)
        names = names[r % len(names):] + names[: r % len(names)]  # a different order each round
        for name in names:
            where, job = VARIANTS[name]
            got = run_worker(checkouts[where], video, job, texts)
            runs[name].append(got)
            print(f"round {r + 1} {name}: {got['seconds']:.1f} s", flush=True)
    truth = expected_text(placed, runs["OCR after"][0]["timestamps"])
    base_s = _median([g["seconds"] for g in runs["no OCR"]])
    from clamr_frames.index.pipeline import usable_cores

    cores = usable_cores()  # the pipeline shares them between its stages (thread_plan)
    rows = []
    for name, got in runs.items():
        sec = _median([g["seconds"] for g in got])
        job = VARIANTS[name][1]
        row = {"variant": name, "checkout": "main " + base_commit if VARIANTS[name][0] == "before" else "this branch",
               "index s (median)": round(sec, 1), "runs s": " / ".join(f"{g['seconds']:.1f}" for g in got),
               "CPU s (median)": round(_median([g["cpu"] for g in got]), 1),
               "OCR adds": f"{100 * (sec / base_s - 1):+.0f} %" if job == "ocr" else "",
               "timer": TIMERS.get(job, TIMERS["index"]),
               "threads": 1 if job == "encode" else cores}
        stages = {k for g in got for k in (g.get("pipeline") or {}).get("stages", {})}
        row["stage busy s"] = ", ".join(
            f"{k} {_median([g['pipeline']['stages'][k]['busy'] for g in got if k in g['pipeline']['stages']]):.1f}"
            for k in sorted(stages))
        if VARIANTS[name][1] == "ocr":
            st = got[0]["stats"]
            row.update({
                "detector runs": st.get("detected"), "crops recognised": st.get("recognised"),
                "read in place": st.get("in_place", 0), "detection skipped (steady)": st.get("steady", 0),
                "det s": round(_median([g["stats"]["det_seconds"] for g in got]), 1),
                "rec s": round(_median([g["stats"]["rec_seconds"] for g in got]), 1),
                "other s": round(_median([g["stats"]["other_seconds"] for g in got]), 1),
            })
            rec = recall(truth, got[0]["texts"])
            row.update({f"recall {k}": round(v, 3) for k, v in rec.items()})
        rows.append(row)
    minutes = placed[-1].t1 / 60
    no_ocr_cpu = _median([g["cpu"] for g in runs["no OCR"]])
    floor_cpu = sum(_median([g["cpu"] for g in runs[n]]) for n in ("decode candidates only", "encode the OCR text only"))
    notes = f"""
Video: {minutes:.0f} minutes composed of the committed real clips ({len(placed)} segments: SMPTE test card with three
running counters, colour-bar card with a caption, a running timecode and a progress bar, a handheld camera, Big Buck
Bunny with its title, a Chaplin film, a cartoon; looped), {SIZE[0]}x{SIZE[1]} at {FPS:g} fps, with the committed speech
recordings on its soundtrack (one every 75 s over low noise), so every variant runs speech recognition as the issue's
video did. Index: `FrameSelector.from_pretrained("default", ocr=..., index_dir=<fresh>, progress=False).index(video)`,
the pipelined build (decode, OCR, speech recognition, encoding at once; 1 candidate per second, {len(runs["OCR after"][0]["timestamps"])}
candidates), each in a fresh interpreter and index directory: nothing cached.
"index s": wall seconds of that `index()` call, including starting the OCR engine and speech recognition ("decode candidates
only": decoding the candidates as the build with OCR does, nothing else: with OCR the index decodes frames, without it the
text-only default decodes none). "stage busy s": the pipeline's per-stage busy seconds (medians; the stages overlap). "OCR adds":
median index time over the median without OCR. "OCR before": the OCR pass of main at {base_commit} (a git worktree),
"OCR after": this branch. The variants ran interleaved, {args.repeats} rounds in rotating order, on a machine shared with
other jobs (2 cores): medians are reported, single runs are noisy. det / rec / other s: the OCR pass's own timers (text
detector; recognizer; thumbnails, crops, matching), medians, busy time of the OCR thread (it shares the cores with the
other stages). Counts and recall are of the first run (the pass is deterministic).
Recall: {len(truth)} ground-truth strings (test card caption; timecodes and counters as the source frame at each
candidate shows them; the film's title lines), normalised (lower case, letters and digits), counted as found when the
candidate's OCR text contains them.
"CPU s": user + system seconds of the whole process during that `index()` call (every thread: decoding and FFmpeg's
threads, OCR and its recognizer workers, speech recognition and its workers, encoding). Without OCR the index already
keeps the {cores} cores {100 * no_ocr_cpu / (cores * base_s):.0f} % busy (speech recognition), so OCR's CPU time
adds to the wall time about as CPU s / {cores}. Decoding the candidates and encoding their OCR text, which any OCR
pass needs, took {floor_cpu:.1f} CPU s by themselves (the two "only" rows): at CPU s / {cores} that alone is
{100 * floor_cpu / cores / base_s:+.0f} % of the index time without OCR, before any text is detected or read.
Glyph memory and archive (the text-region pass's reuse of glyphs read at a place and of lines read before a cut),
checked untimed on the same {check["candidates"]} candidates: with them the recognizer ran {check["recognised with"]}
times, without them {check["recognised without"]} times, and {check["differ"]} candidates' texts differ. On
{len(HELDOUT_SEEDS)} held-out generated 4-minute videos (testkit.heldout, seeds {", ".join(map(str, HELDOUT_SEEDS))}: other
fonts, a panning camera, distractor shapes; {check["heldout"]["candidates"]} candidates at 1 per second):
{check["heldout"]["recognised with"]} against {check["heldout"]["recognised without"]} recognizer runs, {check["heldout"]["differ"]} texts differ.
"""
    record("OCR cost on real footage: index time without OCR, with the old and the new OCR pass",
           rows=rows, notes=notes, write=not args.no_record, name="ocr_real")


if __name__ == "__main__":
    main()
