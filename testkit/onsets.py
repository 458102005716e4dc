"""Speech onsets after long silences: the committed real recordings (tests/data/speech) placed over low background
noise, each after 30-60 s without speech, in a video whose soundtrack the transcriber reads.

Shared by ``benchmarks/asr_onsets.py`` and tests/context/test_asr_onsets.py. The noise is generated (pink noise,
1/f power, at a fixed seed and level); the speech is the real recordings, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from testkit.real_media import RATE, Recording, decode_mono, recordings

NOISE_DBFS = -35.0  # RMS of the background noise, dB below full scale (the recordings' RMS: about -20 dBFS)


@dataclass(frozen=True)
class Onset:
    name: str
    start: float  # where the recording begins in the video, s
    end: float
    speech: float  # where its first word begins in the video, s
    transcript: str  # its published transcript


@dataclass(frozen=True)
class OnsetVideo:
    path: Path
    onsets: list[Onset]
    duration: float


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of unit-RMS pink noise (power 1/f), shaped in the frequency domain."""
    f = np.fft.rfftfreq(n)
    shape = np.zeros_like(f)
    shape[1:] = f[1:] ** -0.5
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)
    return (x / x.std()).astype(np.float32)


def onset_audio(names: list[str] | None = None, *, gaps: tuple[float, float] = (30.0, 60.0),
                noise_dbfs: float = NOISE_DBFS, seed: int = 0, tail: float = 10.0) -> tuple[np.ndarray, list[Onset]]:
    """16 kHz mono noise with the recordings ``names`` (default: all, in the order of transcripts.json), each after
    a silence drawn uniformly from ``gaps`` s, and where each recording lies."""
    rng = np.random.default_rng(seed)
    recs: list[Recording] = [r for r in recordings() if names is None or r.name in names]
    pieces, onsets, t = [], [], 0
    for r in recs:
        gap = int(float(rng.uniform(*gaps)) * RATE)
        pieces.append(np.zeros(gap, np.float32))
        t += gap
        wave = decode_mono(r.path)
        onsets.append(Onset(r.name, t / RATE, (t + len(wave)) / RATE, (t / RATE) + speech_start(wave), r.transcript))
        pieces.append(wave)
        t += len(wave)
    pieces.append(np.zeros(int(tail * RATE), np.float32))
    audio = np.concatenate(pieces)
    audio = np.clip(audio + pink_noise(len(audio), rng) * np.float32(10 ** (noise_dbfs / 20)), -1.0, 1.0)
    return audio.astype(np.float32), onsets


def build_onset_video(out: Path, names: list[str] | None = None, **kw) -> OnsetVideo:
    """An MP4 (a still 1-fps picture, AAC audio) whose soundtrack is :func:`onset_audio` (``kw``: its knobs).
    Written once per path (the same arguments give the same file)."""
    from clamr_frames.video.writer import write_video

    audio, onsets = onset_audio(names, **kw)
    out = Path(out)
    if not out.exists():
        picture = np.full((32, 32, 3), 90, np.uint8)
        n = int(np.ceil(len(audio) / RATE))
        write_video(out, [picture] * n, 1.0, audio=audio, audio_rate=RATE)
    return OnsetVideo(out, onsets, len(audio) / RATE)


def onset_rows(video: OnsetVideo, cues: list, *, slack: float = 1.0, lead: int = 2) -> list[dict]:
    """Per onset: the recognised text of the cues overlapping the recording (± ``slack`` s), whether the first word
    of the published transcript is among its first ``lead`` words, and its word edits against the transcript."""
    from clamr_frames.evaluation import normalize_words, word_error_rate

    rows = []
    for o in video.onsets:
        hyp = " ".join(c.text for c in cues if c.end >= o.start - slack and c.start <= o.end + slack)
        first = normalize_words(o.transcript)[0]
        edits, words = word_error_rate(o.transcript, hyp)
        rows.append({"recording": o.name, "onset_s": round(o.start, 2), "first_word": first,
                     "first_word_kept": first in normalize_words(hyp)[:lead], "edits": edits, "words": words,
                     "recognised": hyp})
    return rows


def speech_start(wave: np.ndarray, level: float = 0.02) -> float:
    """Where speech begins in a clean recording (s): the first 10-ms frame whose RMS exceeds ``level`` (the
    recordings' silence lies far below it, their speech far above)."""
    hop = RATE // 100
    n = len(wave) // hop
    rms = np.sqrt((wave[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > level)
    return float(loud[0]) / 100 if loud.size else 0.0
