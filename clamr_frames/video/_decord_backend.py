"""decord side of the reader: fast batched random access, trusted only after it proves itself on the file.

decord maps a frame index to a position by its own packet bookkeeping, and on some files that bookkeeping is
wrong: ``get_batch`` returns other frames than the ones asked for, and nothing in its output says so. Measured
with decord 0.6.0 (tests/test_video_conformance.py): MPEG-4 Part 2 in AVI with B-frames (packed or not; there
``get_frame_timestamp`` returns garbage too), and open GOPs in any codec (HEVC from x265's defaults, H.264 with
``open-gop``: the frames shown before a key frame but stored after it throw its count off after a seek). On an
MP4 whose edit list hides frames, decord counts the hidden frames too, so its frame ``i`` is not frame ``i``.

So decord serves a file only after checks against the PyAV container index:

1. its frame count equals the index's (else decord is not used for the file at all);
2. random access only: the stream has no open GOPs, the codec is not of the MPEG-4 Part 2 family, the index
   can tell frames apart by timestamp, and decord's timestamps are finite, increasing, and equal to the
   index's (start-relative, within a quarter frame);
3. random access only, lazily before the first pixels are read: a spot check, frames around a few key frames
   fetched by random access, each after a seek back, equal the same frames decoded by PyAV.

A file that fails 2 or 3 is read by decord in order (``next``, right on all those files) or by PyAV (see
:mod:`clamr_frames.video.reader`). decord turns pictures by their display matrix itself, but its own
downscaling of a turned picture returns garbage (four channels), so turned videos are decoded at full size and
downscaled afterwards. decord's FFmpeg log lines (``[matroska,webm @ 0x...] Read error``) are switched off.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import numpy as np

from clamr_frames.video._display import resize_rgb
from clamr_frames.video._read import FrameRead
from clamr_frames.video._stream_index import StreamIndex

log = logging.getLogger(__name__)

# MPEG-4 Part 2, where decord's seeking returns wrong frames (with B-frames in AVI, and on the real DivX file
# in the facts), and its H.263-based relatives, untested. The Microsoft MPEG-4 variants (msmpeg4, no B-frames)
# are left to the checks: decord's random access was right on every frame of OpenCV's vtest.avi and of the
# generated MS-MPEG4 v3 file.
UNRELIABLE_SEEK_CODECS = frozenset({"mpeg4", "h263", "h263p", "flv1", "wmv1", "wmv2"})
SPOT_CHECK_TOLERANCE = 2.0  # mean absolute difference (0..255) allowed between the two decoders' pixels


class DecordUnavailable(Exception):
    """decord is not installed or cannot open the file (``reason`` says which)."""


def decord_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions decord raises while decoding (its own, plus the RuntimeError its FFI falls back to)."""
    try:
        from decord._ffi.base import DECORDError

        return (DECORDError, RuntimeError)
    except ImportError:  # pragma: no cover - depends on the decord build
        return (RuntimeError,)


class DecordBackend:
    """Frames through ``decord.VideoReader``: ``get_batch`` where random access is verified, else in order."""

    name = "decord"

    def __init__(self, path: str, index: StreamIndex):
        # PyAV must be loaded before decord: decord loads its bundled FFmpeg 4 and libvpx 6 with RTLD_GLOBAL,
        # and if they come first, PyAV's libvpx-vp9 encoder binds to that libvpx and fails to open.
        import av  # noqa: F401

        try:
            import decord
        except ImportError as e:
            raise DecordUnavailable(f"decord is not installed ({e})") from None
        decord.logging.set_level(decord.logging.QUIET)  # FFmpeg's own lines never reach the user raw
        self.path = path
        self.index = index
        self._decord = decord
        self._readers: dict[tuple[int, int], object] = {}
        self.unusable_reason: str | None = None  # why decord's frames are not the index's frames at all
        self.unreliable_reason: str | None = None  # why random access is not trusted (None: trusted so far)
        self.spot_checked = False
        self._cursor: list | None = None  # [size, decord reader, next position] of the in-order reading
        vr = self._reader(index.display_size)
        n = index.num_frames
        if len(vr) != n:
            self.unusable_reason = f"decord counts {len(vr)} frames, the container index {n}"
            if index.stored_frames != n:
                self.unusable_reason += f" ({index.stored_frames - n} are hidden by an edit list)"
        elif index.in_order is not None and index.incomplete is not None:
            # In decoding order, the last frames of a cut file can come out in the wrong places; PyAV leaves
            # them out, decord cannot tell.
            self.unusable_reason = "the file is cut off and its frames can only be told apart in decoding order"
        else:
            self.unreliable_reason = self._check_index(vr)

    # ------------------------------------------------------------------ opening and checks
    def _decode_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size to ask decord for: ``size`` itself, or the full size for a turned video (see above)."""
        return self.index.display_size if self.index.rotation else size

    def _reader(self, size: tuple[int, int]):
        size = self._decode_size(size)
        vr = self._readers.get(size)
        if vr is None:
            kw = self._size_kwargs(size)
            try:
                vr = self._decord.VideoReader(self.path, ctx=self._decord.cpu(0), **kw)
            except Exception as e:  # decord raises bare DECORDError / RuntimeError for anything it cannot open
                raise DecordUnavailable(f"decord cannot open it ({_short(e)})") from None
            self._prime(vr)
            self._readers[size] = vr
        return vr

    def _prime(self, vr) -> None:
        """Decode frame 0 once, before any seek: what the encoder wrote once at the start of the stream (x264's
        version, see :func:`~clamr_frames.video._priming.prime_decoder`) stays with decord's decoder across
        its seeks; without it decord's random access into a later GOP of tests/data/video/cockatoo.mp4 returns
        garbled pictures (mean difference 70 from the true frame)."""
        if len(vr) == 0:
            return
        try:
            vr.get_batch([0])
        except decord_error_types() as e:
            log.debug("%s: decord cannot decode frame 0 (%s)", self.path, _short(e))

    def _size_kwargs(self, size: tuple[int, int]) -> dict[str, int]:
        return {} if size == self.index.display_size else {"width": size[0], "height": size[1]}

    def _check_index(self, vr) -> str | None:
        """Why decord's random access is not trusted on this file (None when the index gives no reason)."""
        n = self.index.num_frames
        if self.index.codec in UNRELIABLE_SEEK_CODECS:
            return f"codec {self.index.codec} (MPEG-4 Part 2 family): decord's random access is known to be wrong"
        if self.index.in_order is not None:
            return f"frames can only be told apart in decoding order: {self.index.in_order}"
        if self.index.leading_pictures:
            return "open GOPs (frames shown before a key frame are stored after it): decord's seeking miscounts them"
        try:
            ts = np.asarray(vr.get_frame_timestamp(np.arange(n)), dtype=np.float64)[:, 0]
        except Exception as e:
            return f"decord cannot report frame timestamps ({_short(e)})"
        if not np.all(np.isfinite(ts)) or (n > 1 and not np.all(np.diff(ts) > 0)):
            return "decord's frame timestamps are not finite and increasing"
        ours = self.index.timestamps()
        step = self.index.duration / max(n, 1)
        # decord reports float32 seconds: allow their rounding on multi-hour files on top of a quarter frame.
        tol = max(0.25 * step, 2e-3) + 1e-7 * float(abs(ts).max(initial=0.0))
        err = float(np.abs((ts - ts[0]) - ours).max())
        if err > tol:
            return f"decord's frame timestamps differ from the container's by up to {err:.3f} s"
        return None

    def spot_check(self) -> str | None:
        """Compare a few randomly accessed frames with PyAV's in-order decode; the reason when they differ."""
        self.spot_checked = True
        if self.unreliable_reason is not None:
            return self.unreliable_reason
        n = self.index.num_frames
        keys = self.index.keyframes
        # The frame before, at and shortly after a key frame near the start, in the middle and at the end, read
        # by decord in reverse order so that each read is a seek back (where decord goes wrong). PyAV gives the
        # truth: it identifies every decoded frame by its pts, so its own seeks cannot mislabel a frame.
        around = (keys[0], keys[len(keys) // 2], keys[-1])
        checks = sorted({min(max(int(k) + d, 0), n - 1) for k in around for d in (-1, 0, 2)})
        truth = _decode_truth(self.path, self.index, checks)
        if not truth:
            return None  # PyAV cannot decode these frames either: nothing to compare, the read will tell
        checks = [i for i in reversed(checks) if i in truth]
        vr = self._reader(self.index.display_size)
        errors = decord_error_types()
        try:
            got = [vr.get_batch([i]).asnumpy()[0] for i in checks]
        except errors as e:
            return f"decord fails on the spot-check frames ({_short(e)})"
        for i, g in zip(checks, got):
            t = truth[i]
            if t.shape != g.shape:
                continue
            diff = float(np.abs(g.astype(np.int16) - t.astype(np.int16)).mean())
            if diff > SPOT_CHECK_TOLERANCE:
                return f"decord's random access returned another frame for frame {i} (mean difference {diff:.1f})"
        return None

    def close(self) -> None:
        self._readers.clear()
        self._cursor = None

    # ------------------------------------------------------------------ reading
    def read(self, read: FrameRead, *, sequential: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, frames)`` blocks of at most ``read.chunk_size`` frames of ``read.wanted``.

        Raises the decord error as is when decord fails part way; the caller moves the rest of the read to
        PyAV (``read.stats.decoded`` says how far decord got).
        """
        if sequential:
            for block, frames in read.blocks(self._decode_in_order(read)):
                yield block, self._sized(frames, read.size)
            return
        vr = self._reader(read.size)
        for s in range(0, len(read.wanted), read.chunk_size):
            block = read.wanted[s : s + read.chunk_size]
            frames = self._sized(vr.get_batch(block.tolist()).asnumpy(), read.size)
            read.stats.decoded += len(block)
            yield block, frames

    def _sized(self, frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """decord's frames at the display ``size`` (a turned video comes at full size: downscale it here)."""
        return resize_rgb(frames, size) if self.index.rotation else frames

    def _decode_in_order(self, read: FrameRead) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, picture)`` of ``read.wanted`` by ``next()`` from where the kept reader stopped (decode size)."""
        # A fresh reader starts at frame 0 without seeking, which is what goes wrong on these files; only
        # next() is used: skip_frames() seeks too, and returns wrong frames there as well. The reader is kept
        # between reads, so a read that starts further on goes on from where the last one stopped.
        decode_size = self._decode_size(read.size)
        if self._cursor is None or self._cursor[0] != decode_size or self._cursor[2] > int(read.wanted[0]):
            vr = self._decord.VideoReader(self.path, ctx=self._decord.cpu(0), **self._size_kwargs(decode_size))
            self._cursor = [decode_size, vr, 0]
        cursor = self._cursor
        vr = cursor[1]
        for i in read.wanted.tolist():
            for _ in range(i - cursor[2]):
                vr.next()
                cursor[2] += 1
            picture = vr.next().asnumpy()
            cursor[2] += 1
            yield i, picture


def _decode_truth(path: str, index: StreamIndex, wanted: list[int]) -> dict[int, np.ndarray]:
    """PyAV's frames at the sorted display indices ``wanted`` (those that decode)."""
    from clamr_frames.video._pyav_backend import PyAVBackend

    backend = PyAVBackend(path, index, threads=False)
    out: dict[int, np.ndarray] = {}
    try:
        for idx, frames in backend.read(FrameRead(np.asarray(wanted, dtype=np.int64), index.display_size, 8)):
            out.update(zip(idx.tolist(), frames))
    finally:
        backend.close()
    return out


# decord's messages start with its log prefix: "[21:38:03] /github/workspace/src/video/video_reader.cc:270: [path] "
_DECORD_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\] \S+:\d+: (\[[^\]]*\] )?")


def _short(e: BaseException, n: int = 160) -> str:
    """decord's message without its log prefix (time, source line, the file's path), cut to ``n`` characters."""
    text = _DECORD_PREFIX.sub("", " ".join(str(e).split())) or type(e).__name__
    text = text[:1].lower() + text[1:].rstrip(".")
    return text if len(text) <= n else text[: n - 1] + "…"
