"""One read of frames as the reader hands it to a backend: which frames, at what size, in what chunks, with
its counters; and the one place decoded pictures are gathered into the ``(indices, frames)`` blocks every
backend yields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ReadStats:
    """Counters of one read, shared by the backends that serve it."""

    requested: int = 0
    decoded: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class FrameRead:
    """A read of frames (see :meth:`clamr_frames.video.VideoReader.iter_frames`).

    Attributes:
        wanted: int64 sorted, unique display indices.
        size: (width, height) of the pictures handed out, as displayed.
        chunk_size: most frames in one block.
        stats: the read's counters; a backend that takes over part way (decord to PyAV) goes on counting in them.
    """

    wanted: np.ndarray
    size: tuple[int, int]
    chunk_size: int
    stats: ReadStats = field(default_factory=ReadStats)

    def blocks(self, pictures: Iterator[tuple[int, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(indices, frames)`` blocks (int64 [m], uint8 [m, H, W, 3], ``m <= chunk_size``) of the ``(index,
        picture)`` pairs a decoder yields, each picture counted as decoded when it is taken.

        Closing the blocks closes ``pictures`` (a decoder generator leaves its ``with`` and closes its file).
        """
        idx: list[int] = []
        out: list[np.ndarray] = []
        try:
            for i, picture in pictures:
                idx.append(i)
                out.append(picture)
                self.stats.decoded += 1
                if len(out) >= self.chunk_size:
                    yield np.asarray(idx, dtype=np.int64), np.stack(out)
                    idx, out = [], []
            if out:
                yield np.asarray(idx, dtype=np.int64), np.stack(out)
        finally:
            close = getattr(pictures, "close", None)
            if close is not None:
                close()
