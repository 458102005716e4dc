"""PyAV (bundled FFmpeg) side of the reader: the container index every backend relies on, and a frame decoder.

The index is one demux pass over the video stream's packets (no decoding): presentation timestamps sorted into
display order give each native frame its index and time, key-frame flags give the seek points. Frames are
identified by their pts while decoding, never by counting, so a seek that lands somewhere unexpected, a frame
the decoder drops, or B-frame reordering cannot shift a frame onto the wrong index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from clamr_frames.errors import VideoError

log = logging.getLogger(__name__)

# A seek flushes the decoder (and its thread pipeline); decoding through a few frames is cheaper than that.
MIN_SEEK_GAP = 4
_NEVER = 2**62  # "no frame is trusted until a key frame arrives"


@dataclass(frozen=True)
class StreamIndex:
    """Where every frame of a video stream is, from one demux pass.

    Attributes:
        pts: int64 [n] presentation timestamps in display order (stream time base units).
        keyframes: int64 sorted display-order indices of frames that start a decodable run (seek points).
        time_base: seconds per pts unit.
        duration: seconds from the first frame's start to the last frame's end.
        codec / width / height / has_audio / container: as probed.
    """

    pts: np.ndarray
    keyframes: np.ndarray
    time_base: Fraction
    duration: float
    codec: str
    width: int
    height: int
    has_audio: bool
    container: str

    @property
    def num_frames(self) -> int:
        return int(len(self.pts))

    @property
    def start(self) -> float:
        """Absolute time of the first frame in seconds (the origin of every timestamp this package reports)."""
        return float(self.pts[0] * self.time_base)

    def timestamps(self) -> np.ndarray:
        """float64 [n] seconds since the first frame."""
        return (self.pts - self.pts[0]).astype(np.float64) * float(self.time_base)

    def key_before(self, index: int) -> int:
        """The last seek point at or before display index ``index`` (0 when there is none)."""
        k = int(np.searchsorted(self.keyframes, index, side="right")) - 1
        return int(self.keyframes[k]) if k >= 0 else 0


def open_container(path: str):
    """``av.open`` with every FFmpeg failure turned into a :class:`VideoError` naming the file."""
    import av

    try:
        return av.open(path, mode="r")
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        raise VideoError(path, f"FFmpeg cannot open it ({_ffmpeg_reason(e)}); is it a complete video file?") from None
    except (OSError, ValueError) as e:
        raise VideoError(path, f"cannot be opened ({e})") from None


def _ffmpeg_reason(e: Exception) -> str:
    return str(getattr(e, "strerror", None) or e).strip() or type(e).__name__


def scan(path: str) -> StreamIndex:
    """Index the first video stream of ``path`` by demuxing its packets (nothing is decoded).

    Raises:
        VideoError: FFmpeg cannot open the file, it has no video stream, or the stream holds no frame.
    """
    import av

    with open_container(path) as container:
        if not container.streams.video:
            what = "an audio-only file" if container.streams.audio else "no audio or video stream either"
            raise VideoError(path, f"no video stream ({what})")
        stream = container.streams.video[0]
        time_base = stream.time_base or Fraction(1, 90000)
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        ts: list[int] = []
        keys: list[bool] = []
        durations: list[int] = []
        last = None
        try:
            for packet in container.demux(stream):
                if not packet.size:  # the flush packet at the end
                    continue
                t = packet.pts if packet.pts is not None else packet.dts
                if t is None:  # no timestamp at all: assume one frame duration after the previous packet
                    step = durations[-1] if durations and durations[-1] else _ticks(rate, time_base)
                    t = (last if last is not None else -step) + step
                ts.append(int(t))
                keys.append(bool(packet.is_keyframe))
                durations.append(int(packet.duration or 0))
                last = int(t)
        except av.error.FFmpegError as e:  # type: ignore[attr-defined]
            # A damaged or cut container: the packets before the damage are still usable.
            log.warning("%s: demuxing stopped after %d packets (%s)", path, len(ts), _ffmpeg_reason(e))
        if not ts:
            raise VideoError(path, "the video stream contains no frames")
        order = np.argsort(np.asarray(ts, dtype=np.int64), kind="stable")
        pts = np.asarray(ts, dtype=np.int64)[order]
        key_flags = np.asarray(keys, dtype=bool)[order]
        keyframes = np.flatnonzero(key_flags).astype(np.int64)
        if len(keyframes) == 0 or keyframes[0] != 0:
            keyframes = np.concatenate([[0], keyframes]).astype(np.int64)
        last_dur = int(np.asarray(durations, dtype=np.int64)[order][-1])
        if last_dur <= 0:
            diffs = np.diff(pts)
            last_dur = int(np.median(diffs)) if len(diffs) else _ticks(rate, time_base)
        duration = float((pts[-1] - pts[0] + max(last_dur, 0)) * time_base)
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if not (width and height):
            width, height = _first_frame_size(path)
        return StreamIndex(
            pts=pts,
            keyframes=keyframes,
            time_base=Fraction(time_base),
            duration=duration,
            codec=str(ctx.name),
            width=width,
            height=height,
            has_audio=bool(container.streams.audio),
            container=str(container.format.name),
        )


def _ticks(rate: Fraction | None, time_base: Fraction) -> int:
    """One frame's duration in time-base units (1 when the rate is unknown)."""
    if not rate:
        return 1
    return max(1, int(round(1 / (Fraction(rate) * time_base))))


def _first_frame_size(path: str) -> tuple[int, int]:
    import av

    with open_container(path) as container:
        try:
            for frame in container.decode(video=0):
                return int(frame.width), int(frame.height)
        except av.error.FFmpegError:  # type: ignore[attr-defined]
            pass
    raise VideoError(path, "the frame size is unknown and no frame decodes")


@dataclass
class ReadStats:
    """Counters of one read, shared by the backends that serve it."""

    requested: int = 0
    decoded: int = 0
    skipped: int = 0


def _set_skip(ctx, value: str) -> bool:
    """Set ``skip_frame`` (decoder-side frame dropping); False when this PyAV build does not allow it."""
    try:
        ctx.skip_frame = value
        return True
    except (AttributeError, TypeError, ValueError):
        return False


class PyAVBackend:
    """Decodes sorted frame indices in one forward pass, seeking to a key frame only across large gaps.

    Frames that are not asked for are decoded (later frames depend on them) but never converted to RGB, and
    non-reference frames among them are not even decoded (``skip_frame = NONREF``). After a packet fails to
    decode, every frame up to the next key frame may depend on the lost data: such frames are dropped (and
    counted as skipped) rather than handed out damaged.
    """

    name = "pyav"

    def __init__(self, path: str, index: StreamIndex, *, threads: bool = True):
        self.path = path
        self.index = index
        self.threads = threads

    def close(self) -> None:
        pass

    def read(
        self,
        wanted: np.ndarray,
        size: tuple[int, int],
        chunk_size: int,
        stats: ReadStats,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, frames)`` blocks (at most ``chunk_size`` frames, uint8 [m, H, W, 3]) for the sorted,
        unique display indices ``wanted``; undecodable ones are left out and counted in ``stats.skipped``."""
        import av

        if len(wanted) == 0:
            return
        width, height = size
        scale = (width, height) != (self.index.width, self.index.height)
        targets = [int(i) for i in wanted.tolist()]
        wanted_set = set(targets)
        index = self.index
        out_idx: list[int] = []
        out_frames: list[np.ndarray] = []
        j = 0  # next target
        with open_container(self.path) as container:
            stream = container.streams.video[0]
            if self.threads:
                stream.thread_type = "AUTO"
            ctx = stream.codec_context
            can_skip = _set_skip(ctx, "DEFAULT")
            skipping = False
            pos = -1  # display index of the last frame out of the decoder
            floor = 0  # never seek to this key frame or an earlier one again (no seek loops)
            seek_to: int | None = None
            k = index.key_before(targets[0])
            if k > MIN_SEEK_GAP:
                seek_to = k
            retries = 0
            while j < len(targets):
                just_seeked = False
                if seek_to is not None:
                    floor = max(floor, seek_to)
                    try:
                        container.seek(int(index.pts[seek_to]), stream=stream, backward=True, any_frame=False)
                        pos = seek_to - 1
                    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
                        log.debug("%s: seek failed (%s); decoding from the start", self.path, _ffmpeg_reason(e))
                        container.seek(0)
                        pos = -1
                    seek_to, just_seeked = None, True
                # Frames displayed before this index may depend on a packet that failed to decode: after a
                # failure, everything up to the first key frame sent afterwards (B-frames shown before that
                # key frame included).
                suspect_below = -1
                packets = container.demux(stream)
                at_end = True  # becomes False when the pass stops early (done, or a seek is due)
                while True:
                    try:
                        packet = next(packets)
                    except StopIteration:
                        break
                    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
                        log.debug("%s: demuxing failed (%s)", self.path, _ffmpeg_reason(e))
                        break
                    p = packet.pts if packet.pts is not None else packet.dts
                    at = self._index_of(p) if p is not None and packet.size else -1
                    if suspect_below == _NEVER and packet.is_keyframe and at >= 0:
                        suspect_below = at
                    if can_skip and packet.size:
                        skip = p is not None and at not in wanted_set
                        if skip != skipping:
                            skipping = skip
                            ctx.skip_frame = "NONREF" if skip else "DEFAULT"
                    try:
                        frames = packet.decode()
                    except av.error.FFmpegError:  # type: ignore[attr-defined]
                        suspect_below = _NEVER
                        continue
                    for frame in frames:
                        i = self._locate(frame, pos)
                        if i is None:
                            continue
                        if just_seeked:
                            just_seeked = False
                            if i > targets[j] and retries < 3:
                                # The demuxer landed past the target: go back one more key frame.
                                retries += 1
                                at = int(np.searchsorted(index.keyframes, index.key_before(targets[j])))
                                seek_to = int(index.keyframes[max(0, at - retries)])
                                floor = max(floor, index.key_before(targets[j]))
                                at_end = False
                                break
                        while j < len(targets) and targets[j] < i:  # passed without the decoder giving it
                            stats.skipped += 1
                            j += 1
                        if j < len(targets) and targets[j] == i:
                            if i < suspect_below or getattr(frame, "is_corrupt", False):
                                stats.skipped += 1
                            else:
                                out_idx.append(i)
                                out_frames.append(self._convert(frame, width, height, scale))
                                stats.decoded += 1
                            j += 1
                            retries = 0
                        pos = max(pos, i)
                        if len(out_idx) >= chunk_size:
                            yield np.asarray(out_idx, dtype=np.int64), np.stack(out_frames)
                            out_idx, out_frames = [], []
                    if not at_end:
                        break
                    if j >= len(targets):
                        at_end = False
                        break
                    k = index.key_before(targets[j])
                    if k > floor and k - pos > MIN_SEEK_GAP:
                        seek_to = k
                        at_end = False
                        break
                if at_end:
                    # End of stream: the remaining targets never came out of the decoder.
                    stats.skipped += len(targets) - j
                    j = len(targets)
            if out_idx:
                yield np.asarray(out_idx, dtype=np.int64), np.stack(out_frames)

    def _index_of(self, pts: int) -> int:
        """Display index of the frame with this pts (-1 when the index has none); the first of duplicates."""
        i = int(np.searchsorted(self.index.pts, pts))
        return i if i < len(self.index.pts) and self.index.pts[i] == pts else -1

    def _locate(self, frame, pos: int) -> int | None:
        """Display index of a decoded frame, from its pts (counting on from ``pos`` only when it has none)."""
        if frame.pts is not None:
            i = self._index_of(frame.pts)
            if i >= 0:
                return i
            log.debug("%s: decoded a frame with pts %s that the index does not list", self.path, frame.pts)
            return None
        return pos + 1 if pos >= 0 else None

    @staticmethod
    def _convert(frame, width: int, height: int, scale: bool) -> np.ndarray:
        if scale:
            frame = frame.reformat(width=width, height=height, format="rgb24", interpolation="BICUBIC")
        else:
            frame = frame.reformat(width=width, height=height, format="rgb24")
        return frame.to_ndarray()


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
            log.debug("%s: audio decoding stopped (%s)", self.path, _ffmpeg_reason(e))
        if first is None or not pieces:
            return np.zeros(0, dtype=np.float32)
        samples = np.concatenate(pieces)
        offset = int(round((abs_start - first) * sample_rate))
        if offset < 0:  # the soundtrack starts after ``start``
            samples = np.concatenate([np.zeros(-offset, dtype=np.float32), samples])
            offset = 0
        return np.ascontiguousarray(samples[offset : offset + need])


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a video before FFmpeg even looks at it (None when it might be one)."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory, not a video file"
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if size == 0:
        return "empty file (0 bytes)"
    return None
