"""Index store + FrameSelector end to end on a generated video with subtitles (embedded default encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.errors import IndexCacheError, InputError
from clamr_frames.index import IndexSettings, IndexStore, build_index, video_fingerprint

DURATION = 40  # seconds, at 2 fps native → 40 candidates at 1 fps


@pytest.fixture(scope="module")
def clip(subtitled_clip):
    return subtitled_clip


@pytest.fixture(scope="module")
def encoder(default_encoder):
    return default_encoder


class CountingEncoder:
    """Wraps a real encoder and counts the documents it encodes."""

    def __init__(self, inner):
        self.inner = inner
        self.docs_encoded = 0
        self.queries_encoded = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_documents(self, docs):
        self.docs_encoded += len(docs)
        return self.inner.encode_documents(docs)

    def encode_queries(self, queries):
        self.queries_encoded += len(queries)
        return self.inner.encode_queries(queries)


def _selector(encoder, cache, **kw):
    from clamr_frames.selector import FrameSelector

    # OCR is not under test here (and would read every frame): ocr=False, where the default would turn it on
    return FrameSelector(encoder, index_dir=cache, progress=False, settings=IndexSettings(chunk_size=16), ocr=False,
                         **kw)


@pytest.mark.slow
def test_select_finds_the_subtitle_needle_and_orders_frames(clip, encoder, tmp_path):
    video, srt = clip
    sel = _selector(encoder, tmp_path).select(video, "What password did the harbour master say?", k=4, subtitles=srt)
    assert len(sel.indices) == 4
    assert np.all(np.diff(sel.timestamps) > 0), "frames must come back in temporal order"
    assert np.any((sel.timestamps >= 28.0) & (sel.timestamps <= 31.5))
    best = int(np.argmax(sel.all_scores))
    assert 25.0 <= sel.all_timestamps[best] <= 34.5
    assert len(sel.frames) == 4 and all(f is not None and f.ndim == 3 for f in sel.frames)
    ex = sel.explain()
    assert len(ex) == 4 and any("asr" in e["matched"] for e in ex)
    msgs = sel.to_qwen_messages()
    assert msgs[0]["content"][0]["type"] == "video" and len(msgs[0]["content"][0]["video"]) == 4


@pytest.mark.slow
def test_second_question_reencodes_no_frame(clip, encoder, tmp_path):
    video, srt = clip
    counting = CountingEncoder(encoder)
    selector = _selector(counting, tmp_path)
    selector.select(video, "What password did the harbour master say?", k=3, subtitles=srt)
    assert counting.docs_encoded == DURATION
    selector.select(video, "What does my cousin paint?", k=3, subtitles=srt)
    assert counting.docs_encoded == DURATION
    # a fresh selector (new process, same cache) reuses the on-disk index too
    counting2 = CountingEncoder(encoder)
    _selector(counting2, tmp_path).select(video, "Where were the buses?", k=3, subtitles=srt)
    assert counting2.docs_encoded == 0 and counting2.queries_encoded == 1


@pytest.mark.slow
def test_index_resumes_after_interruption(clip, encoder, tmp_path):
    video, srt = clip

    class Boom(CountingEncoder):
        def encode_documents(self, docs):
            if self.docs_encoded >= 32:
                raise KeyboardInterrupt
            return super().encode_documents(docs)

    boom = Boom(encoder)
    settings = IndexSettings(chunk_size=16)
    with pytest.raises(KeyboardInterrupt):
        build_index(video, boom, subtitles=srt, settings=settings, store=IndexStore(tmp_path), progress=False)
    assert boom.docs_encoded == 32
    again = CountingEncoder(encoder)
    idx = build_index(video, again, subtitles=srt, settings=settings, store=IndexStore(tmp_path), progress=False)
    assert again.docs_encoded == DURATION - 32
    full = build_index(video, encoder, subtitles=srt, settings=settings, store=IndexStore(tmp_path / "b"), progress=False)
    assert idx.embeddings.embeddings.shape == full.embeddings.embeddings.shape
    assert bool((idx.embeddings.embeddings == full.embeddings.embeddings).all())


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate", "garbage", "manifest", "foreign"])
def test_corrupt_or_foreign_index_is_rebuilt_with_warning(clip, encoder, tmp_path, damage):
    video, srt = clip
    store = IndexStore(tmp_path)
    settings = IndexSettings(chunk_size=16)
    idx = build_index(video, encoder, subtitles=srt, settings=settings, store=store, progress=False)
    f = idx.path / "index.safetensors"
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif damage == "garbage":
        f.write_bytes(b"not an index at all")
    elif damage == "manifest":
        (idx.path / "manifest.json").write_text("{ broken", encoding="utf-8")
    else:
        m = json.loads((idx.path / "manifest.json").read_text())
        m["spec"]["video"] = "0" * 64
        (idx.path / "manifest.json").write_text(json.dumps(m))
    counting = CountingEncoder(encoder)
    with pytest.warns(UserWarning, match="rebuilding"):
        again = build_index(video, counting, subtitles=srt, settings=settings, store=store, progress=False)
    assert counting.docs_encoded == DURATION
    assert bool((again.embeddings.embeddings == idx.embeddings.embeddings).all())


@pytest.mark.slow
def test_load_raises_clear_error_on_corrupt_file(clip, encoder, tmp_path):
    video, srt = clip
    store = IndexStore(tmp_path)
    idx = build_index(video, encoder, subtitles=srt, store=store, progress=False)
    (idx.path / "index.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(IndexCacheError, match="index.safetensors"):
        store.load(idx.path, idx.manifest["spec"])


def test_index_path_cannot_escape_cache(tmp_path):
    store = IndexStore(tmp_path)
    with pytest.raises(IndexCacheError):
        store.directory("x", "../../etc")
    d = store.directory("../../../etc/passwd", "a" * 64)
    assert tmp_path.resolve() in d.parents


def test_fingerprint_is_content_based(clip, tmp_path):
    video, _ = clip
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(Path(video).read_bytes())
    assert video_fingerprint(copy) == video_fingerprint(video)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    assert video_fingerprint(copy) != video_fingerprint(video)


@pytest.mark.slow
def test_bad_arguments(clip, encoder, tmp_path):
    video, srt = clip
    selector = _selector(encoder, tmp_path)
    for q in ["", "   \n"]:
        with pytest.raises(InputError, match="question"):
            selector.select(video, q, k=3)
    for k in [0, -2]:
        with pytest.raises(InputError, match="k"):
            selector.select(video, "what?", k=k)
    with pytest.warns(UserWarning, match="candidate"):
        sel = selector.select(video, "What password?", k=500, subtitles=srt)
    assert len(sel.indices) == DURATION


def test_video_without_subtitles_still_works(clip, encoder, tmp_path):
    video, _ = clip
    sel = _selector(encoder, tmp_path).select(video, "What password did the harbour master say?", k=5)
    assert len(sel.indices) == 5 and np.all(np.isfinite(sel.all_scores))


def test_default_cache_dir_env(monkeypatch, tmp_path):
    from clamr_frames.index import default_cache_dir

    monkeypatch.setenv("CLAMR_FRAMES_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"


def test_import_is_light():
    # importing the top-level package must not import torch (fast import, optional backends lazy)
    import subprocess
    import sys

    code = "import sys, clamr_frames; print('torch' in sys.modules, 'decord' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


@pytest.mark.slow
@pytest.mark.parametrize("compression", [None, "int8"])
def test_selector_scores_with_the_encoders_floor(clip, encoder, tmp_path, compression):
    """A scorer with ``score_floor`` (CLaMR: 0.0, the reference's zero padding) is scored with that floor."""
    import torch

    from clamr_frames.index.codecs import CompressedDocs
    from clamr_frames.scoring.compressed import score_compressed
    from clamr_frames.scoring import maxsim

    video, srt = clip
    floored = CountingEncoder(encoder)
    floored.score_floor = 0.0
    sel = _selector(floored, tmp_path, compression=compression)
    index = sel.index(video, srt)
    # A query whose tokens are far from every frame: some best matches are negative.
    query = "zebra quantum xylophone"
    scores, why = sel.score(index, query)
    q = encoder.encode_queries([query])[0]
    docs = index.embeddings
    if isinstance(docs, CompressedDocs):
        want = score_compressed(q, docs, floor=0.0)
        plain = score_compressed(q, docs)
    else:
        want = maxsim(q, docs.embeddings, docs.offsets, floor=0.0)
        plain = maxsim(q, docs.embeddings, docs.offsets)
    torch.testing.assert_close(scores, want)
    assert bool((plain < want).any()), "the query should have negative best matches somewhere"
    assert float(why.similarity.min()) >= 0.0 and bool((why.token_index == -1).any())
    # Without the attribute (the default scorer), plain MaxSim.
    torch.testing.assert_close(_selector(encoder, tmp_path, compression=compression).score(index, query)[0], plain)


@pytest.mark.slow
def test_pil_images_are_the_picked_frames_in_order(encoder, tmp_path):
    """``Selection.pil_images()``: one RGB PIL image per picked frame, in pick order, each the very frame picked
    (the frames carry their own index); a frame that did not decode is left out."""
    import dataclasses

    from testkit.media import make_video, read_code

    video = make_video(tmp_path / "coded.mp4", 20, fps=2.0)  # 10 s, frame i shows i
    srt = write_srt(tmp_path / "coded.srt", [Cue(2.0, 3.5, "the ferry leaves at noon"),
                                             Cue(7.0, 8.5, "the password is falcon")])
    sel = _selector(encoder, tmp_path / "cache").select(video, "what is the password?", k=3, subtitles=srt)
    images = sel.pil_images()
    assert len(images) == 3 and all(im.mode == "RGB" and im.size == (160, 96) for im in images)
    assert [read_code(np.asarray(im)) for im in images] == [int(i) for i in sel.frame_indices]
    assert np.array_equal(np.asarray(images[0]), sel.frames[0])
    partial = dataclasses.replace(sel, _frames=[sel.frames[0], None, sel.frames[2]])
    assert [read_code(np.asarray(im)) for im in partial.pil_images()] == [int(sel.frame_indices[0]),
                                                                        int(sel.frame_indices[2])]
