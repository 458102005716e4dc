"""decord side of the reader: fast batched random access, trusted only after it proves itself on the file.

decord maps a frame index to a position by its own packet bookkeeping, and on some files (MPEG-4 Part 2 in AVI
with B-frames) that bookkeeping is wrong: ``get_batch`` returns other frames than the ones asked for and
``get_frame_timestamp`` returns garbage. Nothing in its output says so. Before decord serves a file it must
pass three checks against the PyAV container index:

1. its frame count equals the index's;
2. its timestamps are finite, increasing, and equal to the index's (start-relative, within a quarter frame);
3. (lazily, before the first pixels are read) a spot check: a few frames fetched by random access, each
   after a seek back, equal the same frames decoded by PyAV (which tells frames apart by their pts).

The codec families known to break random access (MPEG-4 Part 2 and its relatives) fail check 2 by rule.
A file that fails reads in order instead (``next``, which is right on those files), or the
reader moves to PyAV (see :mod:`clamr_frames.video.reader`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from clamr_frames.video._pyav_backend import ReadStats, StreamIndex

log = logging.getLogger(__name__)

# MPEG-4 Part 2 and the codecs built on it, where decord's seeking has returned wrong frames.
UNRELIABLE_SEEK_CODECS = frozenset(
    {"mpeg4", "msmpeg4", "msmpeg4v1", "msmpeg4v2", "msmpeg4v3", "h263", "h263p", "flv1", "wmv1", "wmv2"}
)
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
        self.path = path
        self.index = index
        self._decord = decord
        self._readers: dict[tuple[int, int], object] = {}
        self.unreliable_reason: str | None = None  # why random access is not trusted (None: trusted so far)
        self.spot_checked = False
        vr = self._reader((index.width, index.height))
        self.unreliable_reason = self._check_index(vr)

    # ------------------------------------------------------------------ opening and checks
    def _reader(self, size: tuple[int, int]):
        vr = self._readers.get(size)
        if vr is None:
            kw = {} if size == (self.index.width, self.index.height) else {"width": size[0], "height": size[1]}
            try:
                vr = self._decord.VideoReader(self.path, ctx=self._decord.cpu(0), **kw)
            except Exception as e:  # decord raises bare DECORDError / RuntimeError for anything it cannot open
                raise DecordUnavailable(f"decord cannot open it ({_short(e)})") from None
            self._readers[size] = vr
        return vr

    def _check_index(self, vr) -> str | None:
        n = self.index.num_frames
        if len(vr) != n:
            return f"decord counts {len(vr)} frames, the container index {n}"
        if self.index.codec in UNRELIABLE_SEEK_CODECS:
            return f"codec {self.index.codec} (MPEG-4 Part 2 family): decord's random access is known to be wrong"
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
        # A frame shortly after a key frame near the start, in the middle and at the end, read by decord in
        # reverse order so that each read is a seek back (where decord goes wrong). PyAV gives the truth: it
        # identifies every decoded frame by its pts, so its own seeks cannot mislabel a frame.
        checks = sorted({min(int(k) + 2, n - 1) for k in (keys[0], keys[len(keys) // 2], keys[-1])})
        truth = _decode_truth(self.path, self.index, checks)
        if not truth:
            return None  # PyAV cannot decode these frames either: nothing to compare, the read will tell
        checks = [i for i in reversed(checks) if i in truth]
        vr = self._reader((self.index.width, self.index.height))
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

    # ------------------------------------------------------------------ reading
    def read(
        self,
        wanted: np.ndarray,
        size: tuple[int, int],
        chunk_size: int,
        stats: ReadStats,
        *,
        sequential: bool,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, frames)`` blocks of at most ``chunk_size`` frames for the sorted unique ``wanted``.

        Raises the decord error as is when decord fails part way; the caller moves the rest of the read to
        PyAV (``stats.decoded`` says how far decord got).
        """
        if sequential:
            yield from self._read_in_order(wanted, size, chunk_size, stats)
            return
        vr = self._reader(size)
        for s in range(0, len(wanted), chunk_size):
            block = wanted[s : s + chunk_size]
            frames = vr.get_batch(block.tolist()).asnumpy()
            stats.decoded += len(block)
            yield block, frames

    def _read_in_order(self, wanted, size, chunk_size, stats) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # A fresh reader starts at frame 0 without seeking, which is what goes wrong on these files; only
        # next() is used: skip_frames() seeks too, and returns wrong frames there as well.
        kw = {} if size == (self.index.width, self.index.height) else {"width": size[0], "height": size[1]}
        vr = self._decord.VideoReader(self.path, ctx=self._decord.cpu(0), **kw)
        pos = 0
        out_idx: list[int] = []
        out: list[np.ndarray] = []
        for i in wanted.tolist():
            for _ in range(i - pos):
                vr.next()
            out.append(vr.next().asnumpy())
            out_idx.append(i)
            pos = i + 1
            stats.decoded += 1
            if len(out) >= chunk_size:
                yield np.asarray(out_idx, dtype=np.int64), np.stack(out)
                out_idx, out = [], []
        if out:
            yield np.asarray(out_idx, dtype=np.int64), np.stack(out)


def _decode_truth(path: str, index: StreamIndex, wanted: list[int]) -> dict[int, np.ndarray]:
    """PyAV's frames at the sorted display indices ``wanted`` (those that decode)."""
    from clamr_frames.video._pyav_backend import PyAVBackend

    backend = PyAVBackend(path, index, threads=False)
    out: dict[int, np.ndarray] = {}
    for idx, frames in backend.read(np.asarray(wanted, dtype=np.int64), (index.width, index.height), 8, ReadStats()):
        out.update(zip(idx.tolist(), frames))
    return out


def _short(e: BaseException, n: int = 160) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= n else text[: n - 1] + "…"
