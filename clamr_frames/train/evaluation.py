"""Held-out evaluation during training: frame retrieval of every query against every candidate of its video."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from clamr_frames.train.batches import to_device, unwrap

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.train.collate import ContextProvider
    from clamr_frames.train.data import Example

#: Query types reported separately (``hit@k/asr``, ...), in the order of the summed counters.
QUERY_TYPES = ("video", "asr", "ocr")


def evaluate(
    model: Any,
    examples: Sequence["Example"],
    contexts: "ContextProvider",
    *,
    ks: Sequence[int] = (1, 5, 10),
    aggregation: str = "token_max",
    floor: float | None = None,
    doc_batch: int = 64,
    max_queries: int | None = None,
    device: "torch.device | str" = "cpu",
    rank: int = 0,
    world_size: int = 1,
    reduce: Any = None,
) -> dict[str, float]:
    """Frame retrieval on held-out examples: every query against every candidate frame of its video.

    For each query, the candidates of its video are ranked as the ``topk`` selection policy ranks them (by
    score, ties to the earlier frame); the evidence frames are the candidates inside the query's spans. ``floor``
    is the scorer's ``score_floor`` (see :func:`~clamr_frames.scoring.score_matrix`), as ``FrameSelector`` uses it.
    Process ``rank`` of ``world_size`` evaluates its share of the videos; ``reduce`` sums the counters over
    processes.

    Returns:
        ``hit@k``: share of queries with at least one evidence frame in the top ``k`` (frame recall@k in the
        retrieval sense, one relevant item per query); ``recall@k``: mean share of a query's evidence frames in
        its top ``k``; ``mrr``; the same ``hit@k`` per query type (``hit@k/asr``, ...); ``queries``.
    """
    import torch

    from clamr_frames.train.collate import positive_candidates

    groups = _group_by_video(examples, max_queries)
    ks = sorted({int(k) for k in ks})
    # sums: queries, mrr, hit@k..., recall@k..., then per type: count, hit@k...
    n_base = 2 + 2 * len(ks)
    sums = torch.zeros(n_base + len(QUERY_TYPES) * (1 + len(ks)), dtype=torch.float64)
    inner = unwrap(model)
    was_training = inner.training
    inner.eval()
    try:
        with torch.no_grad():
            for key in list(groups)[rank::world_size]:
                its = groups[key]
                ctx = contexts.context(its[0][0])
                scores = _score_video(inner, its, contexts, len(ctx), aggregation=aggregation, floor=floor,
                                      doc_batch=doc_batch, device=device)
                for row, (ex, _) in enumerate(its):
                    pos = positive_candidates(ctx.timestamps, ex.positives)
                    _count(sums, _ranks(scores[row].numpy(), np.asarray(pos)), ks, QUERY_TYPES.index(ex.query_type))
    finally:
        inner.train(was_training)
    if reduce is not None:
        sums = reduce(sums)
    return _summarise(sums, ks)


def _group_by_video(examples: Sequence["Example"], max_queries: int | None) -> dict[Any, list[tuple[Any, str]]]:
    """(example, query) pairs grouped by the video and context they are scored against, in order."""
    items = [(ex, q) for ex in examples for q in ex.queries]
    if max_queries is not None:
        items = items[: int(max_queries)]
    groups: dict[Any, list[tuple[Any, str]]] = {}
    for ex, q in items:
        key = (str(ex.video), str(ex.subtitles), str(ex.ocr) if isinstance(ex.ocr, Path) else ex.ocr)
        groups.setdefault(key, []).append((ex, q))
    return groups


def _score_video(inner: Any, its: list[tuple[Any, str]], contexts: "ContextProvider", n: int, *,
                 aggregation: str, floor: float | None, doc_batch: int, device: Any) -> "torch.Tensor":
    """Scores ``[queries, candidates]`` of one video's queries, documents embedded ``doc_batch`` at a time."""
    import torch

    from clamr_frames.scoring import score_matrix

    ex0 = its[0][0]
    qb = to_device(inner.prepare_queries([q for _, q in its]), device)
    q_emb, _ = inner.embed(inner(queries=qb))
    cols = []
    for s in range(0, n, doc_batch):
        docs = contexts.documents(ex0, list(range(s, min(n, s + doc_batch))), inner.uses_image)
        db = to_device(inner.prepare_documents(docs), device)
        _, d = inner.embed(inner(documents=db))
        cols.append(score_matrix(q_emb.emb, q_emb.mask, d.emb, d.mask, aggregation=aggregation,
                                 d_modality=d.modality, floor=floor).float().cpu())
    return torch.cat(cols, 1)


def _ranks(scores: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """0-based rank of each positive candidate in the order the selector's ``topk`` policy uses: by score,
    ties to the earlier frame.

    >>> _ranks(np.array([0.1, 0.9, 0.9, 0.2]), np.array([2, 3])).tolist()
    [1, 2]
    """
    order = np.argsort(-scores, kind="stable")
    position = np.empty(len(scores), dtype=np.int64)
    position[order] = np.arange(len(scores))
    return position[positives]


def _count(sums: "torch.Tensor", ranks: np.ndarray, ks: list[int], type_index: int) -> None:
    """Add one query's counters (see :func:`evaluate`'s layout) to ``sums`` in place."""
    import torch

    n_base = 2 + 2 * len(ks)
    ranks_t = torch.as_tensor(ranks)
    best = int(ranks_t.min())
    vals = [1.0, 1.0 / (best + 1)]
    vals += [float(best < k) for k in ks]
    vals += [float((ranks_t < k).float().mean()) for k in ks]
    sums[:n_base] += torch.tensor(vals, dtype=torch.float64)
    off = n_base + type_index * (1 + len(ks))
    sums[off] += 1
    sums[off + 1 : off + 1 + len(ks)] += torch.tensor([float(best < k) for k in ks], dtype=torch.float64)


def _summarise(sums: "torch.Tensor", ks: list[int]) -> dict[str, float]:
    """Counters → ``queries``, ``mrr``, ``hit@k``, ``recall@k`` and ``hit@k/<type>`` for the types seen."""
    n_base = 2 + 2 * len(ks)
    total = max(float(sums[0]), 1.0)
    out: dict[str, float] = {"queries": float(sums[0]), "mrr": float(sums[1]) / total}
    for i, k in enumerate(ks):
        out[f"hit@{k}"] = float(sums[2 + i]) / total
        out[f"recall@{k}"] = float(sums[2 + len(ks) + i]) / total
    for t, name in enumerate(QUERY_TYPES):
        off = n_base + t * (1 + len(ks))
        cnt = float(sums[off])
        if cnt:
            for i, k in enumerate(ks):
                out[f"hit@{k}/{name}"] = float(sums[off + 1 + i]) / cnt
    return out
