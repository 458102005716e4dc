"""Small coded videos in the codecs and containers real-world files use, for the decoding conformance suite.

Every frame carries its own index (``testkit.media.coded_frame``), so a test reads back which frame a decoder returned.
The files cover what breaks frame identity in decoders and seeking:

======================  ===========================================================================================
name                    what it exercises
======================  ===========================================================================================
``h264_editlist.mp4``   H.264 with B-frames; an edit list that drops the first frames of a GOP (what a stream-copy
                        cut makes): they are in the file, decoded, and not shown
``h264_start2s.mp4``    H.264 with B-frames whose first frame is shown at 2 s (an empty edit, non-zero start time)
``mpeg4_unpacked.avi``  MPEG-4 Part 2 with B-frames in AVI, one VOP per chunk (FFmpeg's own muxing)
``mpeg4_packed.avi``    the same, DivX-style "packed bitstream": a reference VOP and the first B-VOP shown before it
                        share one chunk, an N-VOP (not coded) chunk follows the B-frames, the user data says
                        ``DivX503b1393p``; key-frame chunks can carry a B-frame shown before them
``h264.avi``            H.264 with B-frames in AVI (no presentation times in the container)
``msmpeg4v3.avi``       MS-MPEG4 v3 (DivX 3) in AVI
``mjpeg.avi``           Motion JPEG in AVI (every frame a key frame)
``vp9.webm``            VP9 with alt-ref (hidden) frames in WebM
``hevc.mkv``            HEVC (x265) with B-frames in Matroska
``h264_vfr.mp4``        H.264 with B-frames, variable frame rate
``h264_rotated.mp4``    H.264 with a display matrix that turns the picture 90 degrees clockwise
======================  ===========================================================================================

All encoders are PyAV's bundled FFmpeg's (libx264, mpeg4, msmpeg4, mjpeg, libvpx-vp9, libx265); a file whose
encoder is missing from the installed build is reported by :func:`missing_encoder` so its tests skip with the
reason. Files are a few hundred KiB at most and written in well under a second each.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from testkit.media import coded_frame, read_code

FPS = 10
N = 60  # frames per file
W, H = 160, 96
GOP = 12


@dataclass(frozen=True)
class Shape:
    """How many frames of what size a file holds (the tests' files are small; benchmarks ask for bigger)."""

    frames: int = N
    width: int = W
    height: int = H


SMALL = Shape()
EDIT_CUT = 5  # frames h264_editlist.mp4's edit list hides
DIVX_USER_DATA = b"\x00\x00\x01\xb2DivX503b1393p"  # the 'p' tells decoders the bitstream is packed
VOP_START = b"\x00\x00\x01\xb6"


@dataclass(frozen=True)
class Spec:
    """One conformance file: its name, the encoder it needs, and how it is written."""

    name: str
    encoder: str
    write: Callable[[Path, Shape], None]
    note: str
    rotation: int = 0  # degrees clockwise the picture is turned for display


def missing_encoder(encoder: str) -> str | None:
    """Why ``encoder`` cannot be used with the installed PyAV (None when it can)."""
    import av

    try:
        av.Codec(encoder, "w")
    except Exception as e:  # av raises UnknownCodecError / ValueError depending on the version
        return f"PyAV {av.__version__}'s FFmpeg has no {encoder} encoder ({type(e).__name__})"
    return None


def _frames(shape: Shape, n: int | None = None):
    for i in range(shape.frames if n is None else n):
        yield av_frame(coded_frame(i, shape.width, shape.height))


def first_code(name: str) -> int:
    """The number drawn on frame index 0 of file ``name`` (an edit list can hide the first frames)."""
    return EDIT_CUT if name == "h264_editlist.mp4" else 0


def av_frame(rgb: np.ndarray):
    import av

    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")


def _encode(
    stream, frames, container, *, times: list[int] | None = None, transform: Callable | None = None
) -> None:
    """Encode ``frames`` (pts = their index, or ``times``) into ``stream`` and mux every packet; ``transform``
    may rewrite the list of encoded packets before they are muxed."""
    packets = []
    for i, frame in enumerate(frames):
        frame.pts = i if times is None else times[i]
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode())
    if transform is not None:
        packets = transform(packets)
    for p in packets:
        container.mux(p)


def _video_stream(
    container, codec: str, shape: Shape, *, pix_fmt: str = "yuv420p", rate: Fraction | int = FPS, **opts
):
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height, stream.pix_fmt = shape.width, shape.height, pix_fmt
    stream.time_base = Fraction(1, rate) if isinstance(rate, int) else 1 / rate
    stream.codec_context.time_base = stream.time_base
    stream.gop_size = GOP
    stream.options = {k.replace("_", "-") if k != "x265_params" else "x265-params": str(v) for k, v in opts.items()}
    return stream


# ---------------------------------------------------------------------------------------------- H.264 / HEVC
def write_h264_editlist(path: Path, shape: Shape = SMALL, cut: int = EDIT_CUT) -> None:
    """H.264 with 3 B-frames whose edit list starts ``cut`` frames into the first GOP, as a stream-copy cut makes.

    The frames before the cut are in the file (the rest of the GOP is predicted from them) but flagged to be
    discarded: frame index 0 is the frame drawn as ``cut``, and the stream holds ``shape.frames`` to show."""
    _write_h264_shifted(path, shape, -cut, shape.frames + cut)


def write_h264_late_start(path: Path, shape: Shape = SMALL, start: float = 2.0) -> None:
    """H.264 with 3 B-frames whose first frame is shown ``start`` seconds in (an empty edit before it)."""
    _write_h264_shifted(path, shape, round(start * FPS), shape.frames)


def _write_h264_shifted(path: Path, shape: Shape, shift: int, n: int) -> None:
    import av

    def move(packets):
        for p in packets:  # frames at negative times get an edit list that skips them; later ones an empty edit
            p.pts, p.dts = p.pts + shift, p.dts + shift
        return packets

    with av.open(str(path), "w") as c:
        stream = _video_stream(c, "libx264", shape, preset="veryfast", crf=23, bf=3)
        _encode(stream, _frames(shape, n), c, transform=move)


def write_hevc_mkv(path: Path, shape: Shape = SMALL) -> None:
    import av

    with av.open(str(path), "w") as c:
        stream = _video_stream(c, "libx265", shape, preset="ultrafast", crf=26,
                               x265_params=f"log-level=error:bframes=3:keyint={GOP}:min-keyint={GOP}:scenecut=0")
        _encode(stream, _frames(shape), c)


def write_h264_vfr(path: Path, shape: Shape = SMALL) -> None:
    import av

    with av.open(str(path), "w") as c:
        stream = _video_stream(c, "libx264", shape, rate=Fraction(FPS), preset="veryfast", crf=23, bf=2)
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        _encode(stream, _frames(shape), c, times=[round(t * 1000) for t in vfr_times(shape.frames)])


def vfr_times(n: int = N) -> np.ndarray:
    """Variable gaps of 30..350 ms between frames, in whole milliseconds."""
    gaps = np.random.default_rng(11).uniform(0.03, 0.35, n - 1)
    return np.round(np.concatenate([[0.0], np.cumsum(gaps)]), 3)


def write_h264_rotated(path: Path, shape: Shape = SMALL) -> None:
    """H.264 MP4 whose track header's matrix turns the picture 90 degrees clockwise (a phone held upright)."""
    import av

    with av.open(str(path), "w") as c:
        stream = _video_stream(c, "libx264", shape, preset="veryfast", crf=23, bf=2)
        _encode(stream, _frames(shape), c)
    set_mp4_rotation(path, 90)


def set_mp4_rotation(path: Path, degrees: int) -> None:
    """Write the display matrix of a clockwise turn by ``degrees`` (a multiple of 90) into every ``tkhd`` box."""
    data = bytearray(path.read_bytes())
    one, minus = 0x00010000, 0xFFFF0000  # 16.16 fixed point 1 and -1
    a, b, c, d = {0: (one, 0, 0, one), 90: (0, one, minus, 0), 180: (minus, 0, 0, minus), 270: (0, minus, one, 0)}[
        degrees % 360
    ]
    at = 0
    while (at := data.find(b"tkhd", at + 1)) > 0:
        version = data[at + 4]
        matrix = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8  # version/flags, times+ids+duration, reserved..
        data[matrix : matrix + 36] = struct.pack(">9I", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------------------------------------- AVI
def write_mpeg4_avi(path: Path, shape: Shape = SMALL, *, packed: bool) -> None:
    """MPEG-4 Part 2 with 2 B-frames between references in AVI, one VOP per chunk or DivX-packed."""
    import av

    with av.open(str(path), "w") as c:
        stream = _video_stream(c, "mpeg4", shape, qscale=4, flags="+bitexact")
        stream.codec_context.max_b_frames = 2
        transform = None
        if packed:
            bits = max(1, (FPS - 1).bit_length())  # vop_time_increment bits for a resolution of FPS

            def transform(packets):
                return pack_divx(packets, bits)

        _encode(stream, _frames(shape), c, transform=transform)


def pack_divx(packets: list, time_bits: int) -> list:
    """Turn MPEG-4 Part 2 packets (decode order, one VOP each) into DivX packed-bitstream chunks.

    A reference VOP followed by B-VOPs becomes ``[ref + B1] [B2] ... [Bk] [N-VOP]``: as many chunks as frames,
    each chunk at its display position, the reference shown when its N-VOP comes. Key-frame VOPs also get the
    DivX user data that marks the stream as packed.
    """
    import av

    data = [bytes(p) for p in packets]
    kinds = [_vop_type(d) for d in data]
    out: list[tuple[bytes, bool]] = []
    i = 0
    while i < len(data):
        j = i + 1
        while j < len(data) and kinds[j] == "B":
            j += 1
        ref, bs = data[i], data[i + 1 : j]
        key = bool(packets[i].is_keyframe)
        if key:
            at = ref.find(VOP_START)
            ref = ref[:at] + DIVX_USER_DATA + ref[at:]
        if bs:
            out.append((ref + bs[0], key))
            out.extend((b, False) for b in bs[1:])
            out.append((_n_vop(ref, time_bits), False))
        else:
            out.append((ref, key))
        i = j
    stream = packets[0].stream
    result = []
    for k, (payload, key) in enumerate(out):
        p = av.Packet(payload)
        p.stream = stream
        p.time_base = packets[0].time_base
        p.pts = p.dts = k
        p.is_keyframe = key
        result.append(p)
    return result


def _vop_type(packet: bytes) -> str:
    at = packet.find(VOP_START)
    return "IPBS"[packet[at + 4] >> 6] if at >= 0 else "?"


def _n_vop(ref: bytes, time_bits: int) -> bytes:
    """A not-coded P-VOP with the same time as the VOP ``ref``: the reference's header bits up to its time
    stamp, then ``vop_coded = 0`` and byte-alignment stuffing."""
    at = ref.find(VOP_START) + 4
    bits = "".join(f"{b:08b}" for b in ref[at : at + 8])
    pos = 2  # vop_coding_type
    while bits[pos] == "1":  # modulo_time_base
        pos += 1
    pos += 1 + 1 + time_bits + 1  # its terminating 0, marker, vop_time_increment, marker
    header = "01" + bits[2:pos] + "0"  # coded as a P-VOP, not coded
    header += "0" + "1" * ((8 - (len(header) + 1) % 8) % 8)  # stuffing: a 0 then 1s up to the byte boundary
    return VOP_START + int(header, 2).to_bytes(len(header) // 8, "big")


def write_h264_avi(path: Path, shape: Shape = SMALL) -> None:
    """H.264 with 3 B-frames in AVI (as old x264 releases came): AVI keeps no presentation times."""
    import av

    with av.open(str(path), "w") as c:
        _encode(_video_stream(c, "libx264", shape, preset="veryfast", crf=23, bf=3), _frames(shape), c)


def write_msmpeg4_avi(path: Path, shape: Shape = SMALL) -> None:
    import av

    with av.open(str(path), "w") as c:
        _encode(_video_stream(c, "msmpeg4", shape, qscale=4), _frames(shape), c)


def write_mjpeg_avi(path: Path, shape: Shape = SMALL) -> None:
    import av

    with av.open(str(path), "w") as c:
        _encode(_video_stream(c, "mjpeg", shape, pix_fmt="yuvj420p", qscale=3), _frames(shape), c)


def write_vp9_webm(path: Path, shape: Shape = SMALL) -> None:
    import av

    with av.open(str(path), "w") as c:
        stream = _video_stream(c, "libvpx-vp9", shape, deadline="good", cpu_used=8, crf=40, b=0,
                               lag_in_frames=8, auto_alt_ref=1)
        _encode(stream, _frames(shape), c)


SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec("h264_editlist.mp4", "libx264", write_h264_editlist, "H.264 B-frames, edit list drops 5 frames"),
        Spec("h264_start2s.mp4", "libx264", write_h264_late_start, "H.264 B-frames, starts at 2 s"),
        Spec("mpeg4_unpacked.avi", "mpeg4", lambda p, s: write_mpeg4_avi(p, s, packed=False), "MPEG-4 ASP B-frames"),
        Spec("mpeg4_packed.avi", "mpeg4", lambda p, s: write_mpeg4_avi(p, s, packed=True), "MPEG-4 ASP packed (DivX)"),
        Spec("h264.avi", "libx264", write_h264_avi, "H.264 B-frames in AVI"),
        Spec("msmpeg4v3.avi", "msmpeg4", write_msmpeg4_avi, "MS-MPEG4 v3"),
        Spec("mjpeg.avi", "mjpeg", write_mjpeg_avi, "Motion JPEG"),
        Spec("vp9.webm", "libvpx-vp9", write_vp9_webm, "VP9 alt-ref"),
        Spec("hevc.mkv", "libx265", write_hevc_mkv, "HEVC B-frames"),
        Spec("h264_vfr.mp4", "libx264", write_h264_vfr, "H.264 B-frames, variable rate"),
        Spec("h264_rotated.mp4", "libx264", write_h264_rotated, "H.264, rotated 90", rotation=90),
    ]
}


# ---------------------------------------------------------------------------------------------- reading back
def in_order_decode(path: Path, every: int = 1, keep: set[int] | None = None) -> tuple[int, dict[int, np.ndarray]]:
    """One in-order PyAV decode of ``path`` (no seeking): the number of frames, and the frames at positions
    ``keep`` (all when None) as displayed (turned by the display matrix), every ``every``-th pixel."""
    import av

    from clamr_frames.video._display import frame_rotation, turn

    frames: dict[int, np.ndarray] = {}
    n = 0
    with av.open(str(path)) as container:
        for n, frame in enumerate(container.decode(video=0), start=1):
            if keep is None or n - 1 in keep:
                frames[n - 1] = turn(frame.to_ndarray(format="rgb24"), frame_rotation(frame))[::every, ::every]
    return n, frames


def drawn(frames: np.ndarray, rotation: int = 0) -> list[int]:
    """The numbers drawn into frames that were turned ``rotation`` degrees clockwise for display."""
    return [read_code(np.rot90(f, k=rotation // 90)) for f in frames]


def write(name: str, directory: Path, shape: Shape = SMALL) -> Path:
    """Write the conformance file ``name`` (``shape.frames`` frames of ``shape``'s size) into ``directory`` once,
    and return its path."""
    prefix = "" if shape == SMALL else f"{shape.width}x{shape.height}x{shape.frames}-"
    path = Path(directory) / (prefix + name)
    if not path.exists():
        tmp = path.with_name("partial-" + path.name)
        SPECS[name].write(tmp, shape)
        tmp.replace(path)
    return path
