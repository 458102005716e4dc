"""Score fusion for single-vector scorers with several modalities per frame (LanguageBind V+A).

A V+A document has two tokens, the frame (``Modality.VIDEO``) and the audio window around it
(``Modality.AUDIO``); the query is one vector. Plain MaxSim would take the raw maximum of the two cosine
similarities, which is uncalibrated (audio–text and image–text similarities live on different scales), so the
per-modality similarities (:func:`modality_similarities`) are z-scored over the video's candidates and fused by
``max`` or ``mean`` (:func:`fuse_scores`). The scorer declares the method (``encoder.score_fusion``);
:func:`clamr_frames.scoring.score_frames` applies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from clamr_frames.errors import InputError
from clamr_frames.types import FUSIONS, Modality

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.encoders.base import DocEmbeddings

#: Columns of :func:`modality_similarities` for V+A, in this order.
FUSED_MODALITIES = (int(Modality.VIDEO), int(Modality.AUDIO))


def modality_similarities(
    docs: "DocEmbeddings", query: "torch.Tensor", modalities: Sequence[int] = FUSED_MODALITIES
) -> "torch.Tensor":
    """Cosine similarity of the single query vector to each document's token of each modality.

    Args:
        docs: packed document tokens.
        query: ``[dim]`` or ``[1, dim]``.
        modalities: column order.

    Returns:
        ``[n_docs, len(modalities)]`` float32, NaN where a document has no token of that modality (the best
        one if it has several).

    Example:
        >>> import torch
        >>> from clamr_frames.encoders.base import DocEmbeddings
        >>> emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])        # doc 0: VIDEO + AUDIO, doc 1: VIDEO
        >>> docs = DocEmbeddings(emb, torch.tensor([0, 2, 3]), torch.tensor([1, 4, 1]))
        >>> modality_similarities(docs, torch.tensor([1.0, 0.0]))
        tensor([[1.0000, 0.0000],
                [0.6000,    nan]])
    """
    import torch

    q = query.reshape(-1).float()
    emb = docs.embeddings.float()
    if emb.shape[-1] != q.numel():
        raise InputError(f"query has {q.numel()} dims, documents have {emb.shape[-1]}")
    n = docs.num_docs
    lengths = docs.offsets[1:].to(torch.int64) - docs.offsets[:-1].to(torch.int64)
    doc_of = torch.repeat_interleave(torch.arange(n), lengths)
    sims = emb @ q
    mods = docs.modality_ids.to(torch.int64)
    out = torch.full((n, len(modalities)), float("-inf"))
    for j, m in enumerate(modalities):
        sel = mods == int(m)
        out[:, j] = out[:, j].scatter_reduce(0, doc_of[sel], sims[sel], reduce="amax", include_self=True)
    return out.masked_fill(torch.isneginf(out), float("nan"))


def fuse_scores(per_modality: "torch.Tensor", method: str = "max") -> "torch.Tensor":
    """Fuse per-modality similarities of one video's candidates into one score each.

    Each column is z-scored over the candidates that have that modality (population std; a column with fewer
    than two values or no spread becomes 0), then ``max`` or ``mean`` is taken over the modalities a candidate
    has. A candidate with none scores ``-inf``.

    Args:
        per_modality: ``[n_docs, M]``, NaN where a candidate lacks a modality (see :func:`modality_similarities`).
        method: ``"max"`` or ``"mean"``.

    Returns:
        ``[n_docs]`` float32.

    Example:
        >>> import torch
        >>> s = torch.tensor([[0.30, 0.10], [0.20, 0.30], [0.10, float("nan")]])   # columns: video, audio
        >>> fuse_scores(s, "mean")     # video z: 1.22, 0, -1.22; audio z: -1, 1
        tensor([ 0.1124,  0.5000, -1.2247])
        >>> fuse_scores(s, "max")
        tensor([ 1.2247,  1.0000, -1.2247])
    """
    import torch

    if method not in FUSIONS:
        raise InputError(f"fusion must be one of {FUSIONS}, got {method!r}")
    x = per_modality.float()
    if x.dim() != 2:
        raise InputError(f"per_modality must be [n_docs, M], got shape {tuple(x.shape)}")
    present = ~torch.isnan(x)
    count = present.sum(0).clamp(min=1)
    filled = torch.where(present, x, torch.zeros_like(x))
    mean = filled.sum(0) / count
    std = torch.sqrt((torch.where(present, x - mean, torch.zeros_like(x)) ** 2).sum(0) / count)
    z = torch.where(std > 1e-12, (x - mean) / std.clamp(min=1e-12), torch.zeros_like(x))
    z = torch.where(present, z, torch.full_like(x, float("nan")))
    have = present.any(1)
    if method == "max":
        fused = torch.where(present, z, torch.full_like(x, float("-inf"))).amax(1)
    else:
        fused = torch.where(present, z, torch.zeros_like(x)).sum(1) / present.sum(1).clamp(min=1)
    return torch.where(have, fused, torch.full_like(fused, float("-inf")))


__all__ = ["FUSED_MODALITIES", "FUSIONS", "fuse_scores", "modality_similarities"]
