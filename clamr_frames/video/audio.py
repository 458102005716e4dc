"""Stream a video's soundtrack as mono float32 blocks at a fixed rate, in one forward pass, in bounded memory.

This is what speech recognition reads (:mod:`clamr_frames.context.asr`): hours of audio never sit in memory at
once, only the block being handed out (plus one decoded frame and FFmpeg's resampler state).

Timing. Samples are placed on the video's timeline (0 = the first video frame, as every timestamp this package
reports): sample ``k`` of the stream lies at ``start + k / sample_rate``. Each decoded audio frame is placed by
its own presentation timestamp, not by counting samples, so

- a soundtrack that begins after the first video frame is preceded by silence, one that begins earlier is cut;
- a packet that fails to decode (a damaged file) leaves a gap of silence of its length, and the speech after it
  stays where it belongs in time; the packet is counted in :attr:`AudioStats.skipped_packets`;
- overlapping timestamps (a broken muxer) drop the overlapping samples.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from clamr_frames.errors import InputError, VideoError
from clamr_frames.video._ffmpeg import (
    demux_until_error,
    ffmpeg_reason,
    file_problem,
    open_container,
)

log = logging.getLogger(__name__)

#: Timestamp jitter tolerated before a gap is filled or an overlap cut (seconds). AAC frames are ~21-64 ms,
#: so a lost packet is always longer than this.
_TOLERANCE = 0.005


@dataclass
class AudioStats:
    """Counters of one pass over a soundtrack.

    Attributes:
        packets: audio packets that decoded.
        skipped_packets: packets that failed to decode (their time is silence in the output).
        gap_seconds: silence inserted for timestamp gaps (lost packets included).
        samples: samples handed out.
    """

    packets: int = 0
    skipped_packets: int = 0
    gap_seconds: float = 0.0
    samples: int = 0


def has_audio_stream(path: str) -> bool:
    """True when the file has an audio stream (opens the container only; no demuxing).

    Raises:
        VideoError: the file is missing, empty, a directory or not a media file FFmpeg can open.
    """
    from pathlib import Path


    problem = file_problem(Path(path))
    if problem is not None:
        raise VideoError(path, problem)
    with open_container(str(path)) as container:
        return bool(container.streams.audio)


def audio_duration(path: str) -> float | None:
    """Length of the first audio stream in seconds from the container header, or None when it does not say."""

    with open_container(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000  # av.time_base: microseconds
    return None


def iter_audio(
    path: str,
    *,
    origin: float = 0.0,
    start: float = 0.0,
    sample_rate: int = 16000,
    block_samples: int = 16000 * 30,
    stats: AudioStats | None = None,
) -> Iterator[np.ndarray]:
    """Yield the soundtrack from ``start`` seconds on as mono float32 blocks of ``block_samples`` (the last one
    shorter) at ``sample_rate``.

    Args:
        path: a media file with an audio stream.
        origin: absolute time (container seconds) of the video's first frame: time 0 of the output.
        start: where the first sample lies on that timeline (seeks there; > 0 to resume part way).
        stats: filled in while streaming (see :class:`AudioStats`).

    Raises:
        VideoError: the file cannot be opened or has no audio stream.
        InputError: a bad rate, block size or start.
    """
    import av


    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise InputError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    if int(block_samples) != block_samples or block_samples <= 0:
        raise InputError(f"block_samples must be a positive integer, got {block_samples!r}")
    if not (math.isfinite(start) and start >= 0):
        raise InputError(f"start must be a finite number of seconds >= 0, got {start!r}")
    stats = stats if stats is not None else AudioStats()
    sr = int(sample_rate)
    with open_container(str(path)) as container:
        if not container.streams.audio:
            raise VideoError(path, "no audio stream")
        stream = container.streams.audio[0]
        tb = stream.time_base
        if start > 0:
            try:
                container.seek(max(0, int((origin + start) / tb)), stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:  # type: ignore[attr-defined]
                container.seek(0)
        out = _BlockBuffer(int(block_samples))
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        # Time (on the output timeline) where the next input frame should begin; None until the first frame.
        expected: float | None = None
        drop = 0  # output samples still to cut (audio before `start`, or an overlap)

        def emit(frames) -> Iterator[np.ndarray]:
            nonlocal drop
            for r in frames:
                a = r.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                if drop:
                    cut = min(drop, len(a))
                    a, drop = a[cut:], drop - cut
                yield from out.add(a)

        for packet in demux_until_error(container, stream, str(path)):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:  # type: ignore[attr-defined]
                stats.skipped_packets += 1
                continue
            if packet.size:
                stats.packets += 1
            for frame in frames:
                if frame.pts is None or not frame.sample_rate:
                    t = expected if expected is not None else start
                else:
                    t = float(frame.pts * tb) - origin
                first = expected is None
                if first:
                    expected = start
                lag = t - expected
                if lag > _TOLERANCE:  # a gap (a lost packet, or a soundtrack that starts late): silence
                    n = int(round(lag * sr))
                    if not first:
                        stats.gap_seconds += n / sr
                    yield from out.add_silence(n)
                elif lag < -_TOLERANCE:  # before `start`, or overlapping what was already emitted
                    drop += int(round(-lag * sr))
                expected = t + frame.samples / frame.sample_rate
                yield from emit(resampler.resample(frame))
        yield from emit(resampler.resample(None))
        tail = out.flush()
        if tail is not None:
            yield tail
        stats.samples = out.total


class _BlockBuffer:
    """Collects sample pieces and hands them out in blocks of a fixed size."""

    def __init__(self, size: int):
        self.size = size
        self.pieces: list[np.ndarray] = []
        self.n = 0
        self.total = 0

    def add(self, a: np.ndarray) -> Iterator[np.ndarray]:
        if not len(a):
            return
        self.pieces.append(a)
        self.n += len(a)
        while self.n >= self.size:
            joined = np.concatenate(self.pieces)
            block, rest = joined[: self.size], joined[self.size :]
            self.pieces = [rest] if len(rest) else []
            self.n = len(rest)
            self.total += len(block)
            yield np.ascontiguousarray(block)

    def add_silence(self, n: int) -> Iterator[np.ndarray]:
        """``n`` zero samples, added a block at a time (a gap can be hours long)."""
        while n > 0:
            step = min(n, self.size)
            yield from self.add(np.zeros(step, dtype=np.float32))
            n -= step

    def flush(self) -> np.ndarray | None:
        if not self.n:
            return None
        block = np.concatenate(self.pieces)
        self.pieces, self.n = [], 0
        self.total += len(block)
        return block


__all__ = ["AudioStats", "audio_duration", "has_audio_stream", "iter_audio"]


class AudioReader:
    """Windows of a file's first audio stream as mono float32, on the video's timeline.

    The container stays open between windows: reading the audio around each of thousands of candidate frames
    should not parse the file's index thousands of times.
    """

    def __init__(self, path: str, origin: float):
        self.path = path
        self.origin = origin  # absolute time of the first video frame: time 0 of the windows
        self._container = None

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def read(self, start: float, end: float, sample_rate: int) -> np.ndarray:
        """Samples ``k = 0, 1, ...`` at ``start + k / sample_rate`` up to ``end``: silence where the soundtrack
        has not begun yet, and fewer samples where it ends before ``end``."""
        import av

        if self._container is None:
            self._container = open_container(self.path)
        container = self._container
        stream = container.streams.audio[0]
        tb = stream.time_base
        abs_start = self.origin + start
        need = int(round((end - start) * sample_rate))
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            container.seek(max(0, int(abs_start / tb)), stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError:  # type: ignore[attr-defined]
            container.seek(0)
        pieces: list[np.ndarray] = []
        first: float | None = None
        got = 0

        def take(frames) -> None:
            nonlocal got
            for r in frames:
                a = r.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                pieces.append(a)
                got += len(a)

        try:
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:  # type: ignore[attr-defined]
                    continue
                for frame in decoded:
                    if first is None:
                        if frame.pts is None:
                            continue
                        first = float(frame.pts * tb)
                    take(resampler.resample(frame))
                if first is not None and got >= (abs_start - first) * sample_rate + need:
                    break
            take(resampler.resample(None))
        except av.error.FFmpegError as e:  # type: ignore[attr-defined]
            log.debug("%s: audio decoding stopped (%s)", self.path, ffmpeg_reason(e))
        if first is None or not pieces:
            return np.zeros(0, dtype=np.float32)
        samples = np.concatenate(pieces)
        offset = int(round((abs_start - first) * sample_rate))
        if offset < 0:  # the soundtrack starts after ``start``
            samples = np.concatenate([np.zeros(-offset, dtype=np.float32), samples])
            offset = 0
        return np.ascontiguousarray(samples[offset : offset + need])
