"""PyAV (bundled FFmpeg) side of the reader: the container index every backend relies on, and a frame decoder.

The index is one demux pass over the video stream's packets (no decoding): presentation timestamps sorted into
display order give each native frame its index and time, key-frame flags give the seek points. Frames are
identified by their pts while decoding, never by counting, so a seek that lands somewhere unexpected, a frame
the decoder drops, or B-frame reordering cannot shift a frame onto the wrong index. Packets an edit list hides
(flagged "discard": decoded as references, never shown) are not frames of the video.

Where the container's timestamps cannot identify frames, frame ``i`` is the ``i``-th frame an in-order decode
of the whole stream yields, and the decoder never seeks (:attr:`StreamIndex.in_order`). That is the case for AVI
with B-frames: AVI stores no presentation times, FFmpeg's parser guesses them from the bitstream, and on DivX
"packed bitstream" files (a P-frame and a B-frame in one chunk, an empty N-VOP chunk later) the guesses are
shuffled: the frame carrying pts 4 is the one shown third. Reading by those times hands out neighbouring
frames; a seek restarts the guesses elsewhere and loses frames.

Pictures come out as a player shows them: a display matrix (a phone video held upright) is applied, in steps
of 90 degrees, and the frame size is the displayed one.
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
        codec / has_audio / container: as probed.
        width, height: the size of a decoded picture, before any rotation.
        rotation: degrees (0, 90, 180, 270) to turn decoded pictures clockwise for display.
        in_order: why frames can only be identified by decoding the stream in order (None: by timestamp).
        leading_pictures: open GOPs: some frames shown before a key frame are stored after it.
        stored_frames: frames in the stream, counting those an edit list hides (what decord counts).
        incomplete: why the file is incomplete (cut off), if it is; its frames before the cut are readable.
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
    rotation: int = 0
    in_order: str | None = None
    leading_pictures: bool = False
    stored_frames: int = 0
    incomplete: str | None = None

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of a frame as shown, after the rotation."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)

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


def demux_until_error(container, stream, path: str):
    """``container.demux(stream)``, ending (with a debug log line) where FFmpeg fails to demux a damaged file."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as e:  # type: ignore[attr-defined]
            log.debug("%s: demuxing failed (%s)", path, _ffmpeg_reason(e))
            return
        yield packet


def scan(path: str) -> StreamIndex:
    """Index the first video stream of ``path`` by demuxing its packets (only the first frame is decoded, for
    its size and display rotation).

    Raises:
        VideoError: FFmpeg cannot open the file, it has no video stream, or the stream holds no frame; when the
            file is cut off (see :mod:`clamr_frames.video._container`) the message says so.
    """
    from clamr_frames.video._container import cut_off

    try:
        container = open_container(path)
    except VideoError:
        cut = cut_off(path)
        if cut is not None:
            raise VideoError(path, f"{cut}, so FFmpeg cannot open it") from None
        raise
    with container:
        if not container.streams.video:
            cut = cut_off(path)
            if cut is not None:
                raise VideoError(path, f"{cut}; no video stream starts before the cut")
            what = "an audio-only file" if container.streams.audio else "no audio or video stream either"
            raise VideoError(path, f"no video stream ({what})")
        stream = container.streams.video[0]
        time_base = stream.time_base or Fraction(1, 90000)
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        packets, stopped = _demux(container, stream, _ticks(rate, time_base))
        if not packets.shown.any():
            cut = cut_off(path)
            raise VideoError(path, f"{cut}; no frame comes before the cut" if cut else "the video stream contains no frames")
        shown = packets.shown
        in_order = _in_order_reason(str(container.format.name), packets.pts[shown], packets.dts[shown], packets.guessed)
        if in_order is None:
            order = np.argsort(packets.pts[shown], kind="stable")
            pts = packets.pts[shown][order]
            keyframes = np.flatnonzero(packets.keys[shown][order]).astype(np.int64)
            if len(keyframes) == 0 or keyframes[0] != 0:
                keyframes = np.concatenate([[0], keyframes]).astype(np.int64)
        else:
            # Frame i is the i-th one decoded; AVI's frame clock is its decoding timestamp (the chunk count).
            order = np.arange(int(shown.sum()))
            clock = packets.dts if (packets.dts != _NO_TS).all() else packets.pts
            pts = np.sort(clock[shown])
            keyframes = np.zeros(1, dtype=np.int64)  # nowhere to seek to: decoding starts at the beginning
        last_dur = int(packets.durations[shown][order][-1])
        if last_dur <= 0:
            diffs = np.diff(pts)
            last_dur = int(np.median(diffs)) if len(diffs) else _ticks(rate, time_base)
        duration = float((pts[-1] - pts[0] + max(last_dur, 0)) * time_base)
        width, height, rotation = int(ctx.width or 0), int(ctx.height or 0), 0
        first = _first_frame(container, stream)
        if first is not None:
            width, height = width or first.width, height or first.height
            rotation = _rotation(first)
        if not (width and height):
            raise VideoError(path, "the frame size is unknown and no frame decodes")
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
            rotation=rotation,
            in_order=in_order,
            leading_pictures=_has_leading_pictures(packets.pts, packets.keys),
            stored_frames=len(packets.pts),
            incomplete=cut_off(path) or stopped,
        )


_NO_TS = np.iinfo(np.int64).min  # "the packet has no decoding timestamp"


@dataclass(frozen=True)
class _Packets:
    """The video packets of a file in decoding order (the flush packet left out).

    Attributes:
        pts: int64 presentation timestamps (the dts, or one frame after the previous packet, where missing).
        dts: int64 decoding timestamps (``_NO_TS`` where missing).
        keys: key-frame flags.
        shown: False for packets an edit list hides (decoded as references, never shown).
        durations: int64 packet durations (0 where unknown).
        guessed: how many packets had no timestamp at all.
    """

    pts: np.ndarray
    dts: np.ndarray
    keys: np.ndarray
    shown: np.ndarray
    durations: np.ndarray
    guessed: int


def _demux(container, stream, step: int) -> tuple[_Packets, str | None]:
    """One pass over ``stream``'s packets; also why demuxing stopped early (a damaged or cut container: the
    packets before the damage are still usable), or None. ``step``: one frame in time-base units."""
    import av

    rows: list[tuple[int, int, bool, bool, int]] = []
    guessed = 0
    stopped = None
    try:
        for packet in container.demux(stream):
            if not packet.size:  # the flush packet at the end
                continue
            t = packet.pts if packet.pts is not None else packet.dts
            if t is None:  # no timestamp at all: assume one frame duration after the previous packet
                t = rows[-1][0] + (rows[-1][4] or step) if rows else 0
                guessed += 1
            dts = packet.dts if packet.dts is not None else _NO_TS
            hidden = bool(getattr(packet, "is_discard", False))
            rows.append((int(t), int(dts), bool(packet.is_keyframe), not hidden, int(packet.duration or 0)))
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        stopped = f"demuxing stopped after {len(rows)} packets ({_ffmpeg_reason(e)})"
    cols = list(zip(*rows)) if rows else [(), (), (), (), ()]
    packets = _Packets(
        pts=np.asarray(cols[0], dtype=np.int64),
        dts=np.asarray(cols[1], dtype=np.int64),
        keys=np.asarray(cols[2], dtype=bool),
        shown=np.asarray(cols[3], dtype=bool),
        durations=np.asarray(cols[4], dtype=np.int64),
        guessed=guessed,
    )
    return packets, stopped


def _in_order_reason(container: str, pts: np.ndarray, dts: np.ndarray, guessed: int) -> str | None:
    """Why the packets' timestamps cannot tell the frames apart (None when they can)."""
    if guessed:
        return f"{guessed} packets carry no timestamp"
    if len(np.unique(pts)) != len(pts):
        return "several frames share a timestamp"
    if container == "avi" and np.any((dts != _NO_TS) & (dts != pts)):
        return (
            "AVI keeps no presentation times and the stream has B-frames: the times FFmpeg guesses for them are "
            "unreliable (DivX packed bitstreams shuffle them)"
        )
    return None


def _has_leading_pictures(pts: np.ndarray, keys: np.ndarray) -> bool:
    """Open GOPs: a frame stored after a key frame (decode order) that is shown before it."""
    if not keys.any():
        return False
    at = np.arange(len(pts))
    last_key = np.maximum.accumulate(np.where(keys, at, -1))
    after = (last_key >= 0) & ~keys
    return bool(np.any(pts[after] < pts[last_key[after]]))


def _first_frame(container, stream):
    """The first frame that decodes (None when none does within the first packets); leaves the container at
    an unknown position."""
    import av

    try:
        container.seek(0)
        for n, packet in enumerate(container.demux(stream)):
            for frame in packet.decode():
                return frame
            if n > 300:
                break
    except av.error.FFmpegError:  # type: ignore[attr-defined]
        pass
    return None


def prime_decoder(container, stream, path: str) -> None:
    """Decode the stream's first packet (output discarded) before a fresh decoder's first seek.

    Some encoders write, once and at the start of the stream only, what a decoder needs to decode later
    frames right. x264 writes its version in an SEI message of the first access unit, and FFmpeg's H.264
    decoder needs it to reproduce a bug of x264 before r151 (unfiltered 8x8 intra prediction in lossless
    macroblocks of High 4:4:4 Predictive streams): without it, tests/data/video/cockatoo.mp4 (x264 core 142,
    ``qpmin=0``) decodes from its second or third IDR frame into garbled, mostly green pictures, though every
    GOP starts with an intact IDR frame. Xvid and DivX write their build in MPEG-4 Part 2 user data the same
    way. A decoder that starts at a later key frame never sees it; the seek after this flushes the decoder's
    pictures but not what it learned.
    Costs one picture's decode per opened file.
    """
    import av

    try:
        for packet in container.demux(stream):
            if packet.size:
                packet.decode()
                return
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        log.debug("%s: the first packet does not decode (%s)", path, _ffmpeg_reason(e))


def _rotation(frame) -> int:
    """Degrees to turn ``frame`` clockwise for display, from its display matrix (a multiple of 90)."""
    angle = getattr(frame, "rotation", 0) or 0  # FFmpeg's angle is counter-clockwise
    return int(round(-float(angle) / 90.0)) * 90 % 360


def _ticks(rate: Fraction | None, time_base: Fraction) -> int:
    """One frame's duration in time-base units (1 when the rate is unknown)."""
    if not rate:
        return 1
    return max(1, int(round(1 / (Fraction(rate) * time_base))))


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

    On a stream whose timestamps cannot identify frames (``index.in_order``) it decodes from the start, without
    seeking or dropping frames, and frame ``i`` is the ``i``-th frame out of the decoder; only the frames asked
    for are converted and kept, so memory stays bounded by the chunk size.
    """

    name = "pyav"

    def __init__(self, path: str, index: StreamIndex, *, threads: bool = True):
        self.path = path
        self.index = index
        self.threads = threads
        self._cursor: Iterator[tuple[int, object]] | None = None  # the in-order decode, where it stopped
        self._cursor_at = 0  # position of the next frame the cursor yields

    def close(self) -> None:
        """Release the in-order decoder kept between reads (if any)."""
        self._close_cursor()

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
        if self.index.in_order is not None:
            yield from self._read_in_order(wanted, size, chunk_size, stats)
            return
        width, height = size
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
            primed = seek_to is None  # a pass from the start feeds the decoder the first packet itself
            retries = 0
            while j < len(targets):
                just_seeked = False
                if seek_to is not None:
                    if not primed:
                        prime_decoder(container, stream, self.path)
                        primed = True
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
                at_end = True  # becomes False when the pass stops early (done, or a seek is due)
                for packet in demux_until_error(container, stream, self.path):
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
                                out_frames.append(self._convert(frame, width, height))
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

    def _read_in_order(
        self, wanted: np.ndarray, size: tuple[int, int], chunk_size: int, stats: ReadStats
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Frames by their position in an in-order decode from the start (see the class docstring).

        The decoder stays where the read left it: a later read that starts further on (the next chunk of a
        dense read, the next question's frames) goes on from there instead of decoding from the start again.
        A packet that fails to decode ends the decode: the decoder's output can no longer be matched to
        positions, so the frames after it are counted as skipped rather than guessed.
        """
        targets = [int(i) for i in wanted.tolist()]
        if self._cursor is None or self._cursor_at > targets[0]:
            self._close_cursor()
            self._cursor, self._cursor_at = self._decode_in_order(), 0
        out_idx: list[int] = []
        out_frames: list[np.ndarray] = []
        j = 0
        for at, frame in self._cursor:
            self._cursor_at = at + 1
            if at == targets[j]:
                out_idx.append(at)
                out_frames.append(self._convert(frame, *size))
                stats.decoded += 1
                j += 1
                if len(out_idx) >= chunk_size:
                    yield np.asarray(out_idx, dtype=np.int64), np.stack(out_frames)
                    out_idx, out_frames = [], []
                if j == len(targets):
                    break
        else:  # the decoder ran out (or failed) before the last targets
            self._close_cursor()
        stats.skipped += len(targets) - j
        if out_idx:
            yield np.asarray(out_idx, dtype=np.int64), np.stack(out_frames)

    def _decode_in_order(self) -> Iterator[tuple[int, object]]:
        """(position, frame) for every frame an in-order decode from the start yields, until a failure."""
        import av

        count = 0
        with open_container(self.path) as container:
            stream = container.streams.video[0]
            if self.threads:
                stream.thread_type = "AUTO"
            packets = container.demux(stream)
            while True:
                try:
                    packet = next(packets)
                    if not packet.size and self.index.incomplete is not None:
                        # The file is cut off: the frames the decoder still holds may belong further on, where
                        # the frames shown between them are missing. They cannot be placed: they are left out.
                        return
                    frames = packet.decode()
                except StopIteration:
                    return
                except av.error.FFmpegError as e:  # type: ignore[attr-defined]
                    log.info("%s: decoding stopped at frame %d (%s); later frames cannot be told apart in this "
                             "file", self.path, count, _ffmpeg_reason(e))
                    return
                for frame in frames:
                    yield count, frame
                    count += 1

    def _close_cursor(self) -> None:
        if self._cursor is not None:
            self._cursor.close()  # leaves the generator's ``with``: the container closes
        self._cursor, self._cursor_at = None, 0

    def _convert(self, frame, width: int, height: int) -> np.ndarray:
        """RGB uint8 [height, width, 3] of ``frame`` as displayed (rotated, then at the display size asked)."""
        rotation = self.index.rotation
        w, h = (height, width) if rotation % 180 else (width, height)  # the size before turning
        colour = declared_colour(frame)
        if (w, h) != (self.index.width, self.index.height):
            frame = frame.reformat(width=w, height=h, format="rgb24", interpolation="BICUBIC", **colour)
        else:
            frame = frame.reformat(width=w, height=h, format="rgb24", **colour)
        return turn(frame.to_ndarray(), rotation)


# The YUV -> RGB matrix a stream declares (FFmpeg's AVColorSpace) as swscale's coefficient table. Streams that
# declare none (most files: "unspecified") get BT.601, FFmpeg's default for untagged video.
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}  # BT.709, FCC, BT.470BG, SMPTE 170M, 240M, BT.2020
_SWS_BT601, _SWS_BT709 = 5, 1
_RANGE_MPEG, _RANGE_JPEG = 1, 2  # AVColorRange: limited (16-235) and full (0-255)


def declared_colour(frame) -> dict[str, int]:
    """``reformat`` arguments that turn a YUV ``frame`` into RGB with the matrix and range its stream declares.

    decord (FFmpeg's scale filter) converts with the declared matrix; PyAV's ``reformat`` does so from av 17
    on (it calls ``sws_scale_frame``, which reads the frame's tags), while before (av 15, ``sws_scale``) it
    ignores them and converts everything with BT.601 (3.6 mean absolute difference on a BT.709 1080p clip).
    Saying it explicitly gives the same pixels with av 15 and 18 (checked bit for bit) and with decord. Full range: declared, or implied by a ``yuvj`` pixel format. The destination
    matrix only tags the RGB frame; it differs from the source so that av 15 never skips setting the source.
    RGB, grey, palette and XYZ frames take no YUV matrix: no arguments.
    """
    fmt = frame.format
    if fmt.is_rgb or len(fmt.components) < 3 or fmt.name.startswith("xyz"):
        return {}
    matrix = _SWS_MATRIX.get(int(frame.colorspace), _SWS_BT601)
    full = int(frame.color_range) == _RANGE_JPEG or fmt.name.startswith("yuvj")
    return {
        "src_colorspace": matrix,
        "dst_colorspace": _SWS_BT709 if matrix != _SWS_BT709 else _SWS_BT601,
        "src_color_range": _RANGE_JPEG if full else _RANGE_MPEG,
        "dst_color_range": _RANGE_JPEG,
    }


def turn(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """``rgb`` ([..., H, W, 3]) turned ``rotation`` degrees clockwise (a multiple of 90)."""
    if not rotation % 360:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k=-(rotation // 90), axes=(-3, -2)))


def resize_rgb(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [n, H, W, 3] frames scaled to ``size`` = (width, height) with FFmpeg's bicubic scaler (the same one
    the decoders' own downscale uses)."""
    import av

    width, height = size
    if frames.shape[1:3] == (height, width):
        return frames
    out = [
        av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        .reformat(width=width, height=height, format="rgb24", interpolation="BICUBIC")
        .to_ndarray()
        for f in frames
    ]
    return np.stack(out) if out else np.zeros((0, height, width, 3), dtype=np.uint8)


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
