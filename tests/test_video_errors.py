"""Bad input to the video reader: a VideoError naming the file and the cause, never a backend traceback;
and damaged streams: the frames that decode, the others counted, a warning, and never a wrong frame."""

from __future__ import annotations

import importlib.util
import warnings

import av
import numpy as np
import pytest

from clamr_frames.errors import VideoError
from clamr_frames.video import VideoReader, probe
from clamr_frames.video.writer import _write_audio
from media import corrupt_packets, make_video, read_codes, tone, truncate

HAVE_DECORD = importlib.util.find_spec("decord") is not None
ALL_BACKENDS = ["auto", "pyav", pytest.param("decord", marks=pytest.mark.skipif(not HAVE_DECORD, reason="no decord"))]
N, FPS = 60, 10.0


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bad")


@pytest.fixture(scope="module")
def damaged(media_dir):
    """An H.264 MP4 with a key frame every 5 frames whose packets 22..27 are overwritten with zeros."""
    good = make_video(media_dir / "good.mp4", N, FPS, gop=5)
    return corrupt_packets(good, 22, 27, out=media_dir / "damaged.mp4")


def _reason(exc: pytest.ExceptionInfo, path) -> str:
    assert isinstance(exc.value, VideoError)
    assert exc.value.path == str(path) and str(path) in str(exc.value)
    return exc.value.reason


# ---------------------------------------------------------------------------------------------- unreadable files
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_missing_file(media_dir, backend):
    path = media_dir / "nope.mp4"
    with pytest.raises(VideoError) as e:
        VideoReader(path, backend=backend)
    assert "no such file" in _reason(e, path)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_empty_file(media_dir, backend):
    path = media_dir / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoError) as e:
        VideoReader(path, backend=backend)
    assert "empty" in _reason(e, path)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_text_file_named_mp4(media_dir, backend):
    path = media_dir / "notes.mp4"
    path.write_text("these are my meeting notes, not a video\n" * 50)
    with pytest.raises(VideoError) as e:
        VideoReader(path, backend=backend)
    assert "cannot open" in _reason(e, path)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_truncated_mp4(media_dir, backend):
    # The MP4 index (moov) is written last: a download cut off loses it, and with it every frame's place.
    full = make_video(media_dir / "full.mp4", N, FPS)
    path = truncate(full, 0.8, media_dir / "cut.mp4")
    with pytest.raises(VideoError) as e:
        VideoReader(path, backend=backend)
    assert "cannot open" in _reason(e, path)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_audio_only_file(media_dir, backend):
    path = media_dir / "speech.m4a"
    with av.open(str(path), "w") as c:
        stream = c.add_stream("aac", rate=16000)
        stream.layout = "mono"
        _write_audio(c, stream, tone(1.0), 16000)
    with pytest.raises(VideoError) as e:
        VideoReader(path, backend=backend)
    assert "no video stream" in _reason(e, path) and "audio-only" in _reason(e, path)


def test_directory(media_dir):
    with pytest.raises(VideoError) as e:
        probe(media_dir)
    assert "directory" in _reason(e, media_dir)


def test_errors_do_not_chain_backend_tracebacks(media_dir):
    path = media_dir / "junk.mkv"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(VideoError) as e:
        VideoReader(path)
    assert e.value.__cause__ is None and e.value.__suppress_context__


# ---------------------------------------------------------------------------------------------- damaged streams
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_corrupted_middle_returns_the_frames_that_decode(damaged, backend):
    with VideoReader(damaged, backend=backend) as reader:
        assert reader.metadata.num_frames == N  # the container still lists every frame
        with pytest.warns(RuntimeWarning, match=r"8 of 60 requested frames could not be decoded"):
            chunks = list(reader.iter_candidates(num_frames=N, chunk_size=16))
        assert reader.skipped_frames == 8
    got = np.concatenate([c.indices for c in chunks])
    frames = np.concatenate([c.frames for c in chunks])
    # 22..27 are gone; 28 and 29 were predicted from them (the next key frame is 30): dropped, not shown broken.
    assert got.tolist() == [i for i in range(N) if not 22 <= i <= 29]
    assert read_codes(frames) == got.tolist()


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_corrupted_middle_with_get_frames(damaged, backend):
    with VideoReader(damaged, backend=backend) as reader:
        with pytest.warns(RuntimeWarning, match="1 of 3"):
            got = reader.get_frames([40, 25, 3])
        assert got.indices.tolist() == [40, 3] and read_codes(got.frames) == [40, 3]
        assert reader.skipped_frames == 1
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a clean read warns about nothing
            assert reader.get_frames([41]).indices.tolist() == [41]
        assert reader.skipped_frames == 0
        with pytest.warns(RuntimeWarning), pytest.raises(VideoError) as e:
            reader.get_frames([24, 26])
        assert "no frame could be decoded" in _reason(e, damaged)


def test_no_frame_decodes(media_dir):
    good = make_video(media_dir / "doomed.mp4", 20, FPS)
    path = corrupt_packets(good, 0, 19, out=media_dir / "doomed_all.mp4")
    with VideoReader(path) as reader:  # the container is intact: it opens
        with pytest.warns(RuntimeWarning), pytest.raises(VideoError) as e:
            list(reader.iter_candidates(fps=2.0))
    assert "no frame could be decoded" in _reason(e, path)


def test_frames_lost_in_the_container_keep_their_timestamps(media_dir):
    """WebM blocks overwritten with zeros vanish at demuxing: the frames left keep their own times."""
    good = make_video(media_dir / "good.webm", N, FPS, gop=5)
    path = corrupt_packets(good, 22, 27, out=media_dir / "damaged.webm")
    for backend in ("pyav", "auto"):
        with VideoReader(path, backend=backend) as reader:
            n = reader.metadata.num_frames
            assert 40 <= n < N
            chunks = list(reader.iter_candidates(num_frames=n))
        ts = np.concatenate([c.timestamps for c in chunks])
        codes = read_codes(np.concatenate([c.frames for c in chunks]))
        assert codes == np.round(ts * FPS).astype(int).tolist()
