"""Weights from the Hugging Face Hub: one resolver for every scorer, ``revision`` passed through to each Hub load
and recorded in the index manifest, download progress that follows ``progress``/``--quiet``.

No network: the Hub is a local Hub cache in the client's real layout (``models--org--name/refs/<branch>`` →
``snapshots/<commit>``), read by the real ``snapshot_download`` offline, which resolves branches, tags and
commits there exactly as it does for downloaded repositories.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from clamr_frames.encoders.hub import hub_progress, hub_record, resolve_checkpoint, snapshot_commit
from clamr_frames.errors import InputError, ModelLoadError

A = "a" * 40
B = "b" * 40


@pytest.fixture
def hub(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def publish(cache: Path, repo: str, commit: str, source: Path | dict[str, bytes], refs: tuple[str, ...] = ()) -> Path:
    """Put ``source`` (a directory, or file name → bytes) in the Hub cache as ``repo`` at ``commit``; ``refs``
    (branches / tags) point at it."""
    root = cache / f"models--{repo.replace('/', '--')}"
    snap = root / "snapshots" / commit
    if isinstance(source, Path):
        shutil.copytree(source, snap)
    else:
        snap.mkdir(parents=True)
        for name, data in source.items():
            (snap / name).write_bytes(data)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    for ref in refs:
        (root / "refs" / ref).write_text(commit)
    return snap


@pytest.mark.slow
def test_revision_picks_its_snapshot_and_the_commit_is_recorded(hub):
    main = publish(hub, "org/tiny", A, {"config.json": b"{}", "model.safetensors": b"a"}, refs=("main",))
    v1 = publish(hub, "org/tiny", B, {"config.json": b"{}", "model.safetensors": b"b"}, refs=("v1",))
    assert resolve_checkpoint("org/tiny", offline=True, example="X('DIR')") == main
    got = resolve_checkpoint("org/tiny", offline=True, example="X('DIR')", revision="v1")
    assert got == v1 and (got / "model.safetensors").read_bytes() == b"b"
    assert resolve_checkpoint("org/tiny", offline=True, example="X('DIR')", revision=B) == v1  # a commit works too
    assert snapshot_commit(got) == B and snapshot_commit(got.parent) is None
    assert hub_record("org/tiny", got, "v1") == {"revision": "v1", "commit": B}
    assert hub_record("org/tiny", main, None) == {"commit": A}
    with pytest.raises(ModelLoadError, match=r"'org/tiny' at revision 'v2'.*huggingface-cli download org/tiny"):
        resolve_checkpoint("org/tiny", offline=True, example="X('DIR')", revision="v2")


def test_weights_fall_back_to_pytorch_bin_unless_the_scorer_needs_safetensors(hub):
    publish(hub, "org/old", A, {"config.json": b"{}", "pytorch_model.bin": b"x"}, refs=("main",))
    assert (resolve_checkpoint("org/old", offline=True, example="X") / "pytorch_model.bin").exists()
    with pytest.raises(ModelLoadError, match=r"org/old: the Hub snapshot has no weights \(\*\.safetensors\)"):
        resolve_checkpoint("org/old", offline=True, example="X", weights=("*.safetensors",))


def test_local_paths(tmp_path):
    (tmp_path / "f").write_text("x")
    assert resolve_checkpoint(tmp_path, offline=True, example="X") == tmp_path
    assert hub_record(tmp_path, tmp_path, None) == {}
    with pytest.raises(ModelLoadError, match="expected a checkpoint directory, got a file"):
        resolve_checkpoint(tmp_path / "f", offline=True, example="X")
    with pytest.raises(ModelLoadError, match="revision='v1' applies to Hub ids, not to a local directory"):
        resolve_checkpoint(tmp_path, offline=True, example="X", revision="v1")
    with pytest.raises(ModelLoadError, match="no such directory"):
        resolve_checkpoint(tmp_path / "a" / "b" / "c", offline=True, example="X")


def test_download_progress_follows_progress_and_is_restored(hub, monkeypatch):
    import importlib

    import huggingface_hub
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    hub_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")
    monkeypatch.setattr(hub_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", None)  # the environment leaves it to the caller

    publish(hub, "org/tiny", A, {"model.safetensors": b"a"}, refs=("main",))
    real = huggingface_hub.snapshot_download
    seen = []

    def spy(*args, **kwargs):
        seen.append((are_progress_bars_disabled(), kwargs.get("revision")))
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", spy)
    enable_progress_bars()
    try:
        resolve_checkpoint("org/tiny", offline=True, example="X", progress=False)
        assert not are_progress_bars_disabled()  # restored
        disable_progress_bars()
        resolve_checkpoint("org/tiny", offline=True, example="X", progress=True, revision="main")
        assert are_progress_bars_disabled()
    finally:
        enable_progress_bars()
    assert seen == [(True, None), (False, "main")]
    with hub_progress(False):
        assert are_progress_bars_disabled()
    assert not are_progress_bars_disabled()
    # a user's HF_HUB_DISABLE_PROGRESS_BARS=1 wins, without the Hub client's "cannot enable" warning
    monkeypatch.setattr(hub_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with hub_progress(True):
            assert are_progress_bars_disabled()


@pytest.mark.slow
def test_clip_revision_reaches_the_index_manifest(hub, tmp_path):
    """``FrameSelector.from_pretrained(..., revision=)`` loads that revision's weights, and the index records the
    revision and the commit it resolved to."""
    from clamr_frames import FrameSelector
    from testkit.tiny_clip import write_tiny_clip
    from clamr_frames.index import IndexSettings
    from testkit.media import make_video

    publish(hub, "org/tiny-clip", A, write_tiny_clip(tmp_path / "c0", seed=0), refs=("main",))
    publish(hub, "org/tiny-clip", B, write_tiny_clip(tmp_path / "c1", seed=1), refs=("v1",))
    video = make_video(tmp_path / "v.mp4", 30, fps=10.0)
    kw = dict(device="cpu", index_dir=tmp_path / "idx", progress=False, settings=IndexSettings(fps=1.0))
    sel_v1 = FrameSelector.from_pretrained("clip", revision="v1", encoder_kwargs={"weights": "org/tiny-clip"}, **kw)
    sel_main = FrameSelector.from_pretrained("clip", encoder_kwargs={"weights": "org/tiny-clip"}, **kw)
    assert sel_v1.encoder.encoder_id != sel_main.encoder.encoder_id  # other weights → another index
    index = sel_v1.index(video)
    source = index.manifest["encoder_source"]
    assert source["label"] == "org/tiny-clip" and source["revision"] == "v1" and source["commit"] == B
    on_disk = json.loads((index.path / "manifest.json").read_text())
    assert on_disk["encoder_source"]["commit"] == B
    assert sel_main.index(video).manifest["encoder_source"]["commit"] == A


@pytest.mark.slow
def test_languagebind_revisions_for_image_and_audio(hub, tmp_path):
    from testkit.tiny_clip import write_tiny_languagebind
    from clamr_frames.encoders.languagebind import LanguageBindEncoder

    publish(hub, "org/lb-image", A, write_tiny_languagebind(tmp_path / "i", "image", seed=0), refs=("v1",))
    publish(hub, "org/lb-audio", B, write_tiny_languagebind(tmp_path / "a", "audio", seed=1), refs=("main", "v2"))
    enc = LanguageBindEncoder.from_pretrained("org/lb-image", "org/lb-audio", revision="v1", audio_revision="v2",
                                              device="cpu", local_files_only=True, progress=False)
    assert {k: enc.source[k] for k in ("revision", "commit", "audio_revision", "audio_commit")} == {
        "revision": "v1", "commit": A, "audio_revision": "v2", "audio_commit": B}


@pytest.mark.slow
def test_clamr_revisions_for_adapter_and_backbone(hub, tmp_path, tiny_qwen_dir):
    """The adapter's ``revision`` and the backbone's ``base_revision`` each pick their own snapshot; the backbone
    the adapter names (a Hub id) goes through the same resolver."""
    from clamr_frames.encoders.clamr import ClamrEncoder
    from clamr_frames.train.models import ClamrTrainable

    base = tiny_qwen_dir
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the bare backbone's freshly initialised head
        enc = ClamrEncoder.from_pretrained(None, base_model=base, device="cpu", local_files_only=True)
    adapter = ClamrTrainable(enc, lora={"r": 2, "alpha": 4}).save_pretrained(tmp_path / "adapter",
                                                                           base_model="org/tiny-qwen")
    publish(hub, "org/tiny-qwen", A, base, refs=("v2",))
    publish(hub, "org/tiny-clamr", B, adapter, refs=("v1",))
    got = ClamrEncoder.from_pretrained("org/tiny-clamr", revision="v1", base_revision="v2", device="cpu",
                                       local_files_only=True, progress=False)
    assert {k: got.source[k] for k in ("revision", "commit", "base_revision", "base_commit", "base_model")} == {
        "revision": "v1", "commit": B, "base_revision": "v2", "base_commit": A, "base_model": "org/tiny-qwen"}
    q = got.encode_queries(["a question"])[0]
    assert q.shape[-1] == 128 and np.isfinite(q.float().numpy()).all()
    with pytest.raises(ModelLoadError, match="'org/tiny-qwen' at revision 'v3'.*base_model='DIR'"):
        ClamrEncoder.from_pretrained("org/tiny-clamr", revision="v1", base_revision="v3", device="cpu",
                                     local_files_only=True)


def test_registry_passes_revision_and_refuses_it_for_the_default_scorer():
    from clamr_frames.encoders.registry import load_encoder

    with pytest.raises(InputError, match="never the Hub: revision does not apply"):
        load_encoder("default", revision="v1")
    with pytest.raises(ModelLoadError, match="at revision 'nope'"):
        load_encoder("clip", weights="org/not-cached-clip", revision="nope", progress=False, local_files_only=True)
