"""Bad input to the video reader: a VideoError naming the file and the cause, never a backend traceback;
and damaged streams: the frames that decode, the others counted, a warning, and never a wrong frame."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import warnings
from pathlib import Path

import av
import numpy as np
import pytest

from clamr_frames.errors import VideoError
from clamr_frames.video import VideoReader, probe
from clamr_frames.video.writer import _write_audio
from testkit.media import corrupt_packets, make_video, read_codes, tone, truncate

HAVE_DECORD = importlib.util.find_spec("decord") is not None
ALL_BACKENDS = ["auto", "pyav", pytest.param("decord", marks=pytest.mark.skipif(not HAVE_DECORD, reason="no decord"))]
N, FPS = 60, 10.0
ROOT = Path(__file__).resolve().parents[2]


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
    reason = _reason(e, path)
    assert "incomplete" in reason and "'moov'" in reason and "cannot open" in reason


@pytest.mark.parametrize("into", [0.1, 0.6])
def test_mp4_cut_inside_its_index(media_dir, into):
    """A "fast start" MP4 keeps its index first: cut inside it, FFmpeg finds no stream (or cannot open it)."""
    full = media_dir / "faststart.mp4"
    if not full.exists():
        with av.open(str(full), "w", options={"movflags": "faststart"}) as c:
            stream = c.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for i in range(N):
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, np.uint8), "rgb24")):
                    c.mux(packet)
            for packet in stream.encode():
                c.mux(packet)
    data = full.read_bytes()
    at = data.find(b"moov") - 4
    size = int.from_bytes(data[at : at + 4], "big")
    path = media_dir / f"faststart_cut{into}.mp4"
    path.write_bytes(data[: at + int(size * into)])
    with pytest.raises(VideoError) as e:
        VideoReader(path)
    reason = _reason(e, path)
    assert "incomplete" in reason and "'moov'" in reason and "no video stream (no audio" not in reason


@pytest.mark.slow
@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("ext", ["mkv", "webm", "avi"])
def test_cut_off_file_announces_it_and_reads_what_is_there(media_dir, backend, ext):
    full = media_dir / f"whole.{ext}"
    if not full.exists():
        make_video(full, N, FPS, gop=10, bframes=2 if ext == "avi" else None)
    path = truncate(full, 0.5, media_dir / f"half.{ext}")
    with pytest.warns(RuntimeWarning, match="the file is incomplete: cut off at byte") as record:
        reader = VideoReader(path, backend=backend)
    assert str(path) in str(record[0].message) and "before the cut" in str(record[0].message)
    with reader:
        meta = reader.metadata
        assert meta.incomplete is not None and "incomplete" in meta.incomplete
        assert 10 <= meta.num_frames < N
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the last frames before the cut may be cut themselves
            got = reader.get_frames(np.arange(meta.num_frames))
    assert len(got) >= meta.num_frames - 3  # at most a B-frame group at the cut is left out
    assert read_codes(got.frames) == got.indices.tolist()  # never a wrong frame


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The installed command line, run on this source tree, with its raw stderr (FFmpeg writes there)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "clamr_frames.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["auto", pytest.param("decord", marks=pytest.mark.skipif(not HAVE_DECORD, reason="no decord"))])
def test_cli_inspect_says_a_cut_mkv_is_incomplete(media_dir, backend):
    full = media_dir / "whole_cli.mkv"
    if not full.exists():
        make_video(full, N, FPS)
    path = truncate(full, 0.5, media_dir / "half_cli.mkv")
    r = _cli("inspect", str(path), "--backend", backend)
    assert r.returncode == 0, r.stderr
    assert "frames" in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "incomplete" in lines[0] and str(path) in lines[0]
    assert "@ 0x" not in r.stderr + r.stdout  # no raw FFmpeg log line ("[matroska,webm @ 0x...] Read error")


@pytest.mark.slow
def test_cli_inspect_says_a_cut_mp4_is_incomplete(media_dir):
    full = make_video(media_dir / "whole_cli.mp4", N, FPS)
    path = truncate(full, 0.6, media_dir / "cut_cli.mp4")
    r = _cli("inspect", str(path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "incomplete" in lines[0] and "Traceback" not in r.stderr
    assert "@ 0x" not in r.stderr + r.stdout


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


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_damage_in_a_file_read_in_order_never_gives_a_wrong_frame(media_dir, backend):
    """A DivX-packed AVI can only be read in order, counting frames: after damage the count cannot be trusted,
    so the frames before it come back and the rest are reported as skipped, never shifted onto wrong indices."""
    from testkit import conformance_media as cm

    good = cm.write("mpeg4_packed.avi", media_dir)
    path = corrupt_packets(good, 25, 27, out=media_dir / "damaged_packed.avi")
    with VideoReader(path, backend=backend) as reader:
        n = reader.metadata.num_frames
        with pytest.warns(RuntimeWarning, match="could not be decoded"):
            got = reader.get_frames(np.arange(n))
        assert reader.skipped_frames == n - len(got) > 0
    assert len(got) >= 20
    assert read_codes(got.frames) == got.indices.tolist()
