"""The container index every backend relies on: where each frame of a video stream is, from one demux pass.

The index is one demux pass over the video stream's packets (no decoding): presentation timestamps sorted into
display order give each native frame its index and time, key-frame flags give the seek points. Packets an edit
list hides (flagged "discard": decoded as references, never shown) are not frames of the video.

Where the container's timestamps cannot identify frames, frame ``i`` is the ``i``-th frame an in-order decode
of the whole stream yields, and the decoder never seeks (:attr:`StreamIndex.in_order`). That is the case for AVI
with B-frames: AVI stores no presentation times, FFmpeg's parser guesses them from the bitstream, and on DivX
"packed bitstream" files (a P-frame and a B-frame in one chunk, an empty N-VOP chunk later) the guesses are
shuffled: the frame carrying pts 4 is the one shown third. Reading by those times hands out neighbouring
frames; a seek restarts the guesses elsewhere and loses frames.

The first frame is decoded for its size and its display matrix (:func:`clamr_frames.video._display.frame_rotation`):
the index records the size of a decoded picture and the turn that shows it as a player would.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from clamr_frames.errors import VideoError
from clamr_frames.video._display import frame_rotation
from clamr_frames.video._ffmpeg import ffmpeg_reason, open_container


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
            rotation = frame_rotation(first)
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
        stopped = f"demuxing stopped after {len(rows)} packets ({ffmpeg_reason(e)})"
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


def _ticks(rate: Fraction | None, time_base: Fraction) -> int:
    """One frame's duration in time-base units (1 when the rate is unknown)."""
    if not rate:
        return 1
    return max(1, int(round(1 / (Fraction(rate) * time_base))))
