"""Scores of every candidate frame of one video's index: the one entry point the façade calls.

:func:`score_frames` chooses the right scoring for what the index holds and what the scorer declares:

- plain (or pooled) fp16 documents: :func:`~clamr_frames.scoring.maxsim` (``token_max`` / ``modality_max``);
- int8 / binary :class:`~clamr_frames.index.codecs.CompressedDocs`:
  :func:`~clamr_frames.scoring.compressed.score_compressed`;
- a single-vector scorer with several modalities per frame (``fusion``, LanguageBind V+A): the fused z-scores of
  :func:`~clamr_frames.scoring.fusion.fuse_scores` replace MaxSim's raw maximum as the scores (the argmax still
  says which token matched).

Pure tensor code: it takes the query embedding and the stored tensors, never a model or a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clamr_frames.errors import InputError
from clamr_frames.index.codecs import CompressedDocs
from clamr_frames.scoring.compressed import score_compressed
from clamr_frames.scoring.fusion import fuse_scores, modality_similarities
from clamr_frames.scoring.maxsim import MaxSimArgmax, maxsim

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.encoders.base import DocEmbeddings

__all__ = ["score_frames"]


def score_frames(
    query: "torch.Tensor",
    docs: "DocEmbeddings | CompressedDocs",
    *,
    aggregation: str = "token_max",
    normalize: bool = False,
    floor: float | None = None,
    fusion: str | None = None,
) -> "tuple[torch.Tensor, MaxSimArgmax]":
    """Score every document (candidate frame) of one index against one query, with the argmax for "why".

    Args:
        query: ``[n_q, d]`` query token embeddings.
        docs: the index's documents: :class:`~clamr_frames.encoders.base.DocEmbeddings` (packed ``[N_tok, d]``
            tokens, ``offsets [n_docs + 1]``, ``modality_ids [N_tok]``) or
            :class:`~clamr_frames.index.codecs.CompressedDocs` (int8 / binary).
        aggregation: ``"token_max"`` or ``"modality_max"`` (see :func:`~clamr_frames.scoring.maxsim`).
        normalize: divide by the number of query tokens.
        floor: lower bound of each query token's best similarity (the scorer's ``score_floor``; CLaMR: 0.0).
        fusion: the scorer's ``score_fusion`` (``"max"`` / ``"mean"``) for single-vector multi-modality
            documents, else None. Not with int8 / binary documents.

    Returns:
        ``(scores [n_docs] float, argmax)``, ``argmax`` a :class:`~clamr_frames.scoring.MaxSimArgmax` whose
        ``token_index [n_docs, n_q]`` rows index the index's packed tokens.

    Raises:
        InputError: ``fusion`` with int8 / binary documents, or a fused query of more than one token.

    Example:
        >>> import torch
        >>> from clamr_frames.encoders.base import DocEmbeddings
        >>> docs = DocEmbeddings(torch.eye(3)[[0, 1, 2, 0]], torch.tensor([0, 2, 3, 4]), torch.tensor([2, 3, 2, 2]))
        >>> scores, why = score_frames(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), docs)
        >>> scores, why.token_index[0]      # doc 0 holds both query directions: 1 + 1
        (tensor([2., 0., 1.]), tensor([0, 1]))
    """
    if isinstance(docs, CompressedDocs):
        if fusion:
            raise InputError("int8 / binary compression does not apply to score-fusion scorers; use pool or none")
        return score_compressed(query, docs, aggregation=aggregation, normalize=normalize, return_argmax=True,
                                floor=floor)
    scores, argmax = maxsim(query, docs.embeddings, docs.offsets, aggregation=aggregation,
                            modality_ids=docs.modality_ids, normalize=normalize, return_argmax=True, floor=floor)
    if fusion:
        # single-vector V+A: frame and audio similarities live on different scales, so their z-scores are fused
        # instead of taking MaxSim's raw maximum
        q = query.reshape(-1, query.shape[-1])
        if q.shape[0] != 1:
            raise InputError(f"a single-vector query has one token, got {q.shape[0]}")
        scores = fuse_scores(modality_similarities(docs, q[0]), fusion)
    return scores, argmax
