"""Speech onsets after long silences: are the first words of each utterance recognised?

A video built by ``testkit/onsets.py``: the committed real recordings (tests/data/speech: JFK's inaugural clip and
LJ Speech clips, with their published transcripts) each after 30-60 s without speech, over generated pink noise at
-35 dBFS (fixed seed), no subtitle file. The project's transcription (``WhisperTranscriber`` with the default
``AsrSettings``, the path FrameSelector takes when there is no subtitle file; bundled tiny.en on CPU) runs twice in
one process: with ``vad_onset_pad=0.2`` (the behaviour before the fix: clips start where Silero VAD puts the
speech start, padded 0.2 s) and with the default. Two videos (seeds 0 and 1 of the gaps and the noise). Per onset: whether the first word of the published transcript is
among the first two recognised words of the cues overlapping the recording; overall: word error rate against the
transcripts (clamr_frames.evaluation.word_error_rate). Two records: ``asr_onsets`` (one row per setting) and
``asr_onsets--per-onset``.

    python -m benchmarks.asr_onsets [--threads 2] [--no-record]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import time

from benchmarks._common import WORK, record
from testkit.onsets import NOISE_DBFS, build_onset_video, onset_rows

SEEDS = (0, 1)  # two draws of the gaps and the noise
SETTINGS = (("before: onset pad 0.2 s (VAD's own)", 0.2), ("default", None))


def main(argv: list[str] | None = None) -> None:
    from clamr_frames.context.asr import AsrSettings, WhisperTranscriber

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for speech recognition")
    ap.add_argument("--no-record", action="store_true", help="print only; write no record")
    args = ap.parse_args(argv)
    work = WORK / "asr_onsets"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    videos = [build_onset_video(work / f"onsets_seed{seed}.mp4", seed=seed) for seed in SEEDS]

    summary, per_onset = [], []
    for label, pad in SETTINGS:
        settings = AsrSettings(device="cpu", cpu_threads=args.threads)
        if pad is not None:
            settings = dataclasses.replace(settings, vad_onset_pad=pad)
        tr = WhisperTranscriber(settings)
        tr.model()  # loaded before the timer
        rows, secs, audio = [], 0.0, 0.0
        for seed, video in zip(SEEDS, videos):
            t0 = time.perf_counter()
            transcript = tr.transcribe(video.path, progress=False)
            secs += time.perf_counter() - t0
            audio += video.duration
            rows += [{"seed": seed, **r} for r in onset_rows(video, transcript.cues)]
        kept = sum(r["first_word_kept"] for r in rows)
        edits, words = sum(r["edits"] for r in rows), sum(r["words"] for r in rows)
        summary.append({"setting": label, "vad_onset_pad_s": settings.vad_onset_pad, "onsets": len(rows),
                        "first_word_kept": kept, "first_word_kept_share": round(kept / len(rows), 4),
                        "edits": edits, "words": words, "wer": round(edits / words, 4),
                        "audio_s": round(audio, 1), "transcribe_s": round(secs, 2)})
        per_onset += [{"setting": label, **r} for r in rows]
    timer = "transcribe() of the video: audio decode + VAD + tiny.en decoding (model loaded before)"
    record("ASR: first words after long silences (real recordings over noise)", rows=summary,
           notes=f"{len(videos)} videos (noise and gap seeds {', '.join(map(str, SEEDS))}), each with all "
                 f"{len(videos[0].onsets)} recordings, each after 30-60 s without speech, pink noise at "
                 f"{NOISE_DBFS:.0f} dBFS; WER over all recordings' published transcripts. "
                 "Per-onset detail: record asr_onsets--per-onset.",
           name="asr_onsets", threads=args.threads, timer=timer, write=not args.no_record)
    record("ASR onsets: recognised text per onset", rows=per_onset, name="asr_onsets--per-onset",
           write=not args.no_record)


if __name__ == "__main__":
    main()
