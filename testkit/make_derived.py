"""Rebuild the derived files of tests/data/derived/ from the committed real recordings (see README.md).

Each reproduces a way real files trip decoders, on real speech (public domain, like its source):

- ``jfk_live.mkv``: JFK's clip under a still picture, muxed as a live Matroska stream: no duration in the header
  (what recorders and stream dumps write); a reader must find the length by reading.
- ``jfk_audio_breaks.mp4``: JFK's clip (AAC) under a still picture, with the bytes of the audio packets between
  4 s and 6 s overwritten by garbage: audio that fails mid-file, while the video stays intact.
- ``LJ001-0001_cover.mp3``: LJ001-0001 as MP3 with an attached JPEG cover picture (an ID3 APIC frame), which
  FFmpeg shows as a one-frame video stream.

and re-encode real footage (imageio's cockatoo.mp4, public domain) in the codecs of the sample AVIs the
conformance tests once took from Debian's opencv-doc (whose Megamind.avi is a film trailer nobody may copy here):

- ``cockatoo_divx_packed.avi``: MPEG-4 Part 2 with 2 B-frames, DivX "packed bitstream" (a reference VOP and the
  first B-VOP in one chunk, an N-VOP after the B-frames, DivX503 user data): the layout on which decord returned
  neighbouring frames and dropped frames (as Megamind.avi);
- ``cockatoo_msmpeg4v3.avi``: MS-MPEG4 v3 / DivX 3 (as vtest.avi);
- ``cockatoo_cinepak.avi``: Cinepak (as tree.avi);
- ``montage_cuts.mp4``: H.264 montage of the real clips with hard cuts at 4, 7 and 10 s (cockatoo 0-4 s, the deer
  of sample_h264_aac.mp4 and the room of realshort.mp4 each slowed to 3 s, cockatoo 10-14 s), for shot detection.

    python -m testkit.make_derived  (needs PyAV; deterministic for one PyAV/FFmpeg build)
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

HERE = Path(__file__).resolve().parents[1] / "tests" / "data"
OUT = HERE / "derived"
RATE = 16000


def _mono(path: Path, rate: int = RATE) -> np.ndarray:
    out = []
    with av.open(str(path)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in c.decode(audio=0):
            out += [f.to_ndarray().reshape(-1) for f in res.resample(frame)]
        out += [f.to_ndarray().reshape(-1) for f in res.resample(None)]
    return np.clip(np.concatenate(out), -1, 1).astype(np.float32)


def _picture(h: int = 64, w: int = 96) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 3] = (0, 40, 120)
    img[:, w // 3 : 2 * w // 3] = 235
    img[:, 2 * w // 3 :] = (190, 20, 40)
    return img


def _samples(chunk: np.ndarray, fmt: str) -> np.ndarray:
    """One mono block in the encoder's sample format."""
    if fmt.startswith("s16"):
        return (chunk * 32767).astype(np.int16)[None]
    if fmt.startswith("s32"):
        return (chunk.astype(np.float64) * 2147483647).astype(np.int32)[None]
    return chunk[None]


def _mux(path: Path, wave: np.ndarray, *, fmt: str | None, audio_codec: str, options: dict | None = None) -> None:
    with av.open(str(path), "w", format=fmt, options=options or {}) as c:
        v = c.add_stream("libx264", rate=2)
        v.width, v.height, v.pix_fmt = 96, 64, "yuv420p"
        v.options = {"preset": "ultrafast", "crf": "30"}
        a = c.add_stream(audio_codec, rate=RATE, layout="mono")
        n = int(np.ceil(len(wave) / RATE * 2))
        for i in range(n):
            for p in v.encode(av.VideoFrame.from_ndarray(_picture(), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        fmt_a = a.codec_context.format.name
        step = a.codec_context.frame_size or 1024
        pts = 0
        for s in range(0, len(wave), step):
            chunk = wave[s : s + step]
            arr = _samples(chunk, fmt_a)
            frame = av.AudioFrame.from_ndarray(arr, format=fmt_a, layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, pts, Fraction(1, RATE)
            pts += len(chunk)
            for p in a.encode(frame):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def live_mkv(out: Path) -> None:
    _mux(out, _mono(HERE / "speech" / "jfk.flac"), fmt="matroska", audio_codec="pcm_s16le", options={"live": "1"})


def audio_breaks(out: Path) -> None:
    tmp = out.with_suffix(".intact.mp4")
    _mux(tmp, _mono(HERE / "speech" / "jfk.flac"), fmt="mp4", audio_codec="aac")
    data = bytearray(tmp.read_bytes())
    rng = np.random.default_rng(0)
    with av.open(str(tmp)) as c:
        a = c.streams.audio[0]
        spans = [(p.pos, p.size) for p in c.demux(a) if p.pts is not None and p.pos is not None
                 and 4.0 <= float(p.pts * a.time_base) < 6.0]
    for pos, size in spans:
        data[pos : pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    tmp.unlink()
    out.write_bytes(bytes(data))


def cover_mp3(out: Path) -> None:
    from PIL import Image

    wave = _mono(HERE / "speech" / "LJ001-0001.flac", 22050)
    jpeg = io.BytesIO()
    Image.fromarray(np.repeat(np.repeat(_picture(), 2, 0), 2, 1)).save(jpeg, "JPEG", quality=80)
    with av.open(str(out), "w", format="mp3") as c:
        a = c.add_stream("libmp3lame", rate=22050, layout="mono")
        a.bit_rate = 48000
        pic = c.add_stream("mjpeg")
        pic.width, pic.height, pic.pix_fmt = 192, 128, "yuvj420p"
        pic.disposition = av.stream.Disposition.attached_pic.value
        pkt = av.Packet(jpeg.getvalue())
        pkt.stream = pic
        c.mux(pkt)
        fmt_a = a.codec_context.format.name
        step, pts = a.codec_context.frame_size, 0
        for s in range(0, len(wave), step):
            chunk = wave[s : s + step]
            arr = _samples(chunk, fmt_a)
            frame = av.AudioFrame.from_ndarray(arr, format=fmt_a, layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 22050, pts, Fraction(1, 22050)
            pts += len(chunk)
            for p in a.encode(frame):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def _real_frames(path: Path, start: float, stop: float, size: tuple[int, int] = (320, 180)) -> list[np.ndarray]:
    """RGB frames of ``path`` shown in [start, stop) seconds, scaled to ``size``."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.time is not None and start <= f.time < stop:
                out.append(f.to_ndarray(format="rgb24", width=size[0], height=size[1]))
    return out


def _encode_avi(path: Path, frames: list[np.ndarray], codec: str, fps: int, *, packed: bool = False, **opts) -> None:
    from testkit.conformance_media import pack_divx

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height = w, h
        s.pix_fmt = "rgb24" if codec == "cinepak" else "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, fps)
        s.gop_size = 2 * fps
        s.options = {k: str(v) for k, v in opts.items()}
        if codec == "mpeg4":
            s.codec_context.max_b_frames = 2
        packets = []
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts = i
            packets += s.encode(fr)
        packets += s.encode()
        if packed:
            packets = pack_divx(packets, max(1, (fps - 1).bit_length()))
        for p in packets:
            c.mux(p)


def real_footage() -> None:
    cockatoo = HERE / "video" / "cockatoo.mp4"
    clip = _real_frames(cockatoo, 2.0, 6.0)[::2]  # 4 s at 10 fps
    _encode_avi(OUT / "cockatoo_divx_packed.avi", clip, "mpeg4", 10, packed=True, qscale=5, flags="+bitexact")
    _encode_avi(OUT / "cockatoo_msmpeg4v3.avi", clip, "msmpeg4", 10, qscale=5)
    _encode_avi(OUT / "cockatoo_cinepak.avi", [f[:176:2, ::2].copy() for f in clip[:20]], "cinepak", 10)
    fps = 10
    head = _real_frames(cockatoo, 0.0, 4.0)[::2]
    deer = _real_frames(HERE / "video" / "sample_h264_aac.mp4", 0.0, 1.0)
    room = _real_frames(HERE / "video" / "realshort.mp4", 0.0, 1.2)
    tail = _real_frames(cockatoo, 10.0, 14.0)[::2]
    slow = lambda fr: [fr[min(len(fr) - 1, i * len(fr) // (3 * fps))] for i in range(3 * fps)]  # noqa: E731
    frames = head[: 4 * fps] + slow(deer) + slow(room) + tail[: 4 * fps]
    with av.open(str(OUT / "montage_cuts.mp4"), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 320, 180, "yuv420p"
        s.options = {"preset": "veryfast", "crf": "26"}
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts = i
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    live_mkv(OUT / "jfk_live.mkv")
    audio_breaks(OUT / "jfk_audio_breaks.mp4")
    cover_mp3(OUT / "LJ001-0001_cover.mp3")
    real_footage()


if __name__ == "__main__":
    main()
