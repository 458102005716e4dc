"""The visual prior in the index (stored, versioned, added to older indexes) and through FrameSelector."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from clamr_frames.context.shots import PRIOR_VERSION
from clamr_frames.errors import InputError
from clamr_frames.index import IndexSettings, IndexStore, build_index
from clamr_frames.synth import generate_video

#: every test builds or reads indexes of a 90-s generated video with its visual prior: tens of seconds each.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    # 90 s with scenes of 6-30 s: several shots, one needle of each kind
    return generate_video(tmp_path_factory.mktemp("prior"), seed=21, duration=90.0, needles_per_kind=1,
                          scene_seconds=(6.0, 30.0))


@pytest.fixture(scope="module")
def encoder(default_encoder):
    return default_encoder


class Counting:
    """Counts the documents an encoder encodes."""

    def __init__(self, inner):
        self.inner, self.docs = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_documents(self, docs):
        self.docs += len(docs)
        return self.inner.encode_documents(docs)


def _build(video, encoder, root, *, prior=True, **settings):
    """Build (or load) the index; with ``prior``, give it its visual prior as a policy that needs it would."""
    from clamr_frames.index.prior import ensure_prior

    store, s = IndexStore(root), IndexSettings(chunk_size=32, **settings)
    idx = build_index(video.video_path, encoder, subtitles=video.srt_path, store=store, settings=s, progress=False)
    if prior and idx.prior is None and s.visual_prior:
        with store.lock(idx.path):
            ensure_prior(idx, store, video.video_path, s, progress=False)
    return idx


def _true_starts(video, timestamps):
    return sorted({int(np.searchsorted(timestamps, s - 1e-9)) for s in video.scene().scene_starts
                   if s < timestamps[-1]})


def test_index_stores_the_prior_and_loads_it_back(video, encoder, tmp_path):
    idx = _build(video, encoder, tmp_path)
    prior = idx.prior
    assert prior is not None and len(prior) == idx.num_candidates
    assert prior.shot_bounds[:-1].tolist() == _true_starts(video, idx.timestamps)
    entry = idx.manifest["visual_prior"]
    assert entry["version"] == PRIOR_VERSION and entry["shots"] == prior.num_shots
    on_disk = json.loads((idx.path / "manifest.json").read_text())
    assert on_disk["visual_prior"] == entry and (idx.path / "prior.safetensors").exists()
    counting = Counting(encoder)
    again = _build(video, counting, tmp_path)
    assert counting.docs == 0
    assert np.array_equal(again.prior.thumbs, prior.thumbs) and np.array_equal(again.prior.novelty, prior.novelty)


def test_an_index_without_the_prior_gets_it_without_reencoding(video, encoder, tmp_path, monkeypatch):
    idx = _build(video, encoder, tmp_path)
    want = idx.prior.shot_ids.copy()
    # an index as built before the prior existed: no manifest entry, no file
    manifest = json.loads((idx.path / "manifest.json").read_text())
    del manifest["visual_prior"]
    (idx.path / "manifest.json").write_text(json.dumps(manifest))
    (idx.path / "prior.safetensors").unlink()
    assert IndexStore(tmp_path).load(idx.path, manifest["spec"]).prior is None
    counting = Counting(encoder)
    again = _build(video, counting, tmp_path)
    assert counting.docs == 0, "the embeddings are kept"
    assert again.prior is not None and again.prior.shot_ids.tolist() == want.tolist()
    # another version of the prior counts as none
    manifest = json.loads((idx.path / "manifest.json").read_text())
    manifest["visual_prior"]["version"] = PRIOR_VERSION + 1
    (idx.path / "manifest.json").write_text(json.dumps(manifest))
    assert IndexStore(tmp_path).load(idx.path, manifest["spec"]).prior is None
    assert _build(video, counting, tmp_path).manifest["visual_prior"]["version"] == PRIOR_VERSION


def test_a_text_only_build_decodes_no_frame_and_the_prior_comes_when_a_policy_needs_it(video, encoder, tmp_path,
                                                                                         monkeypatch):
    import clamr_frames.index.prior as prior_mod
    from clamr_frames.selector import FrameSelector

    real = prior_mod.prior_from_video
    decoded: list[str] = []

    def counting(*a, **k):
        decoded.append(str(a[0]))
        return real(*a, **k)

    monkeypatch.setattr(prior_mod, "prior_from_video", counting)
    idx = _build(video, encoder, tmp_path, prior=False)
    assert idx.prior is None and decoded == [] and not (idx.path / "prior.safetensors").exists()
    q = next(q for q in video.questions if q["needle"]["kind"] == "ocr")
    # without OCR the text-only scorer's build decodes no frame (OCR, on by default, would decode them)
    selector = FrameSelector(encoder, settings=IndexSettings(chunk_size=32), index_dir=tmp_path, progress=False,
                             ocr=False)
    top = selector.select(video.video_path, q["question"], k=4, subtitles=video.srt_path, policy="topk")
    assert top.prior is None and decoded == []  # topk needs no prior: nothing decoded
    cov = selector.select(video.video_path, q["question"], k=4, subtitles=video.srt_path, policy="coverage")
    assert cov.prior is not None and len(decoded) == 1 and (idx.path / "prior.safetensors").exists()
    assert cov.prior.shot_bounds[:-1].tolist() == _true_starts(video, idx.timestamps)
    selector.select(video.video_path, q["question"], k=4, subtitles=video.srt_path, policy="gated")
    other = FrameSelector(encoder, settings=IndexSettings(chunk_size=32), index_dir=tmp_path, progress=False,
                          ocr=False)
    again = other.select(video.video_path, q["question"], k=4, subtitles=video.srt_path, policy="coverage")
    assert len(decoded) == 1, "stored with the index: computed once"
    assert np.array_equal(again.prior.novelty, cov.prior.novelty)


def test_an_image_encoder_build_takes_the_prior_from_the_frames_it_decodes(video, encoder, tmp_path, monkeypatch):
    import clamr_frames.index.prior as prior_mod

    class SeesPixels(Counting):
        uses_image = True  # documents carry frames (the default encoder ignores them): the pipeline decodes

    def no_second_pass(*a, **k):
        raise AssertionError("the prior decoded the video again")

    monkeypatch.setattr(prior_mod, "prior_from_video", no_second_pass)
    idx = _build(video, SeesPixels(encoder), tmp_path)
    assert idx.prior is not None
    assert idx.prior.shot_bounds[:-1].tolist() == _true_starts(video, idx.timestamps)


def test_a_corrupt_prior_is_recomputed_with_a_warning(video, encoder, tmp_path):
    idx = _build(video, encoder, tmp_path)
    p = idx.path / "prior.safetensors"
    p.write_bytes(p.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unusable visual prior"):
        again = _build(video, encoder, tmp_path)
    assert again.prior is not None and again.prior.shot_ids.tolist() == idx.prior.shot_ids.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _build(video, encoder, tmp_path)  # repaired: loads quietly


def test_prior_can_be_turned_off(video, encoder, tmp_path):
    idx = _build(video, encoder, tmp_path, visual_prior=False)
    assert idx.prior is None and "visual_prior" not in idx.manifest
    assert not (idx.path / "prior.safetensors").exists()


def test_selector_passes_the_prior_and_plots_it(video, encoder, tmp_path):
    from clamr_frames.plot import plot_timeline
    from clamr_frames.selector import FrameSelector

    selector = FrameSelector(encoder, index_dir=tmp_path, progress=False, ocr=False)
    q = next(q for q in video.questions if q["needle"]["kind"] == "vision")
    idx = selector.index(video.video_path, video.srt_path, prior=True)
    k = idx.prior.num_shots
    sel = selector.select(video.video_path, q["question"], k=k, subtitles=video.srt_path, policy="coverage")
    assert sel.prior is idx.prior and len(sel.indices) == k
    assert set(idx.prior.shot_ids[sel.indices].tolist()) == set(range(k)), "one frame per shot at k = shots"
    gated = selector.select(video.video_path, q["question"], k=4, subtitles=video.srt_path, policy="gated")
    assert len(gated.indices) == 4
    with pytest.raises(InputError, match="does not take"):
        selector.select(video.video_path, q["question"], k=4, subtitles=video.srt_path, policy="coverage",
                        min_gap=3.0)
    out = plot_timeline(sel, tmp_path / "timeline.png", spans=[(q["needle"]["start"], q["needle"]["end"])])
    assert out.stat().st_size > 10_000


def test_generator_scene_lengths():
    from clamr_frames.synth.render import SyntheticScene

    default = SyntheticScene(seed=3, duration=900.0).scene_starts
    assert default == SyntheticScene(seed=3, duration=900.0, scene_seconds=(20.0, 90.0)).scene_starts
    short = np.diff(SyntheticScene(seed=3, duration=900.0, scene_seconds=(2.0, 10.0)).scene_starts)
    assert short.min() >= 2.0 and short.max() <= 10.0
    for bad in ((5.0, 2.0), (0.1, 3.0), ("a", 3), (1.0,)):
        with pytest.raises(InputError, match="scene_seconds"):
            SyntheticScene(seed=3, duration=60.0, scene_seconds=bad)
