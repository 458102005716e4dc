"""Contrastive losses for late-interaction (and single-vector) frame retrieval.

Every loss scores the *local* queries of this process against the documents of *all* processes (gathered with a
differentiable all-gather), so the negatives of a query are the whole global batch, as in CLaMR's trainer. Each
process averages over its own queries; the data-parallel wrapper averages the gradients over processes, so the
update equals the one a single process would compute on the gathered batch (tested with 2 gloo processes).

Scores come from :mod:`clamr_frames.scoring` (:func:`~clamr_frames.scoring.score_matrix`,
:func:`~clamr_frames.scoring.per_modality_scores`): there is no second MaxSim implementation here.

Losses (``kind``), with ``S[i, j]`` the aggregated score of query ``i`` against document ``j``, ``t_i`` the index of
query ``i``'s positive document and ``P[i, j, m]`` the per-modality score (modality ``m`` only):

- ``infonce`` — CLaMR's main loss: ``CE(S[i] / tau, t_i)``. Hard negatives are simply more documents in ``S``.
- ``modality_positive`` — L_ModPos (paper Eq. 4): the positive logit is the score of the query's *gold modality*
  in its positive document, ``P[i, t_i, gold_i]``, instead of ``S[i, t_i]``.
- ``modality_negative`` — L_ModNeg (Eq. 5): as ``modality_positive``, and every (document, modality) score except
  the gold positive is an extra negative, so the positive frame's wrong modalities must score below its right
  one. (The reference built this "fixed" positive but concatenated the unfixed one; this is the fixed form.)
- ``pairwise`` — ``softplus(max_{j != t_i} S[i, j] - S[i, t_i])``, no temperature, as the reference.

Documents that are *also* positives of a query (another frame inside the query's evidence span, from another
example of the same video) are masked out of that query's negatives: see :func:`false_negative_mask`.

When the gold modality is absent from the positive document (an ASR query on a frame without subtitles), the
modality variants fall back to the aggregated score for that query, so the loss stays finite.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from clamr_frames.errors import InputError
from clamr_frames.types import Modality

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

LOSS_KINDS = ("infonce", "modality_positive", "modality_negative", "pairwise")
#: Modality columns of the per-modality scores: fixed so that a column means the same modality in every batch
#: (the reference numbered only the modalities present in a batch, which shifted them).
ALL_MODALITIES = tuple(int(m) for m in Modality)
_TAU_MIN, _TAU_MAX = 1e-3, 1.0


# ---------------------------------------------------------------------------------------------- distributed
def world_size() -> int:
    """Processes in the default group (1 when torch.distributed is not initialised)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def gather_padded(x: "Tensor", *, differentiable: bool = True, pad_value: float = 0.0) -> tuple["Tensor", list[int]]:
    """Concatenate ``x`` ``[n, L, ...]`` (or ``[n]``) of every process along dim 0; ``n`` and ``L`` may differ.

    Every process pads its tensor to the largest ``n`` and ``L`` (with ``pad_value``), all-gathers, and drops the
    padded rows again; padded positions of dim 1 remain (callers pass masks). With ``differentiable`` the gather is
    ``torch.distributed.nn.functional.all_gather``, whose backward sums the gradients of every process's copy
    into the owner's tensor. Without a process group it returns ``x`` unchanged.

    Returns:
        ``(gathered, counts)``: the concatenation and the ``n`` of each process, in rank order.

    Example:
        >>> import torch
        >>> gathered, counts = gather_padded(torch.ones(2, 3))   # single process: unchanged
        >>> tuple(gathered.shape), counts
        ((2, 3), [2])
    """
    import torch
    import torch.distributed as dist

    if world_size() == 1:
        return x, [int(x.shape[0])]
    dims = torch.tensor([x.shape[0], x.shape[1] if x.dim() > 1 else 0], dtype=torch.int64, device=x.device)
    all_dims = [torch.empty_like(dims) for _ in range(dist.get_world_size())]
    dist.all_gather(all_dims, dims)
    counts = [int(d[0]) for d in all_dims]
    n_max = max(counts)
    l_max = max(int(d[1]) for d in all_dims)
    padded = _pad_to(x, n_max, l_max, pad_value)
    if differentiable:
        from torch.distributed.nn.functional import all_gather

        with warnings.catch_warnings():
            # deprecated in favour of a private module; still the documented differentiable all-gather
            warnings.simplefilter("ignore", FutureWarning)
            parts = all_gather(padded.contiguous())
    else:
        parts = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(parts, padded.detach().contiguous())
    return torch.cat([p[:c] for p, c in zip(parts, counts)], 0), counts


def _pad_to(x: "Tensor", n: int, length: int, value: float) -> "Tensor":
    """``x`` padded at the end of dim 0 to ``n`` (and of dim 1 to ``length``), differentiably for floats."""
    import torch.nn.functional as F

    if x.shape[0] == n and (x.dim() == 1 or x.shape[1] == length):
        return x
    pads = [0, 0] * (x.dim() - 2) + ([0, length - x.shape[1]] if x.dim() > 1 else []) + [0, n - x.shape[0]]
    if x.dtype.is_floating_point:
        return F.pad(x, pads, value=value)
    out = x.new_full((n, length, *x.shape[2:]) if x.dim() > 1 else (n,), int(value))
    out[tuple(slice(0, s) for s in x.shape[:2])] = x
    return out


# ---------------------------------------------------------------------------------------------- inputs
@dataclass
class Embedded:
    """Padded token embeddings of a batch of queries or documents (what the trainable models return).

    Attributes:
        emb: ``[N, L, d]`` L2-normalised token embeddings (padded positions hold finite values).
        mask: ``[N, L]`` bool, True for real tokens.
        modality: ``[N, L]`` int64 :class:`~clamr_frames.types.Modality` ids (documents; None for queries).
    """

    emb: "Tensor"
    mask: "Tensor"
    modality: "Tensor | None" = None

    def __len__(self) -> int:
        return int(self.emb.shape[0])


@dataclass
class LossOutput:
    """What a loss returns besides the scalar.

    Attributes:
        loss: the scalar to backpropagate (mean over this process's queries).
        scores: ``[B, C]`` aggregated scores of the local queries against all gathered documents (detached).
        targets: ``[B]`` global column of each query's positive.
        tau: the temperature used (a float; learnable or not).
        accuracy: share of local queries whose positive has the best (unmasked) score.
    """

    loss: "Tensor"
    scores: "Tensor"
    targets: "Tensor"
    tau: float
    accuracy: float


def false_negative_mask(
    query_video: "Tensor",
    query_spans: "Tensor",
    doc_video: "Tensor",
    doc_time: "Tensor",
    targets: "Tensor",
    tolerance: float = 1e-3,
) -> "Tensor":
    """``[B, C]`` True where document ``j`` is another positive of query ``i`` (and so no negative of it).

    A document is a positive of a query when it comes from the same video (``query_video[i] == doc_video[j]``)
    and its timestamp lies inside one of the query's evidence spans. The query's own positive column
    (``targets[i]``) is never masked.

    Args:
        query_video: ``[B]`` int64 id of each query's video.
        query_spans: ``[B, S, 2]`` float evidence spans (start, end) in seconds; NaN rows are padding.
        doc_video: ``[C]`` int64 video id of each document.
        doc_time: ``[C]`` float timestamp of each document.
        targets: ``[B]`` column of each query's positive.

    Example:
        >>> import torch
        >>> spans = torch.tensor([[[10.0, 20.0]], [[0.0, 1.0]]])
        >>> false_negative_mask(torch.tensor([7, 7]), spans, torch.tensor([7, 7, 8]),
        ...                     torch.tensor([12.0, 0.5, 15.0]), torch.tensor([0, 1]))
        tensor([[False, False, False],
                [False, False, False]])
        >>> false_negative_mask(torch.tensor([7, 7]), spans, torch.tensor([7, 7, 7]),
        ...                     torch.tensor([12.0, 0.5, 15.0]), torch.tensor([0, 1]))
        tensor([[False, False,  True],
                [False, False, False]])
    """
    import torch

    same = query_video.view(-1, 1) == doc_video.view(1, -1)  # [B, C]
    t = doc_time.view(1, 1, -1).to(query_spans.dtype)
    start = query_spans[..., 0:1]
    end = query_spans[..., 1:2]
    inside = ((t >= start - tolerance) & (t <= end + tolerance)).any(1)  # [B, C]; NaN compares False
    mask = same & inside
    mask[torch.arange(mask.shape[0]), targets] = False
    return mask


# ---------------------------------------------------------------------------------------------- the loss
def _tau_param(tau: float):
    import torch

    return torch.nn.Parameter(torch.tensor(math.log(1.0 / tau), dtype=torch.float32))


def build_loss(
    kind: str = "infonce",
    *,
    tau: float = 0.02,
    learnable_tau: bool = False,
    aggregation: str = "modality_max",
    modalities: Sequence[int] | None = None,
    normalize: bool = True,
    gather: bool = True,
    floor: float | None = None,
) -> "Any":
    """Build a contrastive loss module.

    Args:
        kind: one of :data:`LOSS_KINDS`.
        tau: temperature (CLaMR: 0.02). Ignored by ``pairwise``.
        learnable_tau: make ``log(1 / tau)`` a parameter (clamped to ``tau`` in [0.001, 1]); train it with the
            model (its parameters are the loss module's ``parameters()``).
        aggregation: ``"modality_max"`` (CLaMR's training default) or ``"token_max"``.
        modalities: competing modality ids (default: all of :class:`~clamr_frames.types.Modality`, template
            tokens included as in the reference; an absent modality scores -inf and never wins).
        normalize: divide scores by the query's number of tokens (the reference's losses do).
        gather: use the documents of every process as negatives (no-op in a single process).
        floor: score with the reference's zero padding (``0.0``; see :mod:`clamr_frames.scoring.maxsim`): the
            trainer passes the scorer's ``score_floor`` (CLaMR: 0.0, as the reference trained), None otherwise.

    Returns:
        A module called as ``loss(queries, docs, targets, *, query_modality=None, exclude=None)``; see
        :meth:`_Loss.forward`.

    Example:
        >>> import torch
        >>> from clamr_frames.train.losses import Embedded, build_loss
        >>> q = Embedded(torch.eye(2).view(2, 1, 2), torch.ones(2, 1, dtype=torch.bool))
        >>> d = Embedded(torch.eye(2).view(2, 1, 2), torch.ones(2, 1, dtype=torch.bool),
        ...              torch.ones(2, 1, dtype=torch.long))
        >>> out = build_loss("infonce", aggregation="token_max")(q, d, torch.tensor([0, 1]))
        >>> round(float(out.loss), 6), out.accuracy    # 1 vs 0 at tau = 0.02: CE = log(1 + e^-50)
        (0.0, 1.0)
    """
    if kind not in LOSS_KINDS:
        raise InputError(f"unknown loss kind {kind!r}; expected one of {LOSS_KINDS}")
    if aggregation not in ("token_max", "modality_max"):
        raise InputError(f"aggregation must be 'token_max' or 'modality_max', got {aggregation!r}")
    if not (isinstance(tau, (int, float)) and _TAU_MIN <= float(tau) <= _TAU_MAX):
        raise InputError(f"tau must be a number in [{_TAU_MIN}, {_TAU_MAX}], got {tau!r}")
    mods = ALL_MODALITIES if modalities is None else tuple(int(m) for m in modalities)
    if not mods:
        raise InputError("modalities is empty")
    return _loss_class()(kind, float(tau), bool(learnable_tau), aggregation, mods, bool(normalize), bool(gather),
                         None if floor is None else float(floor))


_LOSS_CLS = None


def _loss_class():
    global _LOSS_CLS
    if _LOSS_CLS is not None:
        return _LOSS_CLS
    import torch
    from torch import nn

    from clamr_frames.scoring import per_modality_scores, score_matrix

    class _Loss(nn.Module):
        def __init__(self, kind, tau, learnable, aggregation, modalities, normalize, gather, floor=None):
            super().__init__()
            self.kind, self.aggregation, self.modalities = kind, aggregation, modalities
            self.normalize, self.gather, self.floor = normalize, gather, floor
            if learnable:
                self.log_inv_tau = _tau_param(tau)
            else:
                self.register_buffer("log_inv_tau", torch.tensor(math.log(1.0 / tau)), persistent=False)
            self.learnable = learnable

        def extra_repr(self) -> str:
            return (f"kind={self.kind}, aggregation={self.aggregation}, tau={self.tau():.4g}, "
                    f"learnable={self.learnable}, gather={self.gather}")

        def tau(self) -> float:
            return float(self._tau().detach())

        def _tau(self) -> "Tensor":
            # clamp log(1/tau): tau in [_TAU_MIN, _TAU_MAX]
            return torch.exp(-self.log_inv_tau.clamp(math.log(1 / _TAU_MAX), math.log(1 / _TAU_MIN)))

        def forward(
            self,
            queries: Embedded,
            docs: Embedded,
            targets: "Tensor",
            *,
            query_modality: "Tensor | None" = None,
            query_video: "Tensor | None" = None,
            query_spans: "Tensor | None" = None,
            doc_video: "Tensor | None" = None,
            doc_time: "Tensor | None" = None,
        ) -> LossOutput:
            """Loss of this process's queries against every process's documents.

            Args:
                queries: ``B`` local queries.
                docs: ``n`` local documents (positives and hard negatives, any order).
                targets: ``[B]`` index of each query's positive among the *local* documents.
                query_modality: ``[B]`` gold :class:`~clamr_frames.types.Modality` id of each query (the
                    modality variants need it).
                query_video / query_spans / doc_video / doc_time: optional metadata for
                    :func:`false_negative_mask` (documents' metadata is gathered like the documents).
            """
            if self.kind.startswith("modality") and query_modality is None:
                raise InputError(f"loss {self.kind!r} needs query_modality (the gold modality of each query)")
            if self.aggregation == "modality_max" or self.kind.startswith("modality"):
                if docs.modality is None:
                    raise InputError("modality_max and the modality losses need document modality ids")
            targets = targets.to(queries.emb.device).long()
            if targets.numel() != len(queries) or bool((targets < 0).any()) or bool((targets >= len(docs)).any()):
                raise InputError(f"targets must index the {len(docs)} local documents, one per query")

            d_emb, d_mask, d_mod = docs.emb, docs.mask, docs.modality
            offset = 0
            if self.gather and world_size() > 1:
                d_emb, counts = gather_padded(d_emb, differentiable=True)
                d_mask, _ = gather_padded(d_mask.to(torch.uint8), differentiable=False)
                d_mask = d_mask.bool()
                if d_mod is not None:
                    d_mod, _ = gather_padded(d_mod, differentiable=False)
                offset = sum(counts[: _rank()])
                if doc_video is not None:
                    doc_video, _ = gather_padded(doc_video, differentiable=False)
                    doc_time, _ = gather_padded(doc_time, differentiable=False)
            targets = targets + offset

            exclude = None
            if query_video is not None and doc_video is not None:
                exclude = false_negative_mask(query_video.to(targets.device), query_spans.to(targets.device),
                                              doc_video.to(targets.device), doc_time.to(targets.device), targets)

            need_per_mod = self.kind.startswith("modality") or self.aggregation == "modality_max"
            per_mod = None
            if need_per_mod:
                per_mod = per_modality_scores(queries.emb, queries.mask, d_emb, d_mask, d_mod,
                                              modalities=self.modalities, normalize=self.normalize, floor=self.floor)
            if self.aggregation == "modality_max":
                scores = per_mod.max(-1).values
            else:
                scores = score_matrix(queries.emb, queries.mask, d_emb, d_mask, normalize=self.normalize,
                                      floor=self.floor)
            rows = torch.arange(scores.shape[0], device=scores.device)
            if exclude is not None:
                scores = scores.masked_fill(exclude, float("-inf"))

            tau = self._tau()
            if self.kind == "pairwise":
                loss = pairwise_softplus(scores, targets)
            elif self.kind == "infonce":
                loss = _cross_entropy(scores / tau, targets)
            else:
                gold = _gold_columns(query_modality.to(targets.device), self.modalities)
                pos_mod = per_mod[rows, targets, gold.clamp(min=0)]
                usable = (gold >= 0) & torch.isfinite(pos_mod)
                pos = torch.where(usable, pos_mod, scores[rows, targets])
                logits = scores.clone()
                logits[rows, targets] = pos
                if self.kind == "modality_negative":
                    extra = per_mod.clone()
                    extra[rows, targets, gold.clamp(min=0)] = torch.where(
                        usable, torch.full_like(pos, float("-inf")), extra[rows, targets, gold.clamp(min=0)]
                    )
                    if exclude is not None:
                        extra = extra.masked_fill(exclude.unsqueeze(-1), float("-inf"))
                    # a fallback query has no gold column: its positive's modalities are its own positive
                    fallback = ~usable
                    if bool(fallback.any()):
                        extra[rows[fallback], targets[fallback], :] = float("-inf")
                    logits = torch.cat([logits, extra.flatten(1)], 1)
                loss = _cross_entropy(logits / tau, targets)

            with torch.no_grad():
                pos = scores[rows, targets]
                others = scores.clone()
                others[rows, targets] = float("-inf")
                acc = float((pos > others.max(-1).values).float().mean()) if len(rows) else 0.0
            return LossOutput(loss=loss, scores=scores.detach(), targets=targets, tau=float(tau.detach()), accuracy=acc)

    _LOSS_CLS = _Loss
    return _Loss


def _gold_columns(query_modality: "Tensor", modalities: tuple[int, ...]) -> "Tensor":
    """Column of each query's gold modality in the per-modality scores, -1 when it does not compete."""
    import torch

    cols = torch.full_like(query_modality, -1, dtype=torch.long)
    for c, m in enumerate(modalities):
        cols = torch.where(query_modality == m, torch.full_like(cols, c), cols)
    return cols


def _cross_entropy(logits: "Tensor", targets: "Tensor") -> "Tensor":
    """Mean cross-entropy that tolerates -inf logits (masked negatives); a -inf positive raises."""
    import torch

    pos = logits[torch.arange(logits.shape[0], device=logits.device), targets]
    if bool((~torch.isfinite(pos)).any()):
        i = int(torch.nonzero(~torch.isfinite(pos))[0, 0])
        raise InputError(f"query {i}: the positive document's score is not finite (a document without tokens?)")
    return (torch.logsumexp(logits, dim=1) - pos).mean()


def info_nce(scores: "Tensor", targets: "Tensor", tau: float = 0.02) -> "Tensor":
    """Plain InfoNCE on a precomputed ``[B, C]`` score matrix: ``CE(scores / tau, targets)``.

    Masked-out negatives may be ``-inf``.

    Example:
        >>> import torch
        >>> s = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
        >>> round(float(info_nce(s, torch.tensor([0, 1]), tau=1.0)), 4)
        0.4043
    """
    return _cross_entropy(scores / tau, targets)


def pairwise_softplus(scores: "Tensor", targets: "Tensor") -> "Tensor":
    """``mean_i softplus(max_{j != t_i} S[i, j] - S[i, t_i])`` on a ``[B, C]`` score matrix.

    Example:
        >>> import torch
        >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> round(float(pairwise_softplus(s, torch.tensor([0, 1]))), 4)   # softplus(0 - 1)
        0.3133
    """
    import torch
    import torch.nn.functional as F

    rows = torch.arange(scores.shape[0], device=scores.device)
    pos = scores[rows, targets]
    others = scores.clone()
    others[rows, targets] = float("-inf")
    return F.softplus(others.max(-1).values - pos).mean()
