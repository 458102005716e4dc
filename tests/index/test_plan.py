"""The context plan (clamr_frames.index.plan): which ASR source a video gets (subtitles, none, a cached or a
streamed transcript), its OCR pass and thread shares, and that the FrameSelector, the local corpus runner and the
Ray pipeline's context task all take their context from it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clamr_frames.context.asr import Transcript, TranscriptState, WhisperCues, asr_available
from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.index import plan as plan_module
from clamr_frames.index.pipeline import thread_plan
from clamr_frames.index.plan import ContextPlan, OcrEngines, plan_context, transcript_cache
from clamr_frames.video.writer import write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan")
    video = write_video(d / "talk.mp4", (np.full((32, 48, 3), 20 + 9 * i, np.uint8) for i in range(6)), fps=1.0)
    srt = write_srt(d / "talk.srt", [Cue(0.0, 2.0, "welcome to the river"), Cue(3.0, 5.0, "the bridge")])
    return str(video), str(srt)


@pytest.fixture(scope="module")
def encoder():
    from clamr_frames.encoders.default import DefaultEncoder

    return DefaultEncoder()


needs_asr = pytest.mark.skipif(not asr_available(), reason="the asr extra is not installed")


def test_subtitles_are_the_source_when_given(clip, tmp_path):
    video, srt = clip
    for mode in ("auto", "subtitles"):
        p = plan_context(video, srt, asr=mode, store_root=tmp_path)
        assert (p.asr_source, p.subtitles, p.cues, p.ocr) == ("subtitles", srt, None, None)
    assert not (tmp_path / "asr").exists()  # no transcript looked for


def test_asr_none_and_a_silent_video_without_subtitles_get_no_asr(clip, tmp_path):
    video, srt = clip
    p = plan_context(video, srt, asr="none", store_root=tmp_path)
    assert (p.asr_source, p.subtitles, p.cues) == ("none", None, None)
    with pytest.warns(UserWarning, match="no subtitles and no audio track"):
        p = plan_context(video, None, asr="auto", store_root=tmp_path)
    assert (p.asr_source, p.subtitles, p.cues) == ("none", None, None)
    with pytest.warns(UserWarning, match="no subtitle file given"):
        assert plan_context(video, None, asr="subtitles", store_root=tmp_path).asr_source == "none"


@needs_asr
def test_a_soundtrack_is_streamed_or_read_from_the_cache(clip, tmp_path, monkeypatch):
    import clamr_frames.video.audio as audio

    video, _ = clip
    monkeypatch.setattr(audio, "has_audio_stream", lambda path: True)  # the clip stands in for a spoken one
    streamed = plan_context(video, None, asr="auto", store_root=tmp_path)
    assert streamed.asr_source == "whisper" and streamed.subtitles is None
    assert isinstance(streamed.cues, WhisperCues)
    assert streamed.cues.cache.directory == tmp_path / "asr" == transcript_cache(tmp_path).directory
    # speech recognition shares the cores with the other stages: its CTranslate2 threads are its share
    assert streamed.cues.transcriber.settings.cpu_threads == thread_plan(ocr=False, asr=True)["asr"]
    assert streamed.threads == thread_plan(ocr=False, asr=True)

    # a transcript the cache holds complete is read now: nothing to stream
    from clamr_frames._fs import video_fingerprint

    state = TranscriptState(cues=[Cue(0.5, 2.0, "the river")], done_until=6.0, duration=6.0, complete=True)
    transcript_cache(tmp_path).save(video_fingerprint(video), streamed.cues.transcriber.cache_key(), state)
    cached = plan_context(video, None, asr="whisper", store_root=tmp_path)
    assert cached.asr_source == "whisper" and cached.cues is None
    assert isinstance(cached.subtitles, Transcript) and list(cached.subtitles.cues) == state.cues


@needs_asr
def test_without_streaming_the_transcript_is_waited_for(clip, tmp_path, monkeypatch):
    import clamr_frames.video.audio as audio

    video, _ = clip
    monkeypatch.setattr(audio, "has_audio_stream", lambda path: True)
    done = Transcript((Cue(0.0, 1.0, "hello"),), video, "test-model")
    waited = []

    def wait(self, *, progress=True):
        waited.append((self.transcriber.settings.cpu_threads, progress))
        return done

    monkeypatch.setattr(WhisperCues, "wait", wait)
    p = plan_context(video, None, asr="auto", store_root=tmp_path, stream=False, cores=1, progress=False)
    assert (p.asr_source, p.subtitles, p.cues, p.threads) == ("whisper", done, None, None)
    assert waited == [(1, False)]  # a Ray context task: one core for speech recognition


def test_ocr_pass_engines_and_thread_shares(clip, tmp_path):
    pytest.importorskip("rapidocr")
    video, srt = clip
    engines = OcrEngines()
    first = plan_context(video, srt, ocr=True, store_root=tmp_path, ocr_engines=engines)
    second = plan_context(video, srt, ocr=True, store_root=tmp_path, ocr_engines=engines)
    assert first.ocr is not None and first.ocr is not second.ocr  # a fresh stateful pass per video
    assert first.ocr_id == second.ocr_id and len(engines) == 1  # on one engine, built once
    assert first.threads == thread_plan(ocr=True, asr=False)
    assert first.torch_threads(uses_image=False) == first.threads["torch"]
    assert first.torch_threads(uses_image=True) is None
    kwargs = first.build_kwargs(uses_image=False)
    assert kwargs == {"subtitles": srt, "cues": None, "ocr": first.ocr, "ocr_id": first.ocr_id,
                      "torch_threads": first.threads["torch"]}
    corpus = plan_context(video, srt, ocr=True, store_root=tmp_path, stream=False, ocr_engines=engines)
    assert corpus.threads is None and corpus.torch_threads(uses_image=False) is None and len(engines) == 2
    assert plan_context(video, srt, store_root=tmp_path).torch_threads(uses_image=False) is None  # nothing beside


def _spy(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    real = plan_module.plan_context

    def spy(video, subtitles=None, **kwargs):
        p = real(video, subtitles, **kwargs)
        calls.append({"video": str(video), "subtitles": subtitles, "plan": p, **kwargs})
        return p

    monkeypatch.setattr(plan_module, "plan_context", spy)
    return calls


def test_the_frame_selector_takes_its_context_from_the_plan(clip, encoder, tmp_path, monkeypatch):
    from clamr_frames import FrameSelector

    video, srt = clip
    calls = _spy(monkeypatch)
    selector = FrameSelector(encoder, index_dir=tmp_path / "idx", progress=False, ocr=False)
    idx = selector.index(video, srt)
    assert len(calls) == 1 and calls[0].get("stream", True) is True  # the stages run together: streamed
    assert calls[0]["store_root"] == selector.store.root and calls[0]["plan"].asr_source == "subtitles"
    assert idx.asr_source == "subtitles" and any(idx.asr)
    assert selector.asr_cue_source(video, srt) == srt and len(calls) == 2 and calls[1]["stream"] is False
    with pytest.warns(DeprecationWarning, match="asr_cue_source"):
        assert selector.asr_context(video, srt, asr="none") is None


def test_the_local_corpus_runner_takes_its_context_from_the_plan(clip, encoder, tmp_path, monkeypatch):
    from clamr_frames.index import IndexStore
    from clamr_frames.index.corpus import index_locally, jobs_from_paths

    video, srt = clip
    calls = _spy(monkeypatch)
    report = index_locally(jobs_from_paths([video], [srt]), encoder, store=IndexStore(tmp_path / "idx"),
                           ocr=False, progress=False)
    assert not report.failed and len(report.indexed) == 1
    assert len(calls) == 1 and calls[0]["stream"] is False and calls[0]["asr"] == "subtitles"
    assert calls[0]["store_root"] == IndexStore(tmp_path / "idx").root


def test_the_ray_context_task_takes_its_context_from_the_plan(clip, encoder, tmp_path, monkeypatch):
    import pickle

    from clamr_frames.index.corpus import jobs_from_paths
    from clamr_frames.index.distributed import EncoderIdentity, context_stage

    video, srt = clip
    calls = _spy(monkeypatch)
    job = jobs_from_paths([video], [srt])[0]
    rows = list(context_stage({"job": 0, "spec": json.dumps(job.to_json())}, identity=EncoderIdentity.of(encoder),
                              store_root=str(tmp_path / "idx"), settings={}, ocr=False, filesystem=None, retries=0))
    kinds = [r["kind"] for r in rows]
    assert kinds[0] == "plan" and "chunk" in kinds, [pickle.loads(r["payload"]) for r in rows if r["kind"] == "failed"]
    assert len(calls) == 1 and calls[0]["stream"] is False and calls[0]["cores"] == 1
    assert isinstance(calls[0]["plan"], ContextPlan) and calls[0]["plan"].asr_source == "subtitles"
