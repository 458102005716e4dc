"""The indexing progress line: a stage shows a rate only for work it really did (units it processed over the
seconds it spent processing them); a stage with nothing to do is absent, work found cached is said so."""

from __future__ import annotations

import time

import numpy as np
import pytest

from clamr_frames.context.subtitles import Cue
from clamr_frames.index import IndexSettings, IndexStore, build_index
from clamr_frames.index.pipeline import CueStream, PipelineStats, StageStats


@pytest.fixture(scope="module")
def short_video(tmp_path_factory):
    from clamr_frames.synth import generate_video

    return generate_video(tmp_path_factory.mktemp("synth"), seed=3, duration=20.0, fps=2.0, width=96, height=64,
                          needles_per_kind=1, scene_seconds=(5.0, 10.0))


@pytest.fixture(scope="module")
def default_encoder():
    from clamr_frames.encoders.default import DefaultEncoder

    return DefaultEncoder(device="cpu")


def _shown_rate(st: StageStats) -> str:
    r = st.done / st.busy
    return f"{r:.0f}" if r >= 10 else f"{r:.1f}"


@pytest.mark.slow  # (loading the default scorer takes most of it)
def test_default_index_without_ocr_decodes_nothing_and_shows_no_decode_rate(short_video, default_encoder, tmp_path,
                                                                            capsys):
    assert not default_encoder.uses_image  # the default scorer reads subtitles and OCR text only: no pixels
    stats = PipelineStats()
    t0 = time.perf_counter()
    idx = build_index(short_video.video_path, default_encoder, subtitles=short_video.srt_path,
                      settings=IndexSettings(chunk_size=8), store=IndexStore(tmp_path), progress=True, stats=stats)
    took = time.perf_counter() - t0
    assert len(idx.timestamps) > 10
    # nothing was decoded, read or recognised (subtitles given, OCR off): only the encoder worked
    assert set(stats.stages) == {"encode"}
    enc = stats.stages["encode"]
    assert enc.done == len(idx.timestamps) and 0 < enc.busy <= took
    line = stats.line()
    assert line == f"encode {_shown_rate(enc)} frame/s"
    assert "decode" not in line and "ocr" not in line and "asr" not in line
    # what the bar printed is the same line (its last refresh, when the bar closed)
    err = capsys.readouterr().err
    assert "indexing" in err and "encode " in err and "decode" not in err
    assert stats.to_json()["stages"]["encode"]["done"] == len(idx.timestamps)
    # built already: the index is read from the store, no stage runs, and the line is empty
    again = PipelineStats()
    assert build_index(short_video.video_path, default_encoder, subtitles=short_video.srt_path,
                       settings=IndexSettings(chunk_size=8), store=IndexStore(tmp_path), progress=False,
                       stats=again).path == idx.path
    assert again.stages == {} and again.line() == ""


class _Reader:
    """A stand-in OCR pass that takes a known time per part (the only way a test can know a stage's busy time)."""

    ocr_id = "test-slow-reader/v1"

    def __init__(self, sleep: float) -> None:
        self.sleep, self.frames, self.seconds = sleep, 0, 0.0

    def __call__(self, ts, frames):
        t0 = time.perf_counter()
        time.sleep(self.sleep)
        self.frames += sum(f is not None for f in frames)
        self.seconds += time.perf_counter() - t0
        return ["" for _ in frames]


@pytest.mark.slow
def test_each_shown_rate_is_the_work_done_over_the_time_spent_on_it(short_video, default_encoder, tmp_path):
    reader = _Reader(sleep=0.02)
    stats = PipelineStats()
    idx = build_index(short_video.video_path, default_encoder, subtitles=short_video.srt_path, ocr=reader,
                      ocr_id=reader.ocr_id, settings=IndexSettings(chunk_size=8), store=IndexStore(tmp_path),
                      progress=False, stats=stats)
    n = len(idx.timestamps)
    assert list(stats.stages) == ["decode", "ocr", "encode"]
    dec, ocr, enc = (stats.stages[k] for k in ("decode", "ocr", "encode"))
    assert dec.done == reader.frames == n  # every candidate decoded once (and only decoded frames count)
    assert ocr.done == n and reader.seconds <= ocr.busy <= reader.seconds + 0.5  # OCR's busy is its own work
    assert enc.done == n
    for st in (dec, ocr, enc):
        assert 0 < st.busy <= stats.wall and st.rate == pytest.approx(st.done / st.busy)
        assert st.rate < 1e5  # no stage claims an impossible rate
    assert stats.line() == " | ".join(f"{k} {_shown_rate(s)} frame/s" for k, s in stats.stages.items())


def test_line_formatter_on_crafted_stats():
    stats = PipelineStats()
    stats.stages["decode"] = StageStats("decode", done=0, busy=0.0)  # created but never ran
    stats.stages["ocr"] = StageStats("ocr", done=3, busy=4.0)
    stats.stages["asr"] = StageStats("asr", "s audio", done=410.0, busy=10.0, cached=120.0)
    stats.stages["encode"] = StageStats("encode", done=900, busy=1.0)
    assert stats.line() == "ocr 0.8 frame/s | asr 41x, 120 s cached | encode 900 frame/s"
    # a stage whose units took no measured time shows no rate (it would be infinite), nor one that did nothing
    assert StageStats("decode", done=500, busy=0.0).text() is None
    assert StageStats("decode", done=0, busy=2.0).text() is None
    assert StageStats("decode", done=0, busy=2.0).rate == 0.0
    assert StageStats("asr", "s audio", cached=600.0).text() == "asr cached"
    assert StageStats("decode", done=620, busy=2.0).text() == "decode 310 frame/s"


def test_cues_resumed_from_a_saved_transcript_count_as_cached_not_as_recognised():
    stream = CueStream()
    cues = [Cue(1.0, 2.0, "hello")]
    stream.resume(cues, 300.0)  # a transcript saved up to 300 s: published at once, no work
    assert stream.stats.done == 0.0 and stream.stats.cached == 300.0
    assert stream.stats.text() == "asr cached"
    time.sleep(0.05)
    stream.publish(cues + [Cue(301.0, 302.0, "again")], 330.0)  # one block of 30 s recognised now
    assert stream.wait_until(320.0) and stream.stats.done == pytest.approx(30.0)
    assert stream.stats.busy >= 0.05 and stream.stats.rate == pytest.approx(30.0 / stream.stats.busy)
    stream.finish()
    assert stream.stats.text().endswith(", 300 s cached") and stream.stats.text().startswith("asr ")


def test_a_source_that_only_read_a_cache_reports_no_timed_work():
    stream = CueStream()
    stream.resume([], 60.0)
    stream.finish([])
    assert stream.stats.busy == 0.0 and stream.stats.text() == "asr cached"
    silent = CueStream()
    silent.finish([])  # finished without publishing anything: no rate at all
    assert silent.stats.text() is None and np.isclose(silent.stats.rate, 0.0)


class _BlockTranscriber:
    """A stand-in speech recogniser (no model here): one cue per 10 s block of audio, a known time per block."""

    model_id = "test-blocks"

    def __init__(self, duration: float, sleep: float = 0.03) -> None:
        self.duration, self.sleep, self.blocks = duration, sleep, 0

    def cache_key(self) -> str:
        return "test-blocks/v1"

    def transcribe(self, path, *, state, progress, on_block):
        while state.done_until < self.duration:
            time.sleep(self.sleep)
            state.cues.append(Cue(state.done_until + 1.0, state.done_until + 2.0, f"block {self.blocks}"))
            state.done_until += 10.0
            self.blocks += 1
            on_block(state)
        state.duration, state.complete = self.duration, True
        return state.transcript(str(path), self.model_id)


def test_speech_recognition_resuming_a_saved_transcript_counts_only_what_it_recognised(short_video, tmp_path):
    from clamr_frames._fs import video_fingerprint
    from clamr_frames.context.asr import TranscriptState, WhisperCues
    from clamr_frames.context.asr.cache import TranscriptCache

    cache = TranscriptCache(tmp_path / "asr")
    rec = _BlockTranscriber(duration=60.0)
    # an earlier run stopped after 20 s of audio
    cache.save(video_fingerprint(short_video.video_path), rec.cache_key(),
               TranscriptState(cues=[Cue(1.0, 2.0, "earlier")], done_until=20.0), video=str(short_video.video_path))
    source = WhisperCues(short_video.video_path, cache=cache, transcriber=rec)
    assert source.ready() is None  # not complete: it runs
    stream = CueStream()
    source.run(stream)
    st = stream.stats
    assert rec.blocks == 4 and st.cached == 20.0 and st.done == 40.0  # 40 s recognised now, 20 s read back
    assert st.busy >= 4 * rec.sleep and st.rate == pytest.approx(40.0 / st.busy)
    assert st.text() == f"asr {_shown_rate(st)}x, 20 s cached"
    assert [c.text for c in stream.result()][:2] == ["earlier", "block 0"]
