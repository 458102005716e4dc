"""The pipelined index builder: stages overlap, queues bound memory, cues arriving during the build, errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from clamr_frames.context.subtitles import Cue, asr_contexts
from clamr_frames.errors import InputError
from clamr_frames.index import IndexSettings, IndexStore, build_index
from clamr_frames.index.pipeline import (
    FRAME_PARTS,
    CueStream,
    PartJob,
    PipelineStats,
    run_parts,
    thread_plan,
)

DURATION = 40


@pytest.fixture(scope="module")
def clip(subtitled_clip):
    return subtitled_clip[0]  # the video


CUES = [Cue(float(t) + 0.5, float(t) + 3.0, f"line {t} about harbour {t % 7}") for t in range(0, DURATION, 4)]


class RecordingEncoder:
    """One token per document; remembers every document and when each part was encoded."""

    encoder_id = "recording"
    config: dict = {}

    def __init__(self, uses_image: bool = False, sleep: float = 0.0, fail_at: int | None = None):
        self.uses_image = uses_image
        self.sleep = sleep
        self.fail_at = fail_at
        self.docs = []
        self.intervals = []

    def encode_documents(self, docs):
        import torch

        from clamr_frames.encoders.base import DocEmbeddings

        t0 = time.perf_counter()
        if self.fail_at is not None and len(self.docs) >= self.fail_at:
            raise RuntimeError("encoder broke")
        time.sleep(self.sleep)
        self.docs += docs
        self.intervals.append((t0, time.perf_counter(), threading.current_thread().name))
        emb = torch.nn.functional.normalize(torch.randn(len(docs), 8), dim=-1).half()
        return DocEmbeddings(emb, torch.arange(len(docs) + 1, dtype=torch.int64), torch.zeros(len(docs), dtype=torch.int8))


class SlowCues:
    """A cue source that publishes the cues block by block, as speech recognition does."""

    key = "test-cues/v1"

    def __init__(self, cues, block: float = 10.0, sleep: float = 0.05, fail: bool = False):
        self.cues, self.block, self.sleep, self.fail = cues, block, sleep, fail
        self.published = []

    def run(self, stream: CueStream) -> None:
        t = 0.0
        while t < DURATION + self.block:
            time.sleep(self.sleep)
            if self.fail and t >= self.block:
                raise RuntimeError("asr broke")
            t += self.block
            stream.publish([c for c in self.cues if c.end <= t], t)
            self.published.append((time.perf_counter(), t))
        stream.finish(self.cues)


class SlowOcr:
    """An OCR pass that takes a while per part and names the frames' mean gray level."""

    ocr_id = "slow-ocr"

    def __init__(self, sleep: float = 0.03, fail_at: int | None = None):
        self.sleep, self.fail_at = sleep, fail_at
        self.intervals = []
        self.frames = 0

    def __call__(self, ts, frames):
        t0 = time.perf_counter()
        if self.fail_at is not None and self.frames >= self.fail_at:
            raise RuntimeError("ocr broke")
        time.sleep(self.sleep)
        self.frames += len(frames)
        self.intervals.append((t0, time.perf_counter(), threading.current_thread().name))
        return [f"GRAY {int(f.mean())}" if f is not None else "" for f in frames]


def settings(**kw):
    return IndexSettings(chunk_size=8, **kw)


@pytest.mark.slow
def test_cues_arriving_during_the_build_give_the_same_index_as_subtitles(clip, tmp_path):
    store = IndexStore(tmp_path)
    source = SlowCues(CUES)
    enc = RecordingEncoder()
    stats = PipelineStats()
    idx = build_index(clip, enc, cues=source, settings=settings(), store=store, progress=False, stats=stats)
    assert idx.asr == asr_contexts(CUES, idx.timestamps, before=0.0, after=0.0, max_words=64) and any(idx.asr)
    assert [d.asr for d in enc.docs] == idx.asr  # every part waited for the cues that cover it
    assert len(source.published) > 1  # the cues did arrive block by block
    assert set(stats.stages) == {"decode", "asr", "encode"} and stats.stages["encode"].done == len(idx.timestamps)
    assert "asr" in stats.line() and stats.wall > 0
    # stored under the key of the same cues given as subtitles: that build finds it, and the build folder is gone
    other = RecordingEncoder()
    ref = build_index(clip, other, subtitles=CUES, settings=settings(), store=store, progress=False)
    assert ref.path == idx.path and other.docs == []
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [idx.path.name]
    # and the other way round: a cue source whose cues are known already does not run
    again = SlowCues(CUES)
    again.ready = lambda: CUES
    assert build_index(clip, RecordingEncoder(), cues=again, settings=settings(), store=store, progress=False).path == idx.path
    assert again.published == []
    with pytest.raises(InputError, match="not both"):
        build_index(clip, RecordingEncoder(), subtitles=CUES, cues=SlowCues(CUES), settings=settings(), store=store)


def test_stages_overlap_in_their_own_threads(clip, tmp_path):
    ocr = SlowOcr(sleep=0.05)
    enc = RecordingEncoder(sleep=0.05)
    stats = PipelineStats()
    idx = build_index(clip, enc, ocr=ocr, ocr_id=ocr.ocr_id, settings=settings(), store=IndexStore(tmp_path),
                      progress=False, stats=stats)
    assert idx.ocr[0].startswith("GRAY") and len(idx.ocr) == len(idx.timestamps)
    ocr_threads = {name for *_, name in ocr.intervals}
    enc_threads = {name for *_, name in enc.intervals}
    assert ocr_threads == {"clamr-frames-ocr"} and enc_threads == {threading.current_thread().name}
    overlap = any(a0 < b1 and b0 < a1 for a0, a1, _ in ocr.intervals for b0, b1, _ in enc.intervals)
    assert overlap  # OCR of a later part ran while an earlier part was encoded
    assert stats.stages["ocr"].done == stats.stages["decode"].done == len(idx.timestamps)
    assert stats.stages["ocr"].rate > 0 and stats.line().startswith("decode ")


def test_decoded_frames_in_flight_stay_bounded():
    n_parts, size = 12, 4
    ts = np.arange(n_parts * size, dtype=np.float64)
    decoded, encoded, peak = [0], [0], [0]

    def frames_for(part):
        decoded[0] += 1
        peak[0] = max(peak[0], decoded[0] - encoded[0])
        return [np.zeros((4, 4, 3), np.uint8)] * size

    def encode(docs):
        time.sleep(0.02)  # a slow encoder: decoding would run away without the bound
        encoded[0] += 1
        return RecordingEncoder(uses_image=True).encode_documents(docs)

    job = PartJob(timestamps=ts, ranges=[(i * size, (i + 1) * size) for i in range(n_parts)], skip=set(),
                  uses_image=True, frames_for=frames_for, ocr=SlowOcr(sleep=0.0), asr_for=lambda got, s, e: [""] * (e - s))
    run_parts(job, encode, lambda *a: None)
    assert encoded[0] == n_parts
    assert peak[0] <= FRAME_PARTS


@pytest.mark.parametrize("where", ["ocr", "cues", "encoder"])
def test_a_failing_stage_stops_the_build_with_its_error(clip, tmp_path, where):
    ocr = SlowOcr(sleep=0.0, fail_at=16 if where == "ocr" else None)
    enc = RecordingEncoder(fail_at=16 if where == "encoder" else None)
    source = SlowCues(CUES, fail=where == "cues")
    with pytest.raises(RuntimeError, match=f"{'asr' if where == 'cues' else where} broke"):
        build_index(clip, enc, ocr=ocr, ocr_id=ocr.ocr_id, cues=source, settings=settings(),
                    store=IndexStore(tmp_path), progress=False)
    deadline = time.time() + 10
    while time.time() < deadline and any(t.name.startswith("clamr-frames-") for t in threading.enumerate()):
        time.sleep(0.05)
    assert not any(t.name.startswith("clamr-frames-") for t in threading.enumerate())
    # the parts written before the failure are kept: a second build resumes after them
    ok = build_index(clip, RecordingEncoder(), ocr=SlowOcr(sleep=0.0), ocr_id=ocr.ocr_id, cues=SlowCues(CUES),
                     settings=settings(), store=IndexStore(tmp_path), progress=False)
    assert len(ok.asr) == len(ok.timestamps) and ok.ocr[-1].startswith("GRAY")


def test_torch_threads_are_restored(clip, tmp_path):
    import torch

    before = torch.get_num_threads()
    build_index(clip, RecordingEncoder(), settings=settings(), store=IndexStore(tmp_path), progress=False,
                torch_threads=1)
    assert torch.get_num_threads() == before


def test_thread_plan_fills_the_cores_and_oversubscribes_only_while_ocr_runs():
    for cores in range(1, 17):
        for ocr in (False, True):
            for asr in (False, True):
                plan = thread_plan(ocr=ocr, asr=asr, cores=cores)
                assert (plan["ocr"] > 0) == ocr and (plan["asr"] > 0) == asr and plan["torch"] >= 1
                assert plan["ocr"] <= cores and plan["asr"] <= cores
                if ocr and asr:  # speech recognition can use every core once OCR is done; OCR has half
                    assert plan["asr"] == cores and plan["ocr"] == max(1, (cores + 1) // 2)
                    assert plan["torch"] == 1
                elif ocr or asr:
                    assert plan["ocr"] + plan["asr"] == cores
