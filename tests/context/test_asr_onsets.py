"""First words after a long silence (issue 23, item 1): real recordings (tests/data/speech) over low generated
noise, each after 30 s without speech. Silero VAD's speech start lags the first word in noise; the clip handed to
Whisper must begin before it (``AsrSettings.vad_onset_pad``). docs/asr_onsets.md, benchmarks/asr_onsets.py."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("faster_whisper")

from clamr_frames.context.asr import AsrSettings, WhisperTranscriber
from clamr_frames.context.asr.transcriber import speech_clips
from clamr_frames.evaluation import normalize_words
from testkit.onsets import build_onset_video, onset_audio, onset_rows

# the recordings whose first word Silero's speech start misses over this noise (without the onset pad)
NAMES = ["jfk", "LJ001-0001", "LJ001-0003", "LJ001-0006"]


def test_speech_clips_begin_before_the_first_word():
    audio, onsets = onset_audio(NAMES, gaps=(30.0, 30.0), seed=0)
    clips = speech_clips(audio, onset_pad=AsrSettings().vad_onset_pad)
    for o in onsets:
        start = min(a for a, b in clips if b > o.speech)  # the clip that holds the recording's first word
        assert start <= o.speech, (o.name, start, o.speech)
        assert start >= o.speech - 1.5, (o.name, start, o.speech)  # noise far before the speech is left out


def test_clip_start_never_overlaps_the_clip_before():
    audio, _ = onset_audio(["LJ001-0001", "LJ001-0002"], gaps=(1.5, 1.5), seed=0)
    clips = speech_clips(audio, onset_pad=AsrSettings().vad_onset_pad)
    assert clips and clips[0][0] >= 0.0
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(clips))
    assert all(b - a <= 30.0 for a, b in clips)


def test_invalid_onset_pad():
    from clamr_frames.errors import InputError

    with pytest.raises(InputError, match="vad_onset_pad"):
        AsrSettings(vad_onset_pad=-1.0)


@pytest.mark.slow
def test_first_words_after_silence_are_transcribed(tmp_path):
    video = build_onset_video(tmp_path / "onsets.mp4", ["jfk", "LJ001-0006"], gaps=(30.0, 30.0), seed=0)
    tr = WhisperTranscriber(AsrSettings(device="cpu", cpu_threads=2))
    rows = onset_rows(video, tr.transcribe(video.path, progress=False).cues)
    assert [r["first_word_kept"] for r in rows] == [True, True], rows
    jfk = normalize_words(rows[0]["recognised"])
    assert jfk[:2] == ["and", "so"], rows[0]["recognised"]
