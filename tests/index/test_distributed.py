"""The Ray pipeline on a local 2-CPU cluster (one for the module): indexes identical to single-process indexing,
a corrupt video reported while the others are indexed, an encoder worker killed in the middle of a video (the
video is retried, or reported when retries are off, and the next run resumes from its finished parts), verified
indexes skipped, remote (URI) inputs and an image encoder through the CLI.

Needs the ``distributed`` extra (Ray): ``testkit.extras.require_extra`` skips without it, or fails where the extras
are meant to be installed (CI, ``bash run.sh test``).
"""

from __future__ import annotations

import contextlib
import json
import os

import numpy as np
import pytest

from testkit.extras import require_extra

require_extra("distributed")

from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.index import IndexSettings, IndexStore, build_index
from clamr_frames.index.corpus import jobs_from_paths, read_manifest
from clamr_frames.index.distributed import KILL_ONCE_ENV, index_corpus
from clamr_frames.video.writer import write_video

#: Each test starts encoder actors (a process, torch, the model): tens of seconds, not seconds.
pytestmark = pytest.mark.slow

SETTINGS = IndexSettings(chunk_size=4)


@contextlib.contextmanager
def one_thread():
    """Single-process references are built with one torch thread, as the encoder actors on this 2-CPU cluster
    run: CPU matmuls sum in an order that depends on the thread count, and the tests compare bytes."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@pytest.fixture(scope="module", autouse=True)
def cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """4 short generated videos with subtitles (9-15 s at 1 fps: 3-4 parts of 4 candidates each)."""
    d = tmp_path_factory.mktemp("videos")
    out = []
    for v in range(4):
        frames = (np.full((32, 48, 3), 10 * v + 3 * i, np.uint8) for i in range(9 + 2 * v))
        path = write_video(d / f"v{v}.mp4", frames, fps=1.0)
        srt = write_srt(d / f"v{v}.srt", [Cue(0.0, 5.0, f"video number {v} starts"), Cue(6.0, 9.0, "the river")])
        out.append((str(path), str(srt)))
    return out


@pytest.fixture(scope="module")
def encoder(default_encoder):
    return default_encoder


@pytest.fixture(scope="module")
def reference(videos, encoder, tmp_path_factory):
    """Single-process indexes (build_index in this process) of every video; v1 also at 2 fps."""
    store = IndexStore(tmp_path_factory.mktemp("reference"))
    out = {}
    with one_thread():
        for v, s in videos:
            out[v] = build_index(v, encoder, subtitles=s, settings=SETTINGS, store=store, progress=False).path
        v, s = videos[1]
        out["v1@2fps"] = build_index(v, encoder, subtitles=s, settings=IndexSettings(fps=2.0, chunk_size=4),
                                     store=store, progress=False).path
    return out


def _same_index(built: str, ref, *, ignore=()) -> None:
    """Same directory name (same key), same tensor bytes, same manifest."""
    from pathlib import Path

    built = Path(built)
    assert built.name == ref.name
    assert (built / "index.safetensors").read_bytes() == (ref / "index.safetensors").read_bytes()
    a, b = (json.loads((p / "manifest.json").read_text()) for p in (built, ref))
    for k in ignore:
        a.pop(k), b.pop(k)
    # the visual prior: a single-process build adds it as it decodes; a Ray-built index gets it when
    # build_index (FrameSelector) first loads it
    a.pop("visual_prior", None), b.pop("visual_prior", None)
    assert a == b


def test_corpus_matches_single_process_and_reports_the_corrupt_video(videos, encoder, reference, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    rows = [{"video": v, "subtitles": s} for v, s in videos]
    rows.append({"video": videos[1][0], "subtitles": videos[1][1], "options": {"fps": 2.0}, "id": "v1@2fps"})
    rows.insert(2, {"video": "broken.mp4", "id": "broken"})  # relative to the manifest's folder
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    jobs = read_manifest(tmp_path / "corpus.jsonl")

    report = index_corpus(jobs, settings=SETTINGS, cache_dir=tmp_path / "cache", ocr=False, progress=False)
    assert [f["video"] for f in report.failed] == ["broken"]
    assert "broken.mp4" in report.failed[0]["reason"] and report.failed[0]["stage"] == "context"
    assert sorted(e["video"] for e in report.indexed) == sorted([v for v, _ in videos] + ["v1@2fps"])
    for e in report.indexed:
        _same_index(e["index"], reference[e["video"]])
        assert e["frames_encoded"] == e["candidates"]
    assert report.frames_encoded == sum(e["candidates"] for e in report.indexed) > 0
    stages = report.to_json()["stages"]
    assert set(stages) == {"context", "encode", "finalize"}
    assert stages["encode"]["frames"] == report.frames_encoded and stages["encode"]["busy_s"] > 0

    # what Ray wrote is an ordinary index: the single-process path loads it without encoding anything
    from clamr_frames.index.corpus import index_locally

    again = index_locally(jobs, encoder, settings=SETTINGS, store=IndexStore(tmp_path / "cache"), ocr=False,
                          progress=False)
    assert len(again.skipped) == 5 and again.frames_encoded == 0 and len(again.failed) == 1


def test_killed_encoder_is_retried_or_reported_and_the_corpus_resumes(videos, encoder, reference, tmp_path,
                                                                     monkeypatch):
    cache = tmp_path / "cache"
    (v0, s0), (v1, s1), (v2, s2) = videos[:3]
    with one_thread():  # an index that is already complete: it must be skipped, not re-encoded
        build_index(v2, encoder, subtitles=s2, settings=SETTINGS, store=IndexStore(cache), progress=False)

    # 1) no retries: the worker that dies in the middle of a video loses that part (and whatever was queued on
    #    it); such a video is reported, saying what happened, and the corpus ends
    monkeypatch.setenv(KILL_ONCE_ENV, str(tmp_path / "killed-1"))
    first = index_corpus(jobs_from_paths([v0, v1], [s0, s1]), settings=SETTINGS, cache_dir=cache, retries=0,
                         ocr=False, progress=False)
    assert (tmp_path / "killed-1").exists()
    assert first.failed and all("encoder worker died" in f["reason"] for f in first.failed)
    assert len(first.indexed) + len(first.failed) == 2
    lost = sorted(f["video"] for f in first.failed)
    on_disk = {v: _frames_on_disk(cache, v) for v in lost}
    assert sum(on_disk.values()) > 0  # the killed video's first part was written before it died

    # 2) with retries: killed once more in the middle of a video, the part is retried and everything completes;
    #    a failed video resumes from the parts it had finished, complete ones are skipped
    monkeypatch.setenv(KILL_ONCE_ENV, str(tmp_path / "killed-2"))
    second = index_corpus(jobs_from_paths([v0, v1, v2], [s0, s1, s2]), settings=SETTINGS, cache_dir=cache,
                          retries=2, ocr=False, progress=False)
    assert (tmp_path / "killed-2").exists()
    assert not second.failed
    assert sorted(e["video"] for e in second.indexed) == lost
    for e in second.indexed:
        assert e["frames_encoded"] == e["candidates"] - on_disk[e["video"]]  # resumed, not redone
    assert sorted(e["video"] for e in second.skipped) == sorted({v0, v1, v2} - set(lost))
    for e in second.indexed + second.skipped:
        _same_index(e["index"], reference[e["video"]])


def _frames_on_disk(cache, video: str) -> int:
    """Candidates in the finished parts of ``video``'s partial index."""
    from pathlib import Path

    from clamr_frames.index.store import chunk_ranges

    (directory,) = [d for d in Path(cache).glob(f"{Path(video).stem}-*") if d.is_dir()]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["status"] == "partial"
    ranges = chunk_ranges(len(manifest["timestamps"]), SETTINGS.chunk_size)
    return sum(e - s for p, (s, e) in enumerate(ranges) if IndexStore.part_path(directory, p).exists())


def test_cli_on_ray_with_uris_and_an_image_encoder(videos, tiny_clip_dir, tmp_path, capsys):
    """`clamr-frames index --ray` on file:// URIs (copied by the workers like any remote file) with a tiny CLIP,
    so decoded frames travel from the context tasks to the encoder actors; same index as one process builds."""
    from clamr_frames.cli import main
    from clamr_frames.encoders.registry import load_encoder

    weights = tiny_clip_dir
    (v0, s0), (v1, s1) = videos[:2]
    args = ["index", f"file://{v0}", f"file://{v1}", "--subtitles", s0, "--subtitles", f"file://{s1}",
            "--scorer", "clip", "--weights", str(weights), "--device", "cpu", "--index-dir", str(tmp_path / "cache"),
            "--ray", "--report", str(tmp_path / "report.json"), "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "2 videos: 2 indexed" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["setup"]["runner"] == "ray" and report["frames_encoded"] == 9 + 11

    ref_store = IndexStore(tmp_path / "ref")
    enc = load_encoder("clip", weights=str(weights), device="cpu")
    for e, (v, s) in zip(sorted(report["indexed"], key=lambda e: e["video"]), [(v0, s0), (v1, s1)]):
        with one_thread():
            ref = build_index(v, enc, subtitles=s, store=ref_store, progress=False).path
        _same_index(e["index"], ref, ignore=("video_path",))  # the manifest records the URI it was given
        assert json.loads(open(os.path.join(e["index"], "manifest.json")).read())["video_path"] == f"file://{v}"


def test_speech_without_subtitles_is_transcribed_in_the_context_tasks(encoder, tmp_path):
    """asr=auto on a spoken video without subtitles: Whisper runs in the context task, its transcript lands in the
    store's transcript cache, and the index equals the single-process one built from that transcript."""
    import shutil
    from pathlib import Path

    require_extra("asr")
    require_extra("synth")
    from clamr_frames.index.corpus import index_locally
    from clamr_frames.synth import generate_video

    spoken = generate_video(tmp_path / "spoken", seed=3, duration=20.0, needles_per_kind=1, kinds=("asr",),
                            speech=True)
    cache = tmp_path / "cache"
    report = index_corpus([str(spoken.video_path)], settings=SETTINGS, cache_dir=cache, asr="auto", ocr=False,
                          progress=False)
    assert not report.failed and len(report.indexed) == 1 and report.setup["asr"] == "auto"
    built = Path(report.indexed[0]["index"])
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["spec"]["asr"]["source"].startswith("whisper") and any(manifest["asr"])
    assert list((cache / "asr").glob("*.json"))  # the transcript is cached beside the indexes

    ref = tmp_path / "ref"
    shutil.copytree(cache / "asr", ref / "asr")  # the same transcript, not a second run of Whisper
    with one_thread():
        local = index_locally(jobs_from_paths([str(spoken.video_path)]), encoder, settings=SETTINGS,
                              store=IndexStore(ref), asr="auto", ocr=False, progress=False)
    _same_index(built, Path(local.indexed[0]["index"]))
