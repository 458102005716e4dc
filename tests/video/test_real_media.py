"""Real files in every backend: frame identity, odd containers and a corrupted stream.

(Shots on the real footage: tests/test_shots.py; the DivX / MS-MPEG4 / Cinepak AVIs also run through the
conformance checks of tests/test_video_conformance.py.)

The files are the committed real-media set (tests/data/README.md: sources, licences, and how the derived files
were made). The truth for frame identity is one in-order PyAV decode of the whole file (no seeking), turned as
displayed: every frame a backend returns for an index must hold that frame's pixels, whichever way it was asked
for (random picks in a shuffled order, a dense run, chunked 1-fps candidates).
"""

from __future__ import annotations

import functools
import importlib.util
import platform
import warnings
from pathlib import Path

import numpy as np
import pytest

from clamr_frames.errors import VideoError
from clamr_frames.video import VideoReader
from testkit.real_media import DATA

HAVE_DECORD = importlib.util.find_spec("decord") is not None  # a core dependency on x86_64 (no wheels elsewhere)


def _need_decord() -> None:
    if not HAVE_DECORD:
        if platform.machine() == "x86_64":
            pytest.fail("decord is not installed: a core dependency on x86_64 (CI installs it)")
        pytest.skip("decord has no wheel for this machine")
BACKENDS = ["auto", "pyav", "decord"]
SAME = 0.1  # mean absolute difference below which two frames are the same picture (identical decoders give 0.0)

# file: (dense run of indices, pixel step compared) -- every frame of the small files
REAL = {
    "video/cockatoo.mp4": ((100, 116), 8),  # camera footage, H.264 High 4:4:4 with B-frames, 1280x720
    "video/realshort.mp4": (None, 2),  # camera footage, H.264, 29.97 fps
    "video/sample_h264_aac.mp4": (None, 8),  # camera footage, H.264 with B-frames + AAC, 1920x1080, 23.976 fps
    "video/phone_video_0.mov": (None, 2),  # a phone's own QuickTime file (Core Media), upright
    "video/phone_video_90.mov": (None, 2),  # the same phone held upright: display matrix turns it 90 degrees
    "derived/cockatoo_divx_packed.avi": (None, 2),  # DivX packed B-frames (decord's own seeking returns wrong frames)
    "derived/cockatoo_msmpeg4v3.avi": (None, 2),  # MS-MPEG4 v3 in AVI
    "derived/cockatoo_cinepak.avi": (None, 1),  # Cinepak in AVI
    "derived/montage_cuts.mp4": ((30, 80), 2),  # H.264 montage with hard cuts
    "derived/jfk_audio_breaks.mp4": (None, 2),  # intact video beside audio that fails mid-file
    "derived/jfk_live.mkv": (None, 2),  # Matroska without a duration in its header
}
# Defects these files found (strict xfail: the test fails the day they are fixed, so the marker goes then):
KNOWN = {
    ("video/cockatoo.mp4", "pyav"): "PyAV backend: a dense run inside the second GOP (frames 100-107; key frames at 0, 76, "
    "145, B-frames, negative DTS) comes back empty: 'no frame could be decoded (8 requested, all failed)'",
    ("video/cockatoo.mp4", "auto"): "auto is PyAV: same defect",
    ("video/sample_h264_aac.mp4", "decord"): "decord's RGB differs from PyAV's by 3.6 (mean abs) on this BT.709 "
    "1080p file: the right frame, other colours (backends disagree on the colour conversion)",
    ("video/phone_video_0.mov", "decord"): "decord's RGB differs from PyAV's by 0.58 (mean abs): colour conversion",
    ("video/phone_video_90.mov", "decord"): "decord's RGB differs from PyAV's by 0.58 (mean abs): colour conversion",
}
# what decord cannot open at all: the reader must say so (a VideoError naming the file), never return wrong frames
DECORD_REFUSES = {"derived/jfk_live.mkv"}


@functools.lru_cache(maxsize=2)
def in_order_decode(path: Path, step: int) -> list[np.ndarray]:
    import av

    from clamr_frames.video._pyav_backend import _rotation, turn

    with av.open(str(path)) as c:
        return [turn(f.to_ndarray(format="rgb24"), _rotation(f))[::step, ::step] for f in c.decode(video=0)]


def _asked(reader: VideoReader, dense: tuple[int, int] | None) -> dict[str, np.ndarray]:
    n = reader.metadata.num_frames
    rng = np.random.default_rng(n)
    return {"sparse": rng.permutation(n)[: min(n, 16)], "dense": np.arange(*(dense or (0, n)))}


def _cases():
    for name in REAL:
        for backend in BACKENDS:
            # 280 frames of 1280x720 4:4:4; 23 frames of 1920x1080: seconds each on 2 loaded cores
            marks = [pytest.mark.slow] if name in ("video/cockatoo.mp4", "video/sample_h264_aac.mp4") else []
            if (name, backend) in KNOWN:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN[name, backend]))
            yield pytest.param(name, backend, marks=marks, id=f"{name}-{backend}")


@pytest.mark.parametrize(("name", "backend"), list(_cases()))
def test_real_file_frame_identity(name, backend):
    if backend == "decord":
        _need_decord()
    path = DATA / name
    dense, step = REAL[name]
    if backend == "decord" and name in DECORD_REFUSES:
        with pytest.raises(VideoError, match=path.name):
            VideoReader(path, backend=backend)
        return
    truth = in_order_decode(path, step)
    with VideoReader(path, backend=backend) as reader, warnings.catch_warnings():
        warnings.simplefilter("error")  # intact video: no "frames could not be decoded" warning
        assert reader.metadata.num_frames == len(truth)
        for mode, want in _asked(reader, dense).items():
            if mode == "sparse":
                got = reader.get_frames(want)
                idx, frames = got.indices, got.frames
            else:
                chunks = [reader.get_frames(want[s : s + 8]) for s in range(0, len(want), 8)]
                idx = np.concatenate([c.indices for c in chunks])
                frames = np.concatenate([c.frames for c in chunks])
            assert idx.tolist() == want.tolist(), f"{mode}: dropped or extra frames"
            diff = [np.abs(f[::step, ::step].astype(np.int16) - truth[i]).mean() for i, f in zip(idx, frames)]
            wrong = [int(i) for i, d in zip(idx, diff) if d > SAME]
            assert not wrong, f"{mode}: frames {wrong} are not the frames asked for"
        chunks = list(reader.iter_candidates(fps=1.0, chunk_size=4))
        idx = np.concatenate([c.indices for c in chunks])
        assert idx.tolist() == reader.candidate_indices(fps=1.0)[0].tolist()
        for c in chunks:
            for i, f in zip(c.indices, c.frames):
                assert np.abs(f[::step, ::step].astype(np.int16) - truth[i]).mean() <= SAME, f"candidate {i}"
        assert reader.skipped_frames == 0


@pytest.mark.parametrize("name", [n for n in REAL if n not in DECORD_REFUSES and n != "video/cockatoo.mp4"])
def test_decord_returns_the_frame_asked_for_even_where_its_colours_differ(name):
    """Where decord's colours differ from PyAV's (KNOWN), each frame it returns is still nearest the one asked for."""
    _need_decord()
    truth = in_order_decode(DATA / name, 2)
    with VideoReader(DATA / name, backend="decord") as reader:
        n = reader.metadata.num_frames
        want = np.random.default_rng(n).permutation(n)[: min(n, 16)]
        got = reader.get_frames(want)
    assert got.indices.tolist() == want.tolist()
    for i, f in zip(got.indices, got.frames):
        near = range(max(0, i - 3), min(n, i + 4))
        diffs = {j: np.abs(f[::2, ::2].astype(np.int16) - truth[j]).mean() for j in near}
        assert diffs[i] == min(diffs.values()) and diffs[i] < 5.0, (int(i), diffs)  # ties: a still picture


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_durations_and_rotation_as_displayed(backend):
    if backend == "decord":
        _need_decord()
    with VideoReader(DATA / "video/phone_video_90.mov", backend=backend) as r:
        assert (r.metadata.width, r.metadata.height) == (320, 568)  # stored 568x320, shown upright
        assert r.get_frames([0]).frames.shape[1:] == (568, 320, 3)
    with VideoReader(DATA / "video/cockatoo.mp4", backend=backend) as r:
        assert r.metadata.num_frames == 280 and abs(r.metadata.duration - 14.0) < 0.06
    with VideoReader(DATA / "video/sample_h264_aac.mp4", backend=backend) as r:
        assert r.metadata.num_frames == 23 and r.metadata.has_audio


def test_live_matroska_without_duration_is_measured_by_reading():
    import av

    with av.open(str(DATA / "derived/jfk_live.mkv")) as c:
        assert c.duration is None  # the header really has none
    with VideoReader(DATA / "derived/jfk_live.mkv") as r:
        assert r.metadata.num_frames == 22 and abs(r.metadata.duration - 11.0) < 0.6 and r.metadata.has_audio


@pytest.mark.parametrize("backend", ["auto", "pyav", "decord"])
def test_corrupted_h264_returns_what_decodes_and_says_what_did_not(backend):
    if backend == "decord":
        _need_decord()
    path = DATA / "video/corrupted_h264.mp4"
    with VideoReader(path, backend=backend) as r:
        assert r.metadata.num_frames == 50
        with pytest.warns(RuntimeWarning, match=r"corrupted_h264\.mp4: 2 of 5 requested frames could not be decoded"):
            got = [c for c in r.iter_candidates(fps=1.0)]
        idx = np.concatenate([c.indices for c in got]).tolist()
        assert len(idx) == 3 and r.skipped_frames == 2
        frames = np.concatenate([c.frames for c in got])
        assert frames.shape[1:] == (720, 1280, 3) and all(f.std() > 1.0 for f in frames)  # pictures, not blanks


def test_cover_art_of_an_audio_file_is_one_still_frame():
    """An MP3 with an attached picture opens as a one-frame video (FFmpeg's view): no invented timeline."""
    with VideoReader(DATA / "derived/LJ001-0001_cover.mp3", backend="pyav") as r:
        assert r.metadata.num_frames == 1 and r.metadata.has_audio
        assert r.get_frames([0]).frames.shape[1:] == (128, 192, 3)


def test_every_media_file_has_its_source_in_the_readme_and_the_set_stays_small():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    media = [p for p in DATA.rglob("*") if p.is_file() and p.suffix not in (".md", ".py", ".json", ".pyc")]
    assert len(media) >= 20
    for p in media:
        listed = p.name in readme or (p.name.startswith("LJ001-000") and "LJ001-0001.flac` … `LJ001-0008.flac" in readme)
        assert listed, f"{p.relative_to(DATA)} is not in tests/data/README.md"
    assert sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file()) < 15 * 2**20
