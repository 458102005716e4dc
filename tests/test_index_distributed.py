"""Scale-out indexing: shards, claims, resuming, and two real worker processes on one shared cache."""

from __future__ import annotations

import numpy as np
import pytest

from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.errors import InputError
from clamr_frames.index import IndexSettings, IndexStore
from clamr_frames.index.distributed import (
    claim_path,
    index_parallel,
    index_videos,
    launcher_rank_world,
    visit_order,
)
from clamr_frames.video.writer import write_video

SETTINGS = IndexSettings(chunk_size=8)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    out = []
    for v in range(4):
        frames = (np.full((32, 48, 3), 10 * v + i, np.uint8) for i in range(12 + 4 * v))
        path = write_video(d / f"v{v}.mp4", frames, fps=1.0)
        srt = write_srt(d / f"v{v}.srt", [Cue(0.0, 5.0, f"video number {v} starts"), Cue(6.0, 9.0, "the river")])
        out.append((str(path), str(srt)))
    return out


@pytest.fixture(scope="module")
def encoder():
    from clamr_frames.encoders.default import DefaultEncoder

    return DefaultEncoder()


def test_visit_order_covers_everything_once_and_own_shard_first():
    for world in (1, 2, 3, 5):
        for rank in range(world):
            order = visit_order(11, rank, world)
            assert sorted(order) == list(range(11))
            assert order[: len(range(rank, 11, world))] == list(range(rank, 11, world))
    shards = [set(visit_order(11, r, 3, steal=False)) for r in range(3)]
    assert set.union(*shards) == set(range(11)) and sum(map(len, shards)) == 11
    with pytest.raises(InputError):
        visit_order(3, 2, 2)


def test_launcher_environment(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(var, raising=False)
    assert launcher_rank_world() == (0, 1)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert launcher_rank_world() == (3, 4)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(InputError):
        launcher_rank_world()


def test_claimed_video_is_skipped_then_built_later(videos, encoder, tmp_path):
    import subprocess
    import sys

    store = IndexStore(tmp_path)
    paths = [v for v, _ in videos]
    subs = [s for _, s in videos]
    held = claim_path(tmp_path, paths[1], encoder, SETTINGS, subs[1])
    held.parent.mkdir(parents=True, exist_ok=True)
    # "another worker" (a real second process) is encoding video 1: it holds the claim until killed
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom filelock import FileLock\nlock = FileLock(sys.argv[1])\nlock.acquire()\n"
         "print('held', flush=True)\ntime.sleep(300)", str(held)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        res = index_videos(paths, encoder, subtitles=subs, settings=SETTINGS, store=store, rank=0, world=1)
    finally:
        holder.kill()
        holder.wait()
    by_video = {r.video: r for r in res}
    assert by_video[paths[1]].status == "claimed" and by_video[paths[1]].frames_encoded == 0
    assert all(by_video[p].status == "built" for p in paths if p != paths[1])
    assert all(by_video[p].frames_encoded == by_video[p].candidates > 0 for p in paths if p != paths[1])
    again = index_videos(paths, encoder, subtitles=subs, settings=SETTINGS, store=store, rank=0, world=1)
    status = {r.video: r.status for r in again}
    assert status[paths[1]] == "built"  # the claim is free now
    assert [status[p] for p in paths if p != paths[1]] == ["cached"] * 3  # resumed: nothing re-encoded


def test_bad_video_fails_alone(videos, encoder, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    res = index_videos([str(bad), videos[0][0]], encoder, settings=SETTINGS, store=IndexStore(tmp_path),
                       rank=0, world=1)
    assert [r.status for r in res] == ["failed", "built"]
    assert "broken.mp4" in res[0].error


def test_two_processes_share_the_work_and_encode_each_video_once(videos, tmp_path):
    paths = [v for v, _ in videos]
    subs = [s for _, s in videos]
    res = index_parallel(paths, processes=2, subtitles=subs, settings=SETTINGS, cache_dir=tmp_path, threads=1)
    built = [r for r in res if r.status == "built"]
    assert sorted(r.video for r in built) == sorted(paths)  # every video built exactly once
    assert {r.rank for r in res} == {0, 1}
    assert all(r.frames_encoded == r.candidates for r in built)
    assert not [r for r in res if r.status == "failed"]
    # what they wrote is a normal index a single process reads without encoding anything
    from clamr_frames.encoders.default import DefaultEncoder

    again = index_videos(paths, DefaultEncoder(), subtitles=subs, settings=SETTINGS, store=IndexStore(tmp_path),
                         rank=0, world=1)
    assert {r.status for r in again} == {"cached"}
