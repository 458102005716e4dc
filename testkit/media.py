"""Test videos whose frames carry their own index, so a test can check that "frame i" really is frame i.

Each frame shows a row of black/white blocks across its middle third: bit ``b`` of the frame number is block
``b`` (white = 1), least significant bit on the left. The blocks are large enough to survive lossy
compression (H.264, MPEG-4 Part 2, VP9) and a downscale to half size. Above and below the code band a
gradient drifts from frame to frame so that the encoders see motion, and inter frames are not empty.

Tests and benchmarks (``benchmarks/decode.py``) import these helpers: ``from testkit.media import coded_frame, ...``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from clamr_frames.video.writer import write_video

CODE_BITS = 16


def coded_frame(index: int, width: int = 160, height: int = 96, bits: int = CODE_BITS) -> np.ndarray:
    """An RGB frame (uint8 [height, width, 3]) with ``index`` drawn as ``bits`` black/white blocks."""
    if not 0 <= index < 2**bits:
        raise ValueError(f"frame index {index} does not fit in {bits} bits")
    x = np.arange(width, dtype=np.int32)[None, :]
    y = np.arange(height, dtype=np.int32)[:, None]
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[..., 0] = (x * 3 + index * 7) % 256
    img[..., 1] = (y * 5 + index * 3) % 256
    img[..., 2] = ((x + y) * 2 + index * 11) % 256
    top, bottom = height // 3, height - height // 3
    img[top:bottom] = 128  # a neutral band, so the blocks' edges are sharp
    edges = np.linspace(0, width, bits + 1).round().astype(int)
    for b in range(bits):
        img[top:bottom, edges[b] : edges[b + 1]] = 255 if (index >> b) & 1 else 0
    return img


def read_code(frame: np.ndarray, bits: int = CODE_BITS) -> int:
    """The index drawn by :func:`coded_frame`, read back from a (possibly compressed or resized) frame."""
    h, w = frame.shape[:2]
    top, bottom = h // 3, h - h // 3
    band = frame[top + (bottom - top) // 4 : bottom - (bottom - top) // 4].astype(np.float32).mean(axis=(0, 2))
    edges = np.linspace(0, w, bits + 1)
    value = 0
    for b in range(bits):
        lo, hi = edges[b], edges[b + 1]
        margin = (hi - lo) / 4
        if band[int(round(lo + margin)) : max(int(round(hi - margin)), int(round(lo + margin)) + 1)].mean() > 128:
            value |= 1 << b
    return value


def read_codes(frames: np.ndarray | Sequence[np.ndarray], bits: int = CODE_BITS) -> list[int]:
    """:func:`read_code` of each frame."""
    return [read_code(f, bits) for f in frames]


def coded_frames(n: int, width: int = 160, height: int = 96, bits: int = CODE_BITS) -> Iterator[np.ndarray]:
    """Frames 0 .. n-1 of a coded video, generated lazily."""
    for i in range(n):
        yield coded_frame(i, width, height, bits)


def make_video(
    path: str | Path,
    n: int,
    fps: float = 10.0,
    *,
    width: int = 160,
    height: int = 96,
    bits: int = CODE_BITS,
    **kwargs,
) -> Path:
    """Write ``n`` coded frames to ``path`` with :func:`~clamr_frames.video.writer.write_video` (``kwargs``
    go to it: ``timestamps``, ``audio``, ``gop``, ``bframes``, ``codec``, ``crf``)."""
    try:
        return write_video(path, coded_frames(n, width, height, bits), fps, **kwargs)
    except Exception:
        # Once decord is loaded before PyAV, PyAV's libvpx-vp9 encoder cannot open in this process (decord's
        # own libvpx takes its symbols); a fresh interpreter writes the file instead.
        if "decord" not in sys.modules:
            raise
        _make_video_in_subprocess(path, n, fps, width, height, bits, kwargs)
        return Path(path)


def _make_video_in_subprocess(path, n, fps, width, height, bits, kwargs) -> None:
    args = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    if isinstance(args.get("audio"), list):
        args["audio"] = {"__array__": args["audio"]}
    payload = json.dumps(
        {"path": str(path), "n": n, "fps": fps, "width": width, "height": height, "bits": bits, "kwargs": args}
    )
    code = (
        "import json, sys; import numpy as np; from testkit import media; "
        "p = json.loads(sys.argv[1]); kw = p['kwargs']; a = kw.get('audio'); "
        "kw['audio'] = np.asarray(a['__array__'], dtype=np.float32) if a else None; "
        "media.make_video(p['path'], p['n'], p['fps'], width=p['width'], height=p['height'], bits=p['bits'], **kw)"
    )
    # the child imports testkit from this checkout: its root goes first on the child's PYTHONPATH
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    subprocess.run([sys.executable, "-c", code, payload], check=True, env=env)


def packet_spans(path: str | Path) -> list[tuple[int, int]]:
    """(byte offset, size) of each video packet in file order, to aim corruption at chosen frames."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return [(int(p.pos), int(p.size)) for p in c.demux(stream) if p.size and p.pos is not None and p.pos >= 0]


def corrupt_packets(path: str | Path, first: int, last: int, out: str | Path | None = None) -> Path:
    """Overwrite video packets ``first`` .. ``last`` (file order, inclusive) with zeros; returns the new file."""
    spans = packet_spans(path)
    data = bytearray(Path(path).read_bytes())
    start = spans[first][0]
    end = spans[last][0] + spans[last][1]
    data[start:end] = bytes(end - start)
    out = Path(out) if out is not None else Path(path)
    out.write_bytes(bytes(data))
    return out


def truncate(path: str | Path, keep: float, out: str | Path) -> Path:
    """Copy the first ``keep`` fraction of ``path``'s bytes to ``out`` (a download cut off)."""
    data = Path(path).read_bytes()
    out = Path(out)
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def tone(seconds: float, rate: int = 16000, freq: float = 440.0) -> np.ndarray:
    """A mono float32 sine wave, for videos with a soundtrack."""
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
