"""The video reader on generated videos whose frames carry their own index (testkit/media.py).

Every frame check reads the code drawn into the frame, so "frame i" is checked to really be frame i, on:
constant-frame-rate H.264 MP4 (with and without B-frames), variable-frame-rate MKV and MP4, MPEG-4 Part 2 AVI
with B-frames (where decord's random access is wrong), and VP9 WebM; with both backends.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
import pytest

from clamr_frames.errors import InputError, VideoError
from clamr_frames.video import FrameChunk, VideoMetadata, VideoReader, probe
from clamr_frames.video.reader import nearest_frames, sample_times
from testkit.media import make_video, read_codes

FPS = 10.0
N = 50  # 5 s at 10 fps
W, H = 160, 96
SR = 16000

# Not imported here: decord must load after PyAV (see clamr_frames/video/_decord_backend.py).
HAVE_DECORD = importlib.util.find_spec("decord") is not None  # decord has no wheels off x86_64

BACKENDS = ["pyav", pytest.param("decord", marks=pytest.mark.skipif(not HAVE_DECORD, reason="decord missing"))]


@dataclass(frozen=True)
class Clip:
    path: str
    timestamps: np.ndarray  # the time each frame was written at
    codec: str
    trusted_random_access: bool  # decord may seek in it


def _vfr_times(n: int) -> np.ndarray:
    gaps = np.random.default_rng(7).uniform(0.03, 0.35, n - 1)
    return np.round(np.concatenate([[0.0], np.cumsum(gaps)]), 3)  # whole milliseconds, as the writer stores them


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Clip]:
    d = tmp_path_factory.mktemp("videos")
    cfr = np.arange(N) / FPS
    vfr = _vfr_times(N)
    out = {}
    specs = {
        "cfr_mp4": ("cfr.mp4", {}, cfr, "h264", True),
        "bframes_mp4": ("bframes.mp4", {"bframes": 2, "gop": 12}, cfr, "h264", True),
        "vfr_mkv": ("vfr.mkv", {"timestamps": vfr, "gop": 12}, vfr, "h264", True),
        "vfr_mp4": ("vfr.mp4", {"timestamps": vfr, "bframes": 2, "gop": 12}, vfr, "h264", True),
        "mpeg4_avi": ("bframes.avi", {"bframes": 2, "gop": 12}, cfr, "mpeg4", False),
        "vp9_webm": ("vp9.webm", {"gop": 12}, cfr, "vp9", True),
    }
    for key, (name, kw, ts, codec, trusted) in specs.items():
        path = make_video(d / name, N, FPS, width=W, height=H, **kw)
        out[key] = Clip(str(path), ts, codec, trusted)
    return out


@pytest.fixture(scope="module")
def with_audio(tmp_path_factory) -> dict[str, str]:
    """Videos whose soundtrack is silent except a 440 Hz burst during [1.0, 1.5) s."""
    d = tmp_path_factory.mktemp("audio")
    t = np.arange(int(N / FPS * SR)) / SR
    burst = np.where((t >= 1.0) & (t < 1.5), 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
    return {ext: str(make_video(d / f"talk.{ext}", N, FPS, width=W, height=H, audio=burst)) for ext in ("mp4", "mkv")}


CLIPS = ["cfr_mp4", "bframes_mp4", "vfr_mkv", "vfr_mp4", "mpeg4_avi", "vp9_webm"]


def _all_frames(reader: VideoReader, **kw) -> FrameChunk:
    chunks = list(reader.iter_candidates(num_frames=10**9, **kw))
    return FrameChunk(
        np.concatenate([c.indices for c in chunks]),
        np.concatenate([c.timestamps for c in chunks]),
        np.concatenate([c.frames for c in chunks]),
    )


# ---------------------------------------------------------------------------------------------- metadata
@pytest.mark.parametrize("key", CLIPS)
def test_metadata(clips, key):
    clip = clips[key]
    meta = probe(clip.path, backend="pyav")
    assert isinstance(meta, VideoMetadata)
    assert (meta.num_frames, meta.width, meta.height, meta.codec) == (N, W, H, clip.codec)
    assert meta.has_audio is False and meta.backend == "pyav" and meta.path == clip.path
    last = clip.timestamps[-1]
    if key.startswith("vfr"):
        assert last < meta.duration <= last + 0.5
    else:
        assert meta.duration == pytest.approx(N / FPS, abs=1e-6)
        assert meta.fps == pytest.approx(FPS, rel=1e-6)
    assert meta.fps == pytest.approx(N / meta.duration)


def test_metadata_audio_and_default_backend(clips, with_audio):
    meta = probe(with_audio["mp4"])
    assert meta.has_audio is True and meta.num_frames == N
    assert meta.backend == "pyav"  # auto is PyAV (see the reader's docstring and benchmarks/conformance.py)
    if HAVE_DECORD:
        assert probe(with_audio["mp4"], backend="decord").backend == "decord"


# ---------------------------------------------------------------------------------------------- frames
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("key", CLIPS)
def test_every_frame_is_the_frame_asked_for(clips, key, backend):
    clip = clips[key]
    with VideoReader(clip.path, backend=backend) as reader:
        got = _all_frames(reader, chunk_size=16)
        assert reader.metadata.backend == backend
        assert reader.skipped_frames == 0
    assert got.indices.tolist() == list(range(N))
    assert read_codes(got.frames) == list(range(N))
    assert got.frames.dtype == np.uint8 and got.frames.shape == (N, H, W, 3)
    np.testing.assert_allclose(got.timestamps, clip.timestamps, atol=1e-3)


@pytest.mark.skipif(not HAVE_DECORD, reason="decord missing")
@pytest.mark.parametrize("key", CLIPS)
def test_backends_agree(clips, key):
    clip = clips[key]
    with VideoReader(clip.path, backend="pyav") as a, VideoReader(clip.path, backend="decord") as b:
        np.testing.assert_array_equal(a.frame_timestamps(), b.frame_timestamps())
        assert a.metadata == VideoMetadata(**{**b.metadata.__dict__, "backend": "pyav"})
        for kw in ({"fps": 1.0}, {"fps": 3.0}, {"num_frames": 7}):
            ia, ta = a.candidate_indices(**kw)
            ib, tb = b.candidate_indices(**kw)
            np.testing.assert_array_equal(ia, ib)
            np.testing.assert_array_equal(ta, tb)
        fa = np.concatenate([c.frames for c in a.iter_candidates(fps=3.0)]).astype(np.int16)
        fb = np.concatenate([c.frames for c in b.iter_candidates(fps=3.0)]).astype(np.int16)
    assert fa.shape == fb.shape
    assert np.abs(fa - fb).mean() < 1.0  # same FFmpeg decoders underneath: the same pixels


@pytest.mark.parametrize("backend", BACKENDS)
def test_get_frames_keeps_the_order_asked(clips, backend):
    with VideoReader(clips["bframes_mp4"].path, backend=backend) as reader:
        want = [37, 2, 37, 0, 49, 13, 12]
        got = reader.get_frames(want)
        assert got.indices.tolist() == want
        assert read_codes(got.frames) == want
        np.testing.assert_allclose(got.timestamps, np.asarray(want) / FPS, atol=1e-6)
        empty = reader.get_frames([])
        assert empty.frames.shape == (0, H, W, 3) and empty.indices.dtype == np.int64
        with pytest.raises(InputError, match="outside"):
            reader.get_frames([0, N])


# ---------------------------------------------------------------------------------------------- sampling
def test_fps_sampling_constant_rate(clips):
    with VideoReader(clips["cfr_mp4"].path, backend="pyav") as reader:
        idx, ts = reader.candidate_indices(fps=1.0)
        assert idx.tolist() == [0, 10, 20, 30, 40]
        np.testing.assert_allclose(ts, [0, 1, 2, 3, 4], atol=1e-9)
        assert idx.dtype == np.int64 and ts.dtype == np.float64
        assert reader.candidate_indices(fps=4.0)[0].tolist() == [round(k * 2.5 - 1e-9) for k in range(20)]
        # Sampling faster than the video: every frame once.
        assert reader.candidate_indices(fps=25.0)[0].tolist() == list(range(N))
        chunks = list(reader.iter_candidates(fps=1.0))
        assert [read_codes(c.frames) for c in chunks] == [[0, 10, 20, 30, 40]]


@pytest.mark.parametrize("key", ["vfr_mkv", "vfr_mp4"])
def test_fps_sampling_follows_container_timestamps(clips, key):
    clip = clips[key]
    with VideoReader(clip.path, backend="pyav") as reader:
        np.testing.assert_allclose(reader.frame_timestamps(), clip.timestamps, atol=1e-3)
        for fps in (0.5, 1.0, 2.0):
            idx, ts = reader.candidate_indices(fps=fps)
            times = np.arange(0, reader.metadata.duration, 1 / fps)
            brute = sorted({int(np.argmin(np.abs(clip.timestamps - t))) for t in times})
            assert idx.tolist() == brute
            np.testing.assert_allclose(ts, clip.timestamps[idx], atol=1e-3)
            frames = np.concatenate([c.frames for c in reader.iter_candidates(fps=fps)])
            assert read_codes(frames) == brute


def test_num_frames_is_lmms_eval_uniform_sampling(clips):
    with VideoReader(clips["cfr_mp4"].path, backend="pyav") as reader:
        total = reader.metadata.num_frames
        if HAVE_DECORD:
            import decord

            assert total == len(decord.VideoReader(clips["cfr_mp4"].path))  # lmms-eval's total_frame_num
        for n in (1, 2, 8, 32):
            idx, _ = reader.candidate_indices(num_frames=n)
            np.testing.assert_array_equal(idx, np.linspace(0, total - 1, n, dtype=int))
        assert reader.candidate_indices(num_frames=total)[0].tolist() == list(range(total))
        assert reader.candidate_indices(num_frames=10 * total)[0].tolist() == list(range(total))
        # num_frames wins over fps
        assert reader.candidate_indices(fps=1.0, num_frames=3)[0].tolist() == [0, 24, 49]


def test_sampling_helpers():
    assert sample_times(3.0, 1.0).tolist() == [0.0, 1.0, 2.0]  # strictly below the duration
    assert sample_times(0.01, 1.0).tolist() == [0.0]
    ts = np.array([0.0, 0.5, 1.0, 1.5])
    assert nearest_frames(ts, np.array([0.25, 0.74, 0.76])).tolist() == [0, 1, 2]  # ties go to the earlier


# ---------------------------------------------------------------------------------------------- size, chunks
@pytest.mark.parametrize("backend", BACKENDS)
def test_max_side_downscales_keeping_aspect(clips, backend):
    with VideoReader(clips["bframes_mp4"].path, backend=backend) as reader:
        small = list(reader.iter_candidates(fps=2.0, max_side=80))
        frames = np.concatenate([c.frames for c in small])
        assert frames.shape[1:] == (48, 80, 3)
        assert read_codes(frames) == np.concatenate([c.indices for c in small]).tolist()
        odd = reader.get_frames([3, 30], max_side=57)
        assert odd.frames.shape[1:] == (34, 57, 3)  # 96 * 57 / 160 = 34.2: sizes need not be even
        assert read_codes(odd.frames) == [3, 30]
        same = reader.get_frames([5], max_side=1000)
        assert same.frames.shape[1:] == (H, W, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunks_are_bounded_and_cover_the_candidates(clips, backend):
    with VideoReader(clips["vfr_mp4"].path, backend=backend) as reader:
        idx, ts = reader.candidate_indices(fps=4.0)
        chunks = list(reader.iter_candidates(fps=4.0, chunk_size=3))
    assert all(1 <= len(c) <= 3 for c in chunks)
    assert all(len(c.indices) == len(c.timestamps) == len(c.frames) for c in chunks)
    assert np.concatenate([c.indices for c in chunks]).tolist() == idx.tolist()
    np.testing.assert_array_equal(np.concatenate([c.timestamps for c in chunks]), ts)
    assert read_codes(np.concatenate([c.frames for c in chunks])) == idx.tolist()


def test_bad_arguments(clips):
    path = clips["cfr_mp4"].path
    with pytest.raises(InputError, match="backend"):
        VideoReader(path, backend="opencv")  # type: ignore[arg-type]
    with VideoReader(path, backend="pyav") as reader:
        for kw in ({"fps": 0}, {"fps": -1.0}, {"fps": float("nan")}, {"num_frames": 0}, {"fps": None}):
            with pytest.raises(InputError):
                reader.candidate_indices(**kw)
        with pytest.raises(InputError):
            reader.iter_candidates(chunk_size=0)
        with pytest.raises(InputError):
            reader.get_frames([1], max_side=0)
    with pytest.raises(VideoError, match="closed"):
        reader.get_frames([1])


# ---------------------------------------------------------------------------------------------- decord checks
@pytest.mark.skipif(not HAVE_DECORD, reason="decord missing")
def test_mpeg4_avi_never_reaches_decord_random_access(clips):
    path = clips["mpeg4_avi"].path
    with VideoReader(path) as auto:
        assert auto.metadata.backend == "pyav" and auto.fallback_reason is None
        assert read_codes(auto.get_frames([40, 3, 27]).frames) == [40, 3, 27]
    with VideoReader(path, backend="decord") as forced:  # decord, but in order: no seeking
        assert forced.metadata.backend == "decord" and "mpeg4" in forced.fallback_reason
        got = forced.get_frames([40, 3, 27, 28])
        assert read_codes(got.frames) == [40, 3, 27, 28]


@pytest.mark.skipif(not HAVE_DECORD, reason="decord missing")
def test_each_decord_check_catches_the_avi_on_its_own(clips, monkeypatch):
    """Without the codec rule, the in-order rule (AVI with B-frames) rejects the AVI, and so do the open-GOP rule
    and the timestamp check on their own; without all of them, the spot check does whenever decord's random
    access is in fact wrong on it (decord 0.6.0: it is)."""
    from dataclasses import replace

    import decord

    from clamr_frames.video import _decord_backend as db
    from clamr_frames.video._stream_index import scan

    path = clips["mpeg4_avi"].path
    monkeypatch.setattr(db, "UNRELIABLE_SEEK_CODECS", frozenset())
    index = scan(path)
    backend = db.DecordBackend(path, index)
    assert backend.unreliable_reason is not None and "decoding order" in backend.unreliable_reason
    backend = db.DecordBackend(path, replace(index, in_order=None))
    assert backend.unreliable_reason is not None and "open GOP" in backend.unreliable_reason
    backend = db.DecordBackend(path, replace(index, in_order=None, leading_pictures=False))
    assert backend.unreliable_reason is not None and "timestamps" in backend.unreliable_reason

    backend.unreliable_reason = None
    vr = decord.VideoReader(path)
    asked = [45, 3, 30, 17]
    raw_wrong = read_codes(vr.get_batch(asked).asnumpy()) != asked
    reason = backend.spot_check()
    assert (reason is not None) == raw_wrong
    if raw_wrong:
        assert "another frame" in reason


@pytest.mark.skipif(not HAVE_DECORD, reason="decord missing")
@pytest.mark.parametrize("key", ["cfr_mp4", "bframes_mp4", "vfr_mkv", "vp9_webm"])
def test_decord_is_trusted_where_it_is_right(clips, key):
    from clamr_frames.video import _decord_backend as db
    from clamr_frames.video._stream_index import scan

    backend = db.DecordBackend(clips[key].path, scan(clips[key].path))
    assert backend.unreliable_reason is None
    assert backend.spot_check() is None


# ---------------------------------------------------------------------------------------------- audio
@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_read_audio_is_aligned_with_the_video(with_audio, ext):
    with VideoReader(with_audio[ext], backend="pyav") as reader:
        clip = reader.read_audio(0.5, 2.0)
        assert clip.dtype == np.float32 and clip.ndim == 1 and len(clip) == int(1.5 * SR)
        loud = np.flatnonzero(np.abs(clip) > 0.05)
        assert loud[0] / SR == pytest.approx(0.5, abs=0.01)  # the burst starts at 1.0 s
        assert loud[-1] / SR == pytest.approx(1.0, abs=0.01)  # and ends at 1.5 s
        assert len(reader.read_audio(1.0, 1.1, sample_rate=8000)) == 800
        tail = reader.read_audio(4.5, 9.0)  # clipped to the soundtrack
        assert 0 < len(tail) < int(4.5 * SR)
        early = reader.read_audio(-0.5, 1.25)  # silence before the soundtrack begins, then the burst on time
        assert len(early) == int(1.75 * SR) and not np.any(np.abs(early[: SR // 2]) > 0.05)
        assert np.flatnonzero(np.abs(early) > 0.05)[0] / SR == pytest.approx(1.5, abs=0.01)
        windows = [reader.read_audio(t, t + 0.25) for t in (1.25, 0.0, 1.25)]  # reused container, any order
        np.testing.assert_array_equal(windows[0], windows[2])
        assert not np.any(np.abs(windows[1]) > 0.05) and np.all(np.abs(windows[0]).max() > 0.4)


def test_read_audio_without_audio_stream(clips):
    with VideoReader(clips["cfr_mp4"].path, backend="pyav") as reader:
        assert reader.read_audio(0.0, 1.0) is None
        with pytest.raises(InputError):
            reader.read_audio(2.0, 1.0)
