"""Decoding conformance: on every codec and container, every backend returns exactly the frame asked for.

The truth is an in-order decode of the whole file with PyAV (no seeking): frame ``i`` is the ``i``-th frame it
yields. For each file, backend (``auto``, ``decord``, ``pyav``) and way of asking (sparse random picks in a
shuffled order, every frame densely, and chunked streaming of the 3-fps candidates), every requested index must
come back (0 dropped) holding the truth's pixels (0 wrong) and, on the generated files, the number drawn into
it (testkit/conformance_media.py lists the files and what each one exercises).

The real-footage files are committed (tests/data/derived, made by testkit/make_derived.py from imageio's
public-domain cockatoo.mp4) in the codecs of OpenCV's sample AVIs that this suite once read from Debian's
``opencv-doc`` (absent in CI; Megamind.avi, a film trailer, cannot be copied here): a DivX packed-bitstream AVI
with B-frames (the layout on which the reader once returned neighbouring frames and dropped frames, as on
Megamind.avi), an MS-MPEG4 v3 AVI (as vtest.avi) and a Cinepak AVI (as tree.avi). More real files:
tests/video/test_real_media.py.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from clamr_frames.video import VideoReader
from clamr_frames.video._stream_index import scan
from testkit import conformance_media as cm
from testkit.conformance_media import drawn, in_order_decode
from testkit.media import read_code

HAVE_DECORD = importlib.util.find_spec("decord") is not None  # not imported here: PyAV must load first
BACKENDS = ["auto", "pyav", pytest.param("decord", marks=pytest.mark.skipif(not HAVE_DECORD, reason="no decord"))]
from testkit.real_media import DATA  # tests/data: the committed real-media set

REAL_DATA = DATA / "derived"
# file: the frames read densely (None: every frame)
REAL = {"cockatoo_divx_packed.avi": None, "cockatoo_msmpeg4v3.avi": None, "cockatoo_cinepak.avi": None}
SAME = 0.1  # mean absolute pixel difference below which two frames are the same picture (identical decoders
#             give 0.0; neighbouring frames of the real files differ by 0.36 at the least)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("conformance")


def _generated(name: str, media_dir: Path) -> Path:
    missing = cm.missing_encoder(cm.SPECS[name].encoder)
    if missing:
        pytest.skip(missing)
    return cm.write(name, media_dir)


def _real(name: str) -> Path:
    return REAL_DATA / name  # committed: never skipped


def _requests(reader: VideoReader, dense: tuple[int, int] | None, fps: float) -> dict[str, np.ndarray]:
    """Indices to ask for: 16 random frames in a shuffled order, the frames of the range ``dense`` (all when
    None) one after the other, and the ``fps`` candidates."""
    n = reader.metadata.num_frames
    rng = np.random.default_rng(n)
    return {
        "sparse": rng.permutation(n)[: min(n, 16)],
        "dense": np.arange(*(dense or (0, n))),
        "chunked": reader.candidate_indices(fps=fps)[0],
    }


def _collect(
    reader: VideoReader, mode: str, want: np.ndarray, fps: float, chunk_size: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, frames) the reader returns for one way of asking."""
    if mode == "sparse":
        got = reader.get_frames(want)
        return got.indices, got.frames
    if mode == "dense":
        chunks = []
        for start in range(0, len(want), chunk_size):  # the frames in order, a chunk at a time
            got = reader.get_frames(want[start : start + chunk_size])
            chunks.append(got)
    else:
        chunks = list(reader.iter_candidates(fps=fps, chunk_size=chunk_size))
    assert all(1 <= len(c) <= chunk_size for c in chunks)  # bounded memory, in-order decoding included
    return np.concatenate([c.indices for c in chunks]), np.concatenate([c.frames for c in chunks])


def check_identity(
    path: Path,
    backend: str,
    *,
    every: int = 1,
    dense: tuple[int, int] | None = None,
    fps: float = 3.0,
    codes: int | None = None,
    rotation: int = 0,
) -> None:
    """Ask ``path`` for frames in every mode and compare each with the in-order decode's frame at that index
    (and, with ``codes``, the number drawn into it: ``codes + index``)."""
    with VideoReader(path, backend=backend) as reader:
        requests = _requests(reader, dense, fps)
        n, truth = in_order_decode(path, every, keep=set(np.concatenate(list(requests.values())).tolist()))
        assert reader.metadata.num_frames == n
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an intact file: no "frames could not be decoded" warning either
            for mode, want in requests.items():
                idx, frames = _collect(reader, mode, want, fps)
                assert reader.skipped_frames == 0
                expected = want if mode == "sparse" else np.sort(want)
                assert idx.tolist() == expected.tolist(), f"{mode}: indices differ (dropped or extra frames)"
                diff = np.abs(frames[:, ::every, ::every].astype(np.int16) - np.stack([truth[i] for i in idx]))
                wrong = diff.mean(axis=(1, 2, 3)) > SAME
                if codes is not None:
                    wrong |= np.asarray(drawn(frames, rotation)) != idx + codes
                assert not wrong.any(), f"{mode}: frames {idx[wrong].tolist()} are not the frames asked for"


# ---------------------------------------------------------------------------------------------- generated files
@pytest.mark.slow
@pytest.mark.parametrize("name", list(cm.SPECS))
def test_in_order_decode_shows_the_frames_as_drawn(media_dir, name):
    """The truth itself is right: an in-order decode yields the drawn frames in order."""
    n, truth = in_order_decode(_generated(name, media_dir))
    first, rotation = cm.first_code(name), cm.SPECS[name].rotation
    assert n == cm.N and drawn(np.stack([truth[i] for i in range(n)]), rotation) == list(range(first, first + n))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(cm.SPECS))
def test_generated_file_frame_identity(media_dir, name, backend):
    path = _generated(name, media_dir)
    check_identity(path, backend, codes=cm.first_code(name), rotation=cm.SPECS[name].rotation)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(REAL))
def test_real_file_frame_identity(name, backend):
    # Every 4th pixel compared, 1-fps candidates: seconds per case, not minutes.
    check_identity(_real(name), backend, every=4, dense=REAL[name], fps=1.0)


# ---------------------------------------------------------------------------------------------- what decides
def test_generated_files_have_what_they_exercise(media_dir):
    """Each file really has the property it is there for (else its test would prove nothing)."""
    import av

    def stream_facts(name):
        path = _generated(name, media_dir)
        with av.open(str(path)) as c:
            packets = [p for p in c.demux(c.streams.video[0]) if p.size]
        return path, packets

    path, packets = stream_facts("mpeg4_packed.avi")
    payloads = [bytes(p) for p in packets]
    assert sum(p.count(cm.VOP_START) == 2 for p in payloads) >= 10  # reference + B-VOP in one chunk
    assert sum(len(p) <= 8 for p in payloads) >= 10  # N-VOPs
    assert cm.DIVX_USER_DATA in payloads[0]
    assert any(p.is_keyframe and bytes(p).count(cm.VOP_START) == 2 for p in packets)  # key chunk with a B-frame
    _, packets = stream_facts("mpeg4_unpacked.avi")
    assert all(bytes(p).count(cm.VOP_START) == 1 for p in packets)
    _, packets = stream_facts("h264_editlist.mp4")
    assert sum(p.is_discard for p in packets) == cm.EDIT_CUT
    path, _ = stream_facts("h264_start2s.mp4")
    with av.open(str(path)) as c:
        assert float(c.streams.video[0].start_time * c.streams.video[0].time_base) == pytest.approx(2.0)
    for name in ("h264_vfr.mp4", "h264_editlist.mp4", "h264_rotated.mp4"):
        _, packets = stream_facts(name)
        assert any(p.pts != p.dts for p in packets), name  # B-frames: stored out of display order
    assert scan(str(_generated("hevc.mkv", media_dir))).leading_pictures  # x265's open GOPs (B-frames too)
    assert np.diff(scan(str(_generated("h264_vfr.mp4", media_dir))).timestamps()).std() > 0.05


def test_index_of_the_tricky_files(media_dir):
    for name in ("mpeg4_packed.avi", "mpeg4_unpacked.avi", "h264.avi"):
        assert "B-frames" in (scan(str(_generated(name, media_dir))).in_order or ""), name
    packed = scan(str(_generated("mpeg4_packed.avi", media_dir)))
    np.testing.assert_allclose(packed.timestamps(), np.arange(cm.N) / cm.FPS)
    edit = scan(str(_generated("h264_editlist.mp4", media_dir)))
    assert (edit.num_frames, edit.stored_frames) == (cm.N, cm.N + cm.EDIT_CUT)
    assert edit.in_order is None
    late = scan(str(_generated("h264_start2s.mp4", media_dir)))
    assert late.start == pytest.approx(2.0) and late.timestamps()[0] == 0.0
    for name in ("mjpeg.avi", "msmpeg4v3.avi", "vp9.webm", "h264_vfr.mp4"):
        index = scan(str(_generated(name, media_dir)))
        assert index.in_order is None and not index.leading_pictures, name


def test_auto_is_pyav(media_dir):
    with VideoReader(_generated("h264_start2s.mp4", media_dir)) as reader:
        assert reader.metadata.backend == "pyav" and reader.fallback_reason is None


@pytest.mark.skipif(not HAVE_DECORD, reason="no decord")
def test_how_decord_serves_each_file(media_dir):
    """decord's random access only where it is verified; in order where it is not; PyAV where decord
    miscounts the frames."""
    expect = {  # name: ("random" | "in order" | "pyav", a fragment of the reason)
        "h264_start2s.mp4": ("random", None),
        "h264_vfr.mp4": ("random", None),
        "vp9.webm": ("random", None),
        "mjpeg.avi": ("random", None),
        "msmpeg4v3.avi": ("random", None),
        "h264_rotated.mp4": ("random", None),
        "mpeg4_packed.avi": ("in order", "mpeg4"),
        "mpeg4_unpacked.avi": ("in order", "mpeg4"),
        "hevc.mkv": ("in order", "open GOP"),
        "h264_editlist.mp4": ("pyav", "edit list"),
        "h264.avi": ("in order", "AVI keeps no presentation times"),
    }
    for name, (mode, reason) in expect.items():
        with VideoReader(_generated(name, media_dir), backend="decord") as reader:
            reader.get_frames([1, 0])  # the lazy spot check runs before the first read
            used = "pyav" if reader._decord is None else ("in order" if reader._sequential else "random")
            assert used == mode, name
            assert reader.metadata.backend == ("pyav" if mode == "pyav" else "decord"), name
            if reason is None:
                assert reader.fallback_reason is None, name
            else:
                assert reason in reader.fallback_reason, name


# ---------------------------------------------------------------------------------------------- rotation
@pytest.mark.parametrize("backend", BACKENDS)
def test_rotated_video_comes_out_as_displayed(media_dir, backend):
    path = _generated("h264_rotated.mp4", media_dir)
    with VideoReader(path, backend=backend) as reader:
        meta = reader.metadata
        assert (meta.width, meta.height, meta.rotation) == (cm.H, cm.W, 90)
        full = reader.get_frames([7, 30])
        small = reader.get_frames([7, 30], max_side=80)
    assert full.frames.shape[1:] == (cm.W, cm.H, 3) and small.frames.shape[1:] == (80, 48, 3)
    for frames in (full.frames, small.frames):
        upright = np.rot90(frames, k=1, axes=(1, 2))  # turn back counter-clockwise: the drawn picture
        assert [read_code(f) for f in upright] == [7, 30]


@pytest.mark.skipif(not HAVE_DECORD, reason="no decord")
def test_backends_agree_on_the_rotated_pixels(media_dir):
    path = _generated("h264_rotated.mp4", media_dir)
    with VideoReader(path, backend="pyav") as p, VideoReader(path, backend="decord") as d:
        a = p.get_frames([3, 40]).frames.astype(np.int16)
        b = d.get_frames([3, 40]).frames.astype(np.int16)
        assert a.shape == b.shape and np.abs(a - b).mean() < 1.0
        # Downscaled, the pictures went through different scalers (PyAV's from YUV, decord's from RGB after
        # turning): the same picture, not the same pixels.
        a = p.get_frames([3, 40], max_side=80).frames
        b = d.get_frames([3, 40], max_side=80).frames
        assert a.shape == b.shape and drawn(a, 90) == drawn(b, 90) == [3, 40]
        assert np.abs(a.astype(np.int16) - b).mean() < 6.0


def test_set_mp4_rotation_all_quarter_turns(media_dir, tmp_path):
    """The display matrix is read for every quarter turn, and frames come out turned that way."""
    import shutil

    src = _generated("h264_start2s.mp4", media_dir)
    for degrees in (90, 180, 270):
        path = tmp_path / f"r{degrees}.mp4"
        shutil.copy(src, path)
        cm.set_mp4_rotation(path, degrees)
        with VideoReader(path, backend="pyav") as reader:
            assert reader.metadata.rotation == degrees
            frame = reader.get_frames([9]).frames[0]
        assert read_code(np.rot90(frame, k=degrees // 90)) == 9
