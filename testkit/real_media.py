"""The committed real-media set (tests/data/, sources and licences in its README) and what is built from it.

Shared by the real-media tests and ``benchmarks/real_media.py``: the speech recordings with their published
transcripts, a video whose soundtrack is those recordings one after the other (each on its own picture), and
spoken questions about them worded unlike the speech.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SPEECH = DATA / "speech"
VIDEO = DATA / "video"
AUDIO = DATA / "audio"
RATE = 16000
GAP = 1.5  # seconds of silence between two recordings in the spoken video


@dataclass(frozen=True)
class Recording:
    name: str  # file stem
    path: Path
    transcript: str  # the published transcript
    source: str


def recordings() -> list[Recording]:
    """The speech recordings, in the order of tests/data/speech/transcripts.json."""
    meta = json.loads((SPEECH / "transcripts.json").read_text(encoding="utf-8"))
    return [Recording(r["file"].rsplit(".", 1)[0], SPEECH / r["file"], r["text"], r["source"])
            for r in meta["recordings"]]


def decode_mono(path: Path, rate: int = RATE) -> np.ndarray:
    """The whole soundtrack of ``path`` as mono float32 at ``rate`` (PyAV's resampler)."""
    import av

    out = []
    with av.open(str(path)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in c.decode(audio=0):
            for f in res.resample(frame):
                out.append(f.to_ndarray().reshape(-1))
        for f in res.resample(None):
            out.append(f.to_ndarray().reshape(-1))
    return np.clip(np.concatenate(out), -1.0, 1.0).astype(np.float32)  # resampling can overshoot full scale


@dataclass(frozen=True)
class SpokenVideo:
    path: Path
    spans: dict[str, tuple[float, float]]  # recording name -> (start, end) seconds in the video


def _picture(i: int, h: int = 96, w: int = 160) -> np.ndarray:
    """A plain picture per recording (a colour and a bar at its own height): frames differ, text lives in speech."""
    rng = np.random.default_rng(i)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = rng.integers(40, 200, 3, dtype=np.uint8)
    y = (i * 11) % (h - 8)
    img[y : y + 8] = 255 - img[0, 0]
    return img


def build_spoken_video(out: Path, names: list[str] | None = None, fps: float = 2.0) -> SpokenVideo:
    """An MP4 (H.264 + AAC) whose soundtrack is the recordings ``names`` (default: all) one after the other,
    ``GAP`` seconds apart, each under its own picture. Written once per path."""
    from clamr_frames.video.writer import write_video

    recs = [r for r in recordings() if names is None or r.name in names]
    pieces, spans, t = [], {}, GAP
    pieces.append(np.zeros(int(GAP * RATE), np.float32))
    owner = []  # (start, end, index) per recording
    for i, r in enumerate(recs):
        wave = decode_mono(r.path)
        spans[r.name] = (t, t + len(wave) / RATE)
        owner.append((t, t + len(wave) / RATE, i))
        pieces += [wave, np.zeros(int(GAP * RATE), np.float32)]
        t += len(wave) / RATE + GAP
    audio = np.concatenate(pieces)
    duration = len(audio) / RATE
    n = int(duration * fps)
    frames = []
    for j in range(n):
        tj = j / fps
        k = next((i for s, e, i in owner if s - GAP / 2 <= tj < e + GAP / 2), len(recs))
        frames.append(_picture(k))
    out = Path(out)
    if not out.exists():
        write_video(out, frames, fps, audio=audio, audio_rate=RATE)
    return SpokenVideo(out, spans)


# Questions about the recordings, worded unlike the speech (no content word of a question's answer span is
# needed verbatim): (question, recording it is about)
QUESTIONS: list[tuple[str, str]] = [
    ("What did the president urge citizens to offer the nation instead of expecting from it?", "jfk"),
    ("Which people made prints from carved wooden blocks hundreds of years earlier?", "LJ001-0003"),
    ("When were metal letters that could be moved around first invented?", "LJ001-0005"),
    ("Which old bible is named after how many lines each page holds?", "LJ001-0007"),
    ("Is setting type on a press an older handiwork than the others on show?", "LJ001-0001"),
    ("What immediately preceded genuine press-made volumes?", "LJ001-0004"),
]


def _speech_video(rec: Recording, out: Path) -> Path:
    """A still 1-fps picture under one recording (what the transcriber reads: a video's soundtrack)."""
    from clamr_frames.video.writer import write_video

    if not out.exists():
        wave = decode_mono(rec.path)
        n = max(1, int(np.ceil(len(wave) / RATE)))
        write_video(out, [_picture(0, 32, 32)] * n, 1.0, audio=wave, audio_rate=RATE)
    return out


def measure_wer(workdir: Path, threads: int = 2) -> list[dict]:
    """Word error rate of the bundled tiny.en (default AsrSettings, ``threads`` CPU threads) on every recording
    against its published transcript: one row per recording and a last ``all`` row (edits summed over words)."""
    import time

    from clamr_frames.context.asr import AsrSettings, WhisperTranscriber
    from clamr_frames.evaluation import word_error_rate

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tr = WhisperTranscriber(AsrSettings(device="cpu", cpu_threads=threads))
    tr.model()  # loaded before the timer
    rows, edits_all, words_all, secs_all, audio_all = [], 0, 0, 0.0, 0.0
    for rec in recordings():
        video = _speech_video(rec, workdir / f"{rec.name}.mp4")
        t0 = time.perf_counter()
        t = tr.transcribe(video, progress=False)
        secs = time.perf_counter() - t0
        edits, words = word_error_rate(rec.transcript, t.text)
        rows.append({"recording": rec.name, "words": words, "edits": edits, "wer": round(edits / words, 4),
                     "audio_s": round(t.duration, 2), "transcribe_s": round(secs, 3), "hypothesis": t.text})
        edits_all, words_all = edits_all + edits, words_all + words
        secs_all, audio_all = secs_all + secs, audio_all + t.duration
    rows.append({"recording": "all", "words": words_all, "edits": edits_all, "wer": round(edits_all / words_all, 4),
                 "audio_s": round(audio_all, 2), "transcribe_s": round(secs_all, 3), "hypothesis": ""})
    for r in rows:
        r.update(threads=threads, timer="transcribe() of the file: audio decode + VAD + tiny.en decoding (model loaded before)")
    return rows


def measure_retrieval(workdir: Path, k: int = 3) -> list[dict]:
    """Spoken-question retrieval on the spoken video with the default scorer and ASR from the audio (tiny.en):
    per question, where the top-1 frame lies, whether it falls inside the recording the question is about, and
    the rank of the best frame inside it."""
    from clamr_frames import FrameSelector

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    video = build_spoken_video(workdir / "spoken.mp4")
    sel = FrameSelector.from_pretrained("default", index_dir=workdir / "index", progress=False, ocr=False)
    rows = []
    for question, name in QUESTIONS:
        s = sel.select(video.path, question, k=k, asr="whisper")
        ts = np.asarray(s.all_timestamps, float)
        scores = np.asarray(s.all_scores, float)
        start, end = video.spans[name]
        order = np.argsort(-scores, kind="stable")
        inside = (ts[order] >= start) & (ts[order] <= end)
        rank = int(np.argmax(inside)) + 1 if inside.any() else None
        top = float(ts[order[0]])
        rows.append({"question": question, "recording": name, "span": f"{start:.1f}-{end:.1f} s",
                     "top1_at": f"{top:.1f} s", "hit_at_1": bool(inside[0]), "rank_of_first_hit": rank,
                     "candidates": int(ts.size)})
    return rows


# the hard cuts of tests/data/derived/montage_cuts.mp4 (seconds), as testkit/make_derived.py cuts the clips
MONTAGE_CUTS = (4.0, 7.0, 10.0)


def measure_shots(fps: float = 1.0) -> list[dict]:
    """Shot boundaries the visual prior finds on real footage at ``fps`` candidates: the montage with known cuts
    and single handheld shots (where every boundary found is a false cut)."""
    from clamr_frames.context.shots import compute_prior
    from clamr_frames.video import VideoReader

    cases = [("derived/montage_cuts.mp4", MONTAGE_CUTS), ("video/cockatoo.mp4", ()),
             ("derived/cockatoo_divx_packed.avi", ()), ("video/realshort.mp4", ())]
    rows = []
    for name, truth in cases:
        with VideoReader(DATA / name) as r:
            idx, ts = r.candidate_indices(fps=fps)
            got: dict[int, np.ndarray] = {}
            for ch in r.iter_candidates(fps=fps, max_side=448):
                got.update(zip((int(i) for i in ch.indices), ch.frames))
        ts = np.asarray(ts)
        found = [round(float(ts[b]), 2) for b in compute_prior(ts, [got.get(int(i)) for i in idx]).shot_bounds[1:-1]]
        hit = [c for c in truth if c in found]
        rows.append({"file": name, "candidates": int(len(ts)), "true cuts at": list(truth), "found at": found,
                     "true found": f"{len(hit)}/{len(truth)}", "false cuts": len(found) - len(hit)})
    return rows
