"""Write videos with PyAV (it bundles FFmpeg with libx264), for the synthetic generator and tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

_CONTAINER_CODECS = {
    ".mp4": "libx264",
    ".mkv": "libx264",
    ".avi": "mpeg4",
    ".webm": "libvpx-vp9",
}


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    codec: str | None = None,
    timestamps: Sequence[float] | None = None,
    audio: np.ndarray | Iterable[np.ndarray] | None = None,
    audio_rate: int = 16000,
    gop: int | None = None,
    bframes: int | None = None,
    crf: int = 28,
) -> Path:
    """Encode ``frames`` (uint8 RGB arrays of equal shape, even sides) to ``path``.

    Args:
        fps: nominal frame rate; with ``timestamps`` it is only the stream's declared rate.
        codec: an FFmpeg encoder; default by extension (.mp4/.mkv → libx264, .avi → mpeg4,
            .webm → libvpx-vp9).
        timestamps: presentation time of each frame in seconds, for variable frame rate files.
        audio: optional mono float32 samples in [-1, 1] at ``audio_rate``, encoded as AAC
            (or MP3 in .avi, PCM in .mkv): one array, or an iterable of blocks (a long
            soundtrack never needs to be in memory at once).
        gop: key-frame interval in frames (default: 2 s worth).
        bframes: B-frames between references (x264 / mpeg4), to exercise reordering.
    """
    import av

    path = Path(path)
    codec = codec or _CONTAINER_CODECS.get(path.suffix.lower(), "libx264")
    path.parent.mkdir(parents=True, exist_ok=True)
    vfr = timestamps is not None
    time_base = Fraction(1, 1000) if vfr else Fraction(fps).limit_denominator(100000) ** -1
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(100000))
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.gop_size = int(gop if gop is not None else max(1, round(2 * fps)))
        options: dict[str, str] = {}
        if codec.startswith("libx264"):
            options = {"preset": "ultrafast", "crf": str(crf)}
            if bframes is not None:
                options = {"preset": "veryfast", "crf": str(crf), "bf": str(bframes)}
        elif codec == "mpeg4":
            options = {"qscale": "4"}
            if bframes:
                stream.codec_context.max_b_frames = bframes
        elif codec == "libvpx-vp9":
            options = {"deadline": "realtime", "cpu-used": "8", "crf": "40", "b": "0"}
        stream.options = options
        audio_stream = None
        if audio is not None:
            acodec = {".avi": "libmp3lame", ".mkv": "pcm_s16le"}.get(path.suffix.lower(), "aac")
            audio_stream = container.add_stream(acodec, rate=audio_rate)
            audio_stream.layout = "mono"
        first = True
        for i, frame in enumerate(frames):
            arr = np.ascontiguousarray(frame, dtype=np.uint8)
            if first:
                stream.height, stream.width = arr.shape[:2]
                first = False
            vf = av.VideoFrame.from_ndarray(arr, format="rgb24")
            vf.pts = int(round(timestamps[i] * 1000)) if vfr else i
            vf.time_base = time_base
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio_stream is not None:
            _write_audio(container, audio_stream, audio, audio_rate)
    return path


def _frames_of(samples: np.ndarray | Iterable[np.ndarray], block: int) -> Iterator[np.ndarray]:
    """Consecutive ``block``-sample pieces of one array or a stream of arrays (the last zero-padded)."""
    blocks = [samples] if isinstance(samples, np.ndarray) else samples
    carry = np.zeros(0, dtype=np.float32)
    for b in blocks:
        carry = np.concatenate([carry, np.asarray(b, dtype=np.float32).reshape(-1)])
        n = len(carry) - len(carry) % block
        for start in range(0, n, block):
            yield carry[start : start + block]
        carry = carry[n:]
    if len(carry):
        yield np.pad(carry, (0, block - len(carry)))


def _write_audio(container, stream, samples: np.ndarray | Iterable[np.ndarray], rate: int) -> None:
    import av

    fmt = stream.codec_context.codec.audio_formats[0].name if stream.codec_context.codec.audio_formats else "fltp"
    block = 1024
    pts = 0
    for chunk in _frames_of(samples, block):
        if fmt.startswith("s16"):
            data = (np.clip(chunk, -1, 1) * 32767).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(data, format="s16" if fmt == "s16" else fmt, layout="mono")
        else:
            frame = av.AudioFrame.from_ndarray(chunk[None, :].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = pts
        pts += block
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
