"""MaxSim over compressed indexes: the same outputs as :func:`clamr_frames.scoring.maxsim`, from the layouts of
:mod:`clamr_frames.index.codecs`.

- fp16 (pooled) documents are scored directly;
- int8 documents are de-quantised a block of whole documents at a time (:func:`score_compressed`; the float copy
  stays bounded);
- binary documents go through a Hamming-MaxSim prefilter over the sign bits (:func:`hamming_maxsim`) and exact
  re-ranking of the best ``rerank`` frames from their float16 rows (:func:`binary_rerank`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from clamr_frames.errors import InputError
from clamr_frames.index.codecs import DEFAULT_RERANK, CompressedDocs, pack_signs, unpack_signs
from clamr_frames.scoring.maxsim import MaxSimArgmax, maxsim

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Rows decoded at a time when scoring an int8 index (bounds the float copy).
_DECODE_ROWS = 8192


_POPCOUNT: "torch.Tensor | None" = None


def hamming_distance(a: "torch.Tensor", b: "torch.Tensor") -> "torch.Tensor":
    """Pairwise Hamming distances between packed bit rows: ``[n, B]`` x ``[m, B]`` uint8 → ``[n, m]`` int64.

    Example:
        >>> import torch
        >>> hamming_distance(torch.tensor([[0b1010]], dtype=torch.uint8),
        ...                  torch.tensor([[0b1010], [0b0101], [0]], dtype=torch.uint8))
        tensor([[0, 4, 2]])
    """
    import torch

    global _POPCOUNT
    if _POPCOUNT is None:
        _POPCOUNT = torch.tensor([bin(i).count("1") for i in range(256)], dtype=torch.int64)
    x = torch.bitwise_xor(a[:, None, :], b[None, :, :])
    return _POPCOUNT[x.long()].sum(-1)


def hamming_maxsim(
    query_bits: "torch.Tensor",
    doc_bits: "torch.Tensor",
    offsets: "torch.Tensor | Sequence[int]",
    dim: int,
    *,
    modality_ids: "torch.Tensor | None" = None,
    aggregation: str = "token_max",
    floor: float | None = None,
) -> "torch.Tensor":
    """MaxSim over sign bits: ``score[i] = sum_q max_{t in doc i} (1 - 2 * hamming(q, t) / dim)``.

    ``1 - 2 h / d`` is the cosine of the two ±1 sign vectors, so this is MaxSim of the binarised query against the
    binarised documents. It is computed as a matmul of ±1 vectors (identical to counting differing bits, and
    much faster in torch than a popcount), in chunks of documents. A document without tokens scores ``-inf``.

    Args:
        query_bits: ``[n_q, ceil(dim / 8)]`` uint8 (:func:`pack_signs` of the query).
        doc_bits: ``[N_tok, ceil(dim / 8)]`` uint8 packed document tokens.
        offsets: ``[n_docs + 1]`` document boundaries.
        dim: embedding size before packing.
        modality_ids / aggregation / floor: as for :func:`clamr_frames.scoring.maxsim`.

    Example:
        >>> import torch
        >>> q = pack_signs(torch.tensor([[1.0, 1.0, -1.0, -1.0]]))
        >>> docs = pack_signs(torch.tensor([[1.0, 1.0, -1.0, 1.0], [-1.0, -1.0, 1.0, 1.0]]))
        >>> hamming_maxsim(q, docs, [0, 1, 2], 4)          # 1 - 2*1/4, 1 - 2*4/4
        tensor([ 0.5000, -1.0000])
    """
    import torch

    q = unpack_signs(query_bits, dim, scale=1.0 / dim)
    return _chunked_score(
        q, lambda a, b: unpack_signs(doc_bits[a:b], dim, torch.float16), offsets, modality_ids, aggregation, False, False,
        floor=floor,
    )


def binary_rerank(
    query: "torch.Tensor",
    doc_bits: "torch.Tensor",
    offsets: "torch.Tensor | Sequence[int]",
    fetch_fp16: "Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]",
    *,
    candidates: int = DEFAULT_RERANK,
    modality_ids: "torch.Tensor | None" = None,
    aggregation: str = "token_max",
    normalize: bool = False,
    return_argmax: bool = False,
    floor: float | None = None,
) -> "torch.Tensor | tuple[torch.Tensor, MaxSimArgmax]":
    """Hamming-MaxSim prefilter over the bits, then exact MaxSim on the ``candidates`` best frames.

    The returned scores are exact for the re-ranked frames. The other frames keep their prefilter order but are
    shifted (one constant for all of them) to lie strictly below every re-ranked frame: top-k for any
    ``k <= candidates`` is decided by exact scores, and policies that use every score still see a full profile.

    Args:
        query: ``[n_q, d]`` float query tokens.
        doc_bits: ``[N_tok, ceil(d / 8)]`` packed sign bits of every document token.
        offsets: ``[n_docs + 1]``.
        fetch_fp16: ``doc_ids [c] (ascending) -> (embeddings [T, d], local offsets [c + 1])`` of those documents.
        candidates: frames to re-rank exactly.
        modality_ids / aggregation / normalize / floor: as for :func:`clamr_frames.scoring.maxsim`.
        return_argmax: also return a :class:`~clamr_frames.scoring.MaxSimArgmax`; rows of frames that were
            not re-ranked hold ``-1`` / ``-inf``.

    Example:
        >>> import torch
        >>> emb = torch.tensor([[1.0, 0.2], [0.9, -0.3], [-1.0, 0.1]])
        >>> off = torch.tensor([0, 1, 2, 3])
        >>> def fetch(ids):
        ...     return emb[ids], torch.arange(len(ids) + 1)
        >>> binary_rerank(torch.tensor([[1.0, 0.0]]), pack_signs(emb), off, fetch, candidates=2)
        tensor([ 1.0000,  0.9000, -1.0000])
    """
    import torch

    off = torch.as_tensor(offsets, dtype=torch.int64)
    n_docs = int(off.numel()) - 1
    d = int(query.shape[1])
    approx = hamming_maxsim(pack_signs(query), doc_bits, off, d, modality_ids=modality_ids, aggregation=aggregation,
                            floor=floor)
    c = min(int(candidates), n_docs)
    cand = torch.topk(approx, c).indices.sort().values if c else torch.zeros(0, dtype=torch.int64)
    emb, local_off = fetch_fp16(cand)
    mods = None
    if modality_ids is not None:
        mods = torch.cat([modality_ids[int(off[i]) : int(off[i + 1])] for i in cand.tolist()]) if c else modality_ids[:0]
    kw: dict[str, Any] = {"aggregation": aggregation, "modality_ids": mods, "normalize": normalize, "floor": floor}
    if aggregation == "modality_max" and modality_ids is not None:
        kw["modalities"] = _index_modalities(modality_ids, floor)
    got = maxsim(query, emb, local_off, return_argmax=return_argmax, **kw)
    exact, arg = (got if return_argmax else (got, None))
    scores = approx.clone() / (query.shape[0] if normalize else 1)
    rest = torch.ones(n_docs, dtype=torch.bool)
    rest[cand] = False
    if c and bool(rest.any()):
        finite = exact[torch.isfinite(exact)]
        lowest = float(finite.min()) if finite.numel() else 0.0
        top_rest = float(scores[rest].max())
        if math.isfinite(top_rest) and top_rest >= lowest:
            scores[rest] -= top_rest - lowest + 1e-4 * (1.0 + abs(lowest))  # strictly below every re-ranked frame
    scores[cand] = exact.to(scores.dtype)
    if not return_argmax:
        return scores
    return scores, _scatter_argmax(arg, cand, n_docs, local_off, off)


def _scatter_argmax(arg: "MaxSimArgmax", cand: "torch.Tensor", n_docs: int, local_off: "torch.Tensor", off: "torch.Tensor") -> "MaxSimArgmax":
    """Put the argmax of the re-ranked documents back into rows of all ``n_docs`` with global token rows."""
    import torch

    # local token row -> global token row: global = off[doc] + (local - local_off[j])
    shift = torch.zeros(int(local_off[-1]) if local_off.numel() else 0, dtype=torch.int64)
    for j, i in enumerate(cand.tolist()):
        shift[int(local_off[j]) : int(local_off[j + 1])] = int(off[i]) - int(local_off[j])

    def full(t: "torch.Tensor | None", fill: float) -> "torch.Tensor | None":
        if t is None:
            return None
        out = torch.full((n_docs, *t.shape[1:]), fill, dtype=t.dtype)
        out[cand] = t
        return out

    ti = arg.token_index
    gi = torch.where(ti >= 0, ti + shift[ti.clamp(min=0)] if shift.numel() else ti, ti)
    return MaxSimArgmax(
        token_index=full(gi, -1),
        similarity=full(arg.similarity, float("-inf")),
        modality=full(arg.modality, -1),
        token_modality=full(arg.token_modality, -1),
        modality_scores=full(arg.modality_scores, float("-inf")),
        modalities=arg.modalities,
    )


def score_compressed(
    query: "torch.Tensor",
    docs: CompressedDocs,
    *,
    aggregation: str = "token_max",
    normalize: bool = False,
    return_argmax: bool = False,
    floor: float | None = None,
) -> "torch.Tensor | tuple[torch.Tensor, MaxSimArgmax]":
    """MaxSim of ``query`` against compressed documents; same outputs as :func:`clamr_frames.scoring.maxsim`
    (``floor`` as there).

    fp16 (pooled) documents are scored directly; int8 documents are de-quantised a block of rows at a time; binary
    documents go through the Hamming prefilter and exact re-ranking (:func:`binary_rerank`).

    Example:
        >>> import torch
        >>> from clamr_frames.encoders.base import DocEmbeddings
        >>> from clamr_frames.index.codecs import compress, parse_compression
        >>> docs = DocEmbeddings(torch.eye(2).half(), torch.tensor([0, 1, 2]), torch.tensor([2, 2], dtype=torch.int8))
        >>> c, _ = compress(docs, parse_compression("int8"))
        >>> score_compressed(torch.tensor([[1.0, 0.0]]), c).round(decimals=3)
        tensor([1., 0.])
    """
    if docs.spec.codec == "binary":
        if docs.fetch_fp16 is None:
            raise InputError("a binary index needs its fp16 rows for re-ranking (fetch_fp16 is missing)")
        return binary_rerank(
            query, docs.tensors["bits"], docs.offsets, docs.fetch_fp16, candidates=docs.spec.rerank,
            modality_ids=docs.modality_ids, aggregation=aggregation, normalize=normalize, return_argmax=return_argmax,
            floor=floor,
        )
    if docs.spec.codec == "fp16":
        return maxsim(query, docs.tensors["embeddings"], docs.offsets, aggregation=aggregation,
                      modality_ids=docs.modality_ids, normalize=normalize, return_argmax=return_argmax, floor=floor)
    return _chunked_score(query, docs.decode, docs.offsets, docs.modality_ids, aggregation, normalize, return_argmax,
                          floor=floor)


def _index_modalities(modality_ids: "torch.Tensor", floor: float | None) -> list[int]:
    """The ids that compete under modality_max in every block: the index's, plus padding's (0) with a floor."""
    import torch

    ids = {int(x) for x in torch.unique(modality_ids).tolist()}
    if floor is not None and ids:
        ids.add(0)
    return sorted(ids)


def _chunked_score(
    query: "torch.Tensor",
    rows: "Callable[[int, int], torch.Tensor]",
    offsets: "torch.Tensor | Sequence[int]",
    modality_ids: "torch.Tensor | None",
    aggregation: str,
    normalize: bool,
    return_argmax: bool,
    *,
    floor: float | None = None,
) -> Any:
    """maxsim over documents decoded block by block (whole documents per block), results merged."""
    import torch

    off = torch.as_tensor(offsets, dtype=torch.int64)
    n_docs = int(off.numel()) - 1
    kw: dict[str, Any] = {"aggregation": aggregation, "normalize": normalize, "floor": floor}
    if aggregation == "modality_max" and modality_ids is not None:
        kw["modalities"] = _index_modalities(modality_ids, floor)
    scores, args = [], []
    d0 = 0
    while d0 < n_docs or (n_docs == 0 and not scores):
        # as many whole documents as fit in _DECODE_ROWS rows (at least one)
        limit = int(off[d0]) + _DECODE_ROWS
        d1 = max(d0 + 1, int(torch.searchsorted(off, limit, right=True)) - 1) if n_docs else 0
        d1 = min(d1, n_docs)
        a, b = int(off[d0]), int(off[d1])
        local = off[d0 : d1 + 1] - a
        mods = None if modality_ids is None else modality_ids[a:b]
        got = maxsim(query, rows(a, b), local, modality_ids=mods, return_argmax=return_argmax, **kw)
        if return_argmax:
            s, arg = got
            ti = torch.where(arg.token_index >= 0, arg.token_index + a, arg.token_index)
            args.append(arg._replace(token_index=ti))
        else:
            s = got
        scores.append(s)
        if n_docs == 0:
            break
        d0 = d1
    out = torch.cat(scores) if scores else torch.zeros(0)
    if not return_argmax:
        return out

    def cat(name: str) -> Any:
        vals = [getattr(x, name) for x in args]
        return None if vals[0] is None else torch.cat(vals)

    return out, MaxSimArgmax(
        token_index=cat("token_index"),
        similarity=cat("similarity"),
        modality=cat("modality"),
        token_modality=cat("token_modality"),
        modality_scores=cat("modality_scores"),
        modalities=args[0].modalities,
    )


__all__ = ["binary_rerank", "hamming_distance", "hamming_maxsim", "score_compressed"]
