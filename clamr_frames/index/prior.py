"""The visual prior of an index: computed while the index is built, or when it is first needed.

When the encoder or OCR decodes the candidates, ``build_index`` hands their frames to a
:class:`~clamr_frames.context.shots.PriorBuilder` as they pass and stores the result beside the embeddings
(under 1 ms per candidate). Otherwise (a text-only encoder without OCR, which decodes no frame at all), and for
an index built before the prior existed (or with another version of it, by the Ray pipeline, or resumed after an
interruption, when the finished parts were not decoded again), the index is stored without it, and one decoding
pass over the candidates computes it the first time a policy needs it (``coverage``, ``gated``:
``FrameSelector.index(..., prior=True)``, which ``select`` calls); the embeddings are kept. Decoding at index
time would have added about half again to the text-only scorer's indexing, which decodes nothing
(``benchmarks/visual_prior.py``), for every user, most of whom select with ``topk``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.context.shots import PriorBuilder, VisualPrior
    from clamr_frames.index.store import IndexStore, VideoIndex

#: Longer side of the frames a prior-only pass decodes: the thumbnails are 16x9, and converting fewer pixels
#: to RGB is most of what this pass can save (measured: the same shots, novelty correlated 0.996+ with 448).
PRIOR_DECODE_SIDE = 160


def prior_from_video(
    video: str | Path,
    frame_indices: np.ndarray,
    timestamps: np.ndarray,
    settings: Any,
    *,
    progress: bool = True,
) -> "VisualPrior":
    """Decode the candidates (``settings``: the index's sampling) of ``video`` and compute their visual prior.

    Frames are matched to candidates by native frame index; one that does not decode counts as missing. The
    pass decodes with PyAV whatever the index's backend: the same frames (the reader names frames by the
    container's index), 2-5x faster than decord for sparse candidates (``benchmarks/RESULTS.md``), at most
    :data:`PRIOR_DECODE_SIDE` pixels on the longer side.
    """
    from clamr_frames.errors import VideoError

    backends = ["pyav"] if settings.backend == "pyav" else ["pyav", settings.backend]
    for backend in backends:
        try:
            return _decode_prior(video, frame_indices, timestamps, settings, backend, progress)
        except VideoError:
            if backend == backends[-1]:  # the index's own backend could not read it either
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _decode_prior(
    video: str | Path, frame_indices: np.ndarray, timestamps: np.ndarray, settings: Any, backend: str, progress: bool
) -> "VisualPrior":
    from tqdm.auto import tqdm

    from clamr_frames.context.shots import PriorBuilder
    from clamr_frames.video import VideoReader

    builder = PriorBuilder()
    want = np.asarray(frame_indices, dtype=np.int64)
    pos = 0
    with VideoReader(video, backend=backend) as reader, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped frames were reported when the index was built
        bar = tqdm(total=len(want), desc=f"visual prior {Path(video).name}", unit="frame", disable=not progress)
        chunks = reader.iter_candidates(
            fps=settings.fps, num_frames=settings.num_frames, max_side=PRIOR_DECODE_SIDE, chunk_size=settings.chunk_size
        )
        for chunk in chunks:
            got = dict(zip((int(i) for i in chunk.indices), chunk.frames))
            last = int(chunk.indices[-1]) if len(chunk) else -1
            end = int(np.searchsorted(want, last, side="right"))
            builder.add(timestamps[pos:end], [got.get(int(i)) for i in want[pos:end]])
            bar.update(end - pos)
            pos = end
        builder.add(timestamps[pos:], [None] * (len(want) - pos))
        bar.close()
    return builder.finish()


def ensure_prior(
    index: "VideoIndex",
    store: "IndexStore",
    video: str | Path,
    settings: Any,
    builder: "PriorBuilder | None" = None,
    *,
    decode: bool = True,
    progress: bool = True,
) -> "VideoIndex":
    """Give ``index`` its visual prior (stored with it) if it has none; call with the index's lock held.

    ``builder``: the prior builder the index build fed, used when it saw every candidate. ``decode``: else
    decode the candidates to compute it (False: leave the index without a prior until a policy needs it).
    """
    from clamr_frames.errors import InputError, VideoError

    if index.prior is not None:
        return index
    try:
        if builder is not None and len(builder) == index.num_candidates:
            prior = builder.finish()
        elif not decode:
            return index
        else:
            prior = prior_from_video(video, index.frame_indices, index.timestamps, settings, progress=progress)
    except (InputError, VideoError) as e:  # e.g. no candidate frame decodes: the index works without a prior
        warnings.warn(f"{video}: no visual prior ({e}); coverage is not available for this index", stacklevel=3)
        return index
    index.manifest = store.write_prior(index.path, index.manifest, prior)
    index.prior = prior
    return index
