"""PyAV (bundled FFmpeg) frame decoder: sorted frame indices in one forward pass over the container index
(:mod:`clamr_frames.video._stream_index`).

Frames are identified by their pts while decoding, never by counting, so a seek that lands somewhere unexpected,
a frame the decoder drops, or B-frame reordering cannot shift a frame onto the wrong index. Where the index says
the timestamps cannot identify frames (:attr:`~clamr_frames.video._stream_index.StreamIndex.in_order`), frame
``i`` is the ``i``-th frame out of an in-order decode from the start, and the decoder never seeks.

Pictures come out as a player shows them (:mod:`clamr_frames.video._display`): the declared colour matrix, the
display matrix's turn, the display size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from clamr_frames.video._display import declared_colour, turn
from clamr_frames.video._ffmpeg import demux_until_error, ffmpeg_reason, open_container
from clamr_frames.video._priming import prime_decoder
from clamr_frames.video._read import FrameRead
from clamr_frames.video._stream_index import StreamIndex

log = logging.getLogger(__name__)

# A seek flushes the decoder (and its thread pipeline); decoding through a few frames is cheaper than that.
MIN_SEEK_GAP = 4
_NEVER = 2**62  # "no frame is trusted until a key frame arrives"


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

    def read(self, read: FrameRead) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, frames)`` blocks (:meth:`FrameRead.blocks`) of the frames ``read`` asks for;
        undecodable ones are left out and counted in ``read.stats.skipped``."""
        if len(read.wanted) == 0:
            return iter(())
        if self.index.in_order is not None:
            return read.blocks(self._decode_by_position(read))
        return read.blocks(self._decode(read))

    def _decode(self, read: FrameRead) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, picture)`` for each frame of ``read`` that decodes, by timestamp, seeking across gaps."""
        import av

        width, height = read.size
        stats = read.stats
        targets = [int(i) for i in read.wanted.tolist()]
        wanted_set = set(targets)
        index = self.index
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
                        log.debug("%s: seek failed (%s); decoding from the start", self.path, ffmpeg_reason(e))
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
                                yield i, self._convert(frame, width, height)
                            j += 1
                            retries = 0
                        pos = max(pos, i)
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

    def _decode_by_position(self, read: FrameRead) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, picture)`` by position in an in-order decode from the start (see the class docstring).

        The decoder stays where the read left it: a later read that starts further on (the next chunk of a
        dense read, the next question's frames) goes on from there instead of decoding from the start again.
        A packet that fails to decode ends the decode: the decoder's output can no longer be matched to
        positions, so the frames after it are counted as skipped rather than guessed.
        """
        targets = [int(i) for i in read.wanted.tolist()]
        if self._cursor is None or self._cursor_at > targets[0]:
            self._close_cursor()
            self._cursor, self._cursor_at = self._decode_in_order(), 0
        j = 0
        for at, frame in self._cursor:
            self._cursor_at = at + 1
            if at == targets[j]:
                yield at, self._convert(frame, *read.size)
                j += 1
                if j == len(targets):
                    break
        else:  # the decoder ran out (or failed) before the last targets
            self._close_cursor()
        read.stats.skipped += len(targets) - j

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
                             "file", self.path, count, ffmpeg_reason(e))
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
