"""Decode the candidate frames of a video, with timestamps from the container, in bounded-memory chunks.

Candidates are either every ``1 / fps`` seconds (the frame nearest to 0, 1/fps, 2/fps, ... < duration, found
from the container's presentation timestamps, so variable-frame-rate files are sampled at the right times) or
``num_frames`` evenly spaced frames exactly as lmms-eval's video tasks take them
(``np.linspace(0, total_frames - 1, N, dtype=int)``).

Frame identity. Frame ``i`` is always the frame an in-order decode of the whole stream yields at position ``i``,
whatever the backend and however the frames are asked for (sparse picks, dense, chunked streaming); this is
checked on every codec and container real videos come in (tests/test_video_conformance.py). Every backend
works from one PyAV demux pass over the file (the container index): it gives each frame its index and
timestamp, and says whether the file can be sought at all (:mod:`clamr_frames.video._stream_index`).

Backends. ``"pyav"`` decodes with PyAV's bundled FFmpeg in one forward pass, seeking to key frames only across
large gaps and converting to RGB only the frames asked for; it tells frames apart by their timestamps, and
where a file's timestamps cannot (AVI with B-frames, e.g. DivX packed bitstreams) it decodes from the start in
order instead of seeking. ``"decord"`` reads with ``decord.VideoReader`` (as lmms-eval and the Qwen tooling
do): by random access (``get_batch``) where that is verified on the file, else in order (``next``), and
where decord does not even count the frames the container shows (an edit list that hides frames) the file is
read with PyAV; :attr:`VideoReader.fallback_reason` says why. ``"auto"`` (the default) is PyAV: right by
construction, with no verification pass to pay, and in the conformance benchmark (benchmarks/RESULTS.md) it
spent less CPU time per frame than our decord backend on every file, and less than or about as much as
lmms-eval's ``get_batch``.

Colours. Frames are RGB converted with the YUV matrix and range the stream declares (BT.709 on most HD and
phone video; BT.601, FFmpeg's default, where a stream declares none), by both backends alike: decord's scale
filter reads the declaration, and the PyAV backend passes it to swscale explicitly (before av 17, PyAV would
convert everything as BT.601).

Seeking. A decoder started at a later key frame misses what encoders write only once, in the stream's first
frame (x264's version, which FFmpeg needs to decode old x264 4:4:4 streams right): both backends decode the
first packet once before they seek (:func:`clamr_frames.video._priming.prime_decoder`).

Rotation. Frames come out as a player shows them: a display matrix (a phone video held upright) turns them, in
steps of 90 degrees, with either backend, and ``width``/``height`` are the displayed size.

Bad input raises :class:`~clamr_frames.errors.VideoError` naming the file and the cause: a missing or empty
file, a file FFmpeg cannot open (not a video, or an MP4 cut off before its index: "the file is incomplete"),
a file without a video stream (audio only), a stream without frames. A file that is cut off but still holds
frames (a Matroska or AVI download stopped part way) opens with a ``RuntimeWarning`` saying that the file is
incomplete, and :attr:`VideoMetadata.incomplete` says where it ends; its frames before the cut are read.
FFmpeg's own log lines are never printed.

Damaged streams. A read returns the frames that decode and leaves out the ones that do not: a packet that
fails to decode, and every frame after it up to the next key frame (they were predicted from the lost data
and would come out visibly wrong). :attr:`VideoReader.skipped_frames` holds how many frames the last read
left out, and the read emits a ``warnings.warn`` saying how many. If no requested frame decodes at all, the
read raises :class:`~clamr_frames.errors.VideoError`. Chunks identify frames by their native index, so a
caller matches frames to candidates through ``FrameChunk.indices``, never by position. When decord fails part
way through a read (it raises on damaged packets), the rest of that read and the reader's later reads go
through PyAV, which can skip single frames. A container that keeps no timestamps (AVI counts frames) cannot
say which frames a damaged stretch held: after one, later frames' times can be off, as in any player.

Import order: decord loads its own FFmpeg and libvpx into the process's global symbol scope. The decord
backend imports PyAV first; code that imports decord itself before PyAV breaks PyAV's VP9 encoder (writing
``.webm``) for the rest of the process.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from clamr_frames.errors import InputError, VideoError, first_line

log = logging.getLogger(__name__)

Backend = Literal["auto", "decord", "pyav"]


@dataclass(frozen=True)
class VideoMetadata:
    """What a video is, from its container.

    Attributes:
        path: the file.
        duration: seconds from the start of the first frame to the end of the last one.
        fps: average frame rate (``num_frames / duration``).
        num_frames: frames in the video stream (what ``len(decord.VideoReader(path))`` counts).
        width, height: frame size in pixels.
        has_audio: the file has an audio stream.
        codec: FFmpeg's name of the video codec (``h264``, ``mpeg4``, ``vp9``, ...).
        backend: the backend decoding frames (``decord`` or ``pyav``).
        rotation: degrees the decoded pictures are turned clockwise for display (0, 90, 180, 270); ``width``
            and ``height`` are the size after turning.
        incomplete: why the file is incomplete (cut off), or None.
    """

    path: str
    duration: float
    fps: float
    num_frames: int
    width: int
    height: int
    has_audio: bool
    codec: str
    backend: str
    rotation: int = 0
    incomplete: str | None = None


@dataclass(frozen=True)
class FrameChunk:
    """Decoded frames with their native indices and container timestamps.

    Attributes:
        indices: int64 [n] native frame indices (display order).
        timestamps: float64 [n] seconds since the first frame (pts * time_base).
        frames: uint8 [n, H, W, 3] RGB.
    """

    indices: np.ndarray
    timestamps: np.ndarray
    frames: np.ndarray

    def __len__(self) -> int:
        return int(len(self.indices))


class VideoReader:
    """Read candidate frames of one video.

    >>> with VideoReader("tests/data/video/realshort.mp4") as reader:  # a clip of the repository's test set
    ...     chunk = next(reader.iter_candidates(fps=1.0, max_side=160))
    >>> chunk.indices.tolist(), chunk.timestamps.round(3).tolist(), chunk.frames.shape
    ([0, 30], [0.0, 0.999], (2, 120, 160, 3))

    Args:
        path: the video file.
        backend: ``"auto"`` (the reader's choice: PyAV, see the module docstring), ``"pyav"``, or ``"decord"``
            (random access where verified, else in order; PyAV where decord miscounts the frames).

    Attributes:
        skipped_frames: frames the last read (an ``iter_candidates`` pass or a ``get_frames`` call) asked for
            but could not decode.
        fallback_reason: with ``backend="decord"``, why decord is not used, or reads in order, for this file
            (None when its random access is trusted, and with the other backends).

    Warns:
        RuntimeWarning: the file is incomplete (cut off) but holds frames.

    Raises:
        VideoError: the file cannot be read as a video (see the module docstring), or ``backend="decord"`` and
            decord is missing or cannot open it.
        InputError: an unknown backend name.
    """

    def __init__(self, path: str | Path, backend: Backend = "auto"):
        from clamr_frames.video._ffmpeg import file_problem
        from clamr_frames.video._pyav_backend import PyAVBackend
        from clamr_frames.video._stream_index import scan

        if backend not in ("auto", "decord", "pyav"):
            raise InputError(f"unknown video backend {backend!r}: use 'auto', 'decord' or 'pyav'")
        self.path = str(path)
        problem = file_problem(Path(path))
        if problem is not None:
            raise VideoError(self.path, problem)
        self._index = scan(self.path)
        self._pyav = PyAVBackend(self.path, self._index)
        self._decord = None
        self._sequential = False  # decord reads in order (no seeking)
        self._closed = False
        self._audio = None
        self.skipped_frames = 0
        self.fallback_reason: str | None = None  # why decord is not (or no longer) used, if it is not
        if backend == "decord":
            self._open_decord()
        idx = self._index
        width, height = idx.display_size
        self._meta = VideoMetadata(
            path=self.path,
            duration=idx.duration,
            fps=idx.num_frames / idx.duration if idx.duration > 0 else 0.0,
            num_frames=idx.num_frames,
            width=width,
            height=height,
            has_audio=idx.has_audio,
            codec=idx.codec,
            backend="pyav",
            rotation=idx.rotation,
            incomplete=idx.incomplete,
        )
        if idx.incomplete is not None:
            warnings.warn(
                f"{self.path}: {idx.incomplete}; reading the {idx.num_frames} frames ({idx.duration:.2f} s) "
                "before the cut",
                RuntimeWarning,
                stacklevel=2,
            )

    def _open_decord(self) -> None:
        from clamr_frames.video._decord_backend import DecordBackend, DecordUnavailable

        try:
            self._decord = DecordBackend(self.path, self._index)
        except DecordUnavailable as e:
            # PyAV has indexed the file already: say which backend reads it.
            raise VideoError(self.path, f"backend 'decord': {e}; backend 'auto' (PyAV) reads it") from None
        if self._decord.unusable_reason is not None:
            self.fallback_reason = self._decord.unusable_reason
            log.info("%s: reading with PyAV: %s", self.path, self.fallback_reason)
            self._drop_decord()
            return
        reason = self._decord.unreliable_reason
        if reason is not None:
            self._distrust(reason)

    def _distrust(self, reason: str) -> None:
        """decord's random access is not trusted on this file: decord reads it in order."""
        self.fallback_reason = reason
        self._sequential = True
        log.info("%s: decord reads this file in order: %s", self.path, reason)

    def _drop_decord(self) -> None:
        if self._decord is not None:
            self._decord.close()
        self._decord = None

    # ------------------------------------------------------------------ metadata
    @property
    def metadata(self) -> VideoMetadata:
        """The video's :class:`VideoMetadata` (``backend`` is the one decoding now)."""
        return replace(self._meta, backend="decord" if self._decord is not None else "pyav")

    def frame_timestamps(self) -> np.ndarray:
        """float64 [num_frames]: every frame's presentation time in seconds since the first frame."""
        return self._index.timestamps()

    def candidate_indices(
        self, fps: float | None = 1.0, num_frames: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Native indices (int64) and timestamps (float64 seconds) of the candidate frames, in time order.

        With ``num_frames`` (it wins over ``fps``): ``np.linspace(0, total - 1, num_frames, dtype=int)``, or
        every frame when ``num_frames >= total``. Otherwise the frame nearest to each of 0, 1/fps, 2/fps, ...
        below the duration (the earlier one on a tie; a frame nearest to two times counts once).
        """
        ts = self.frame_timestamps()
        n = len(ts)
        if num_frames is not None:
            if int(num_frames) != num_frames or num_frames <= 0:
                raise InputError(f"num_frames must be a positive integer, got {num_frames!r}")
            idx = np.arange(n) if num_frames >= n else np.linspace(0, n - 1, int(num_frames), dtype=int)
            idx = idx.astype(np.int64)
            return idx, ts[idx]
        if fps is None:
            raise InputError("give fps or num_frames")
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise InputError(f"fps must be a positive number, got {fps!r}")
        idx = nearest_frames(ts, sample_times(self._index.duration, float(fps)))
        return idx, ts[idx]

    # ------------------------------------------------------------------ frames
    def iter_candidates(
        self,
        fps: float | None = 1.0,
        num_frames: int | None = None,
        max_side: int | None = None,
        chunk_size: int = 32,
    ) -> Iterator[FrameChunk]:
        """Stream the candidate frames (see :meth:`candidate_indices`) in chunks of up to ``chunk_size``.

        Only one chunk is alive in here at a time, so memory stays bounded on multi-hour videos. Frames that
        do not decode are left out (see the module docstring); match frames by ``chunk.indices``.

        Args:
            max_side: downscale so that the longer side is at most this (aspect kept); None keeps the size.
        """
        if int(chunk_size) != chunk_size or chunk_size <= 0:
            raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        idx, _ = self.candidate_indices(fps=fps, num_frames=num_frames)
        size = self._size(max_side)
        return self._stream(idx, size, int(chunk_size))

    def get_frames(self, indices: Sequence[int] | np.ndarray, max_side: int | None = None) -> FrameChunk:
        """The frames at native ``indices``, in the order asked (repeats allowed), undecodable ones left out.

        Raises:
            InputError: an index outside ``[0, num_frames)``.
            VideoError: none of the requested frames decodes.
        """
        want = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = self._index.num_frames
        if want.size and (want.min() < 0 or want.max() >= n):
            bad = want[(want < 0) | (want >= n)][0]
            raise InputError(f"{self.path}: frame index {int(bad)} is outside [0, {n})")
        size = self._size(max_side)
        ts = self.frame_timestamps()
        if want.size == 0:
            self.skipped_frames = 0
            return FrameChunk(want, ts[want], np.zeros((0, size[1], size[0], 3), dtype=np.uint8))
        unique = np.unique(want)
        got: dict[int, np.ndarray] = {}
        for block_idx, block in self._stream(unique, size, 64, chunked=False):
            got.update(zip(block_idx.tolist(), block))
        keep = np.asarray([i for i in want.tolist() if i in got], dtype=np.int64)
        frames = np.stack([got[i] for i in keep.tolist()])
        return FrameChunk(keep, ts[keep], frames)

    def iter_frames(self, indices: Sequence[int] | np.ndarray, max_side: int | None = None,
                    chunk_size: int = 16) -> Iterator[FrameChunk]:
        """Stream the frames at native ``indices`` (each once, ascending; undecodable ones left out) in chunks of
        up to ``chunk_size``: the reader seeks to a key frame across large gaps, so reading k frames of a long
        video decodes little more than them, and only one chunk is alive in here at a time.

        Raises:
            InputError: an index outside ``[0, num_frames)``.
        """
        want = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1))
        n = self._index.num_frames
        if want.size and (want[0] < 0 or want[-1] >= n):
            bad = want[(want < 0) | (want >= n)][0]
            raise InputError(f"{self.path}: frame index {int(bad)} is outside [0, {n})")
        if int(chunk_size) != chunk_size or chunk_size <= 0:
            raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        return self._stream(want, self._size(max_side), int(chunk_size))

    def _size(self, max_side: int | None) -> tuple[int, int]:
        """(width, height) of frames as displayed, after a downscale to ``max_side`` on the longer side."""
        w, h = self._index.display_size
        if max_side is None:
            return w, h
        if int(max_side) != max_side or max_side <= 0:
            raise InputError(f"max_side must be a positive integer, got {max_side!r}")
        if max(w, h) <= max_side:
            return w, h
        s = max_side / max(w, h)
        return max(1, round(w * s)), max(1, round(h * s))

    def _stream(self, wanted: np.ndarray, size: tuple[int, int], chunk_size: int, *, chunked: bool = True):
        """Generator over one read: FrameChunks (or raw ``(indices, frames)`` blocks when not ``chunked``)."""
        from clamr_frames.video._read import FrameRead, ReadStats

        self._check_open()
        read = FrameRead(wanted, size, chunk_size, ReadStats(requested=len(wanted)))
        stats = read.stats
        self.skipped_frames = 0
        ts = self.frame_timestamps()
        completed = False
        try:
            for block_idx, frames in self._blocks(read):
                self.skipped_frames = stats.skipped
                yield FrameChunk(block_idx, ts[block_idx], frames) if chunked else (block_idx, frames)
            completed = True
        finally:
            self.skipped_frames = stats.skipped
            if stats.skipped:
                warnings.warn(
                    f"{self.path}: {stats.skipped} of {stats.requested} requested frames could not be decoded "
                    "and were skipped",
                    RuntimeWarning,
                    stacklevel=3,
                )
        if completed and stats.requested and not stats.decoded:
            raise VideoError(self.path, f"no frame could be decoded ({stats.requested} requested, all failed)")

    def _blocks(self, read):
        """(indices, frames) blocks from the backend in use, moving to PyAV if decord fails part way."""
        if len(read.wanted) == 0:
            return
        if self._decord is not None and not self._sequential and not self._decord.spot_checked:
            reason = self._decord.spot_check()
            if reason is not None:
                self._distrust(reason)
        if self._decord is None:
            yield from self._pyav.read(read)
            return
        from clamr_frames.video._decord_backend import decord_error_types

        done = 0
        try:
            for block_idx, frames in self._decord.read(read, sequential=self._sequential):
                done += len(block_idx)
                yield block_idx, frames
            return
        except decord_error_types() as e:
            read.stats.decoded = done  # a block decord failed on counts for nothing
            self.fallback_reason = f"decord failed while decoding ({e.__class__.__name__})"
            log.info("%s: decord failed part way (%s); reading on with PyAV", self.path, first_line(e)[:200])
            self._drop_decord()
        yield from self._pyav.read(replace(read, wanted=read.wanted[done:]))

    # ------------------------------------------------------------------ audio
    def read_audio(self, start: float, end: float, sample_rate: int = 16000) -> np.ndarray | None:
        """The soundtrack from ``start`` to ``end`` seconds as mono float32 samples in [-1, 1] at ``sample_rate``.

        Times are on the video's timeline (0 is the first frame) and sample ``k`` lies at
        ``start + k / sample_rate``; before the soundtrack begins the samples are silence, and where it ends
        before ``end`` the array is shorter. None when the file has no audio stream.
        """
        from clamr_frames.video.audio import AudioReader

        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise InputError(f"bad audio interval [{start}, {end}]")
        if int(sample_rate) != sample_rate or sample_rate <= 0:
            raise InputError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        self._check_open()
        if not self._index.has_audio:
            return None
        if self._audio is None:
            self._audio = AudioReader(self.path, self._index.start)
        return self._audio.read(float(start), float(end), int(sample_rate))

    def iter_audio(self, start: float = 0.0, sample_rate: int = 16000, block_samples: int = 16000 * 30,
                   stats=None):
        """Stream the soundtrack from ``start`` s as mono float32 blocks (see :func:`clamr_frames.video.audio.iter_audio`:
        one forward pass, bounded memory, undecodable packets read as silence and counted in ``stats``).

        Raises:
            VideoError: the file has no audio stream.
        """
        from clamr_frames.video.audio import iter_audio

        self._check_open()
        if not self._index.has_audio:
            raise VideoError(self.path, "no audio stream")
        return iter_audio(self.path, origin=self._index.start, start=start, sample_rate=sample_rate,
                          block_samples=block_samples, stats=stats)

    def audio_duration(self) -> float | None:
        """Seconds of the soundtrack as the container declares it (None without audio or a declared length)."""
        from clamr_frames.video.audio import audio_duration

        return audio_duration(self.path) if self._index.has_audio else None

    # ------------------------------------------------------------------ lifetime
    def _check_open(self) -> None:
        if self._closed:
            raise VideoError(self.path, "the reader is closed")

    def close(self) -> None:
        """Release the decoders (reading afterwards raises VideoError)."""
        self._drop_decord()
        self._pyav.close()
        if self._audio is not None:
            self._audio.close()
            self._audio = None
        self._closed = True

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        m = self._meta
        backend = self.metadata.backend
        return f"VideoReader({self.path!r}, {m.num_frames} frames, {m.duration:.2f} s, backend={backend!r})"


def sample_times(duration: float, fps: float) -> np.ndarray:
    """0, 1/fps, 2/fps, ... strictly below ``duration`` (float64 seconds).

    >>> sample_times(2.5, 1.0).tolist()
    [0.0, 1.0, 2.0]
    """
    n = max(1, math.ceil(duration * fps - 1e-9))
    return np.arange(n, dtype=np.float64) / fps


def nearest_frames(timestamps: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the frame nearest to each time (the earlier one on a tie), without repeats, ascending.

    >>> nearest_frames(np.array([0.0, 0.4, 1.1, 1.9]), np.array([0.0, 1.0, 2.0])).tolist()
    [0, 2, 3]
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    right = np.clip(np.searchsorted(ts, times, side="left"), 0, len(ts) - 1)
    left = np.clip(right - 1, 0, len(ts) - 1)
    pick = np.where(np.abs(ts[left] - times) <= np.abs(ts[right] - times), left, right)
    return np.unique(pick).astype(np.int64)


def probe(path: str | Path, backend: Backend = "auto") -> VideoMetadata:
    """The :class:`VideoMetadata` of a video (``backend`` as :class:`VideoReader`'s)."""
    with VideoReader(path, backend=backend) as reader:
        return reader.metadata
