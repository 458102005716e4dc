"""Padded, differentiable MaxSim for training: every query of a batch against every document of a batch.

Same numbers as the packed scorers in :mod:`clamr_frames.scoring.maxsim` (tested; ``floor`` too, see there for
the reference's zero padding), computed on dense
``[B, n_q, d]`` / ``[C, n_d, d]`` tensors with masks so that autograd flows. The losses build their
``[B, C]`` logits from :func:`score_matrix` (InfoNCE, pairwise) or ``[B, C, M]`` from
:func:`per_modality_scores` (CLaMR's hard-positive / hard-negative losses).

Accumulation is in float32 (float64 for float64 inputs), also under autocast. The per-query-token maxima use
``max(dim)``, whose backward keeps only indices, so the ``[B, C, n_q, n_d]`` similarity tensor is not held for
the backward pass. Padded positions must hold finite values (the encoders zero them): a masked NaN does not
reach a score, but it would still turn gradients into NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Sequence

from clamr_frames.errors import InputError
from clamr_frames.scoring.maxsim import _PAD_MODALITY, _check_floor

if TYPE_CHECKING:
    from torch import Tensor


def score_matrix(
    q: Tensor,
    q_mask: Tensor | None,
    d: Tensor,
    d_mask: Tensor | None,
    *,
    aggregation: Literal["token_max", "modality_max"] = "token_max",
    d_modality: Tensor | None = None,
    modalities: Sequence[int] | None = None,
    normalize: bool = False,
    floor: float | None = None,
) -> Tensor:
    """MaxSim scores of ``B`` queries against ``C`` documents: ``[B, C]``, differentiable.

    Args:
        q: ``[B, n_q, d]`` query token embeddings.
        q_mask: ``[B, n_q]`` bool / 0-1, True for real query tokens (None: all real). Masked query tokens add 0.
        d: ``[C, n_d, d]`` document token embeddings, padded.
        d_mask: ``[C, n_d]`` True for real document tokens (None: all real). Masked tokens are never matched.
        aggregation: ``"token_max"`` (sum over query tokens of the best document token) or ``"modality_max"``
            (the same per modality, then the best modality; see :func:`per_modality_scores`).
        d_modality: ``[C, n_d]`` modality id per document token (required for ``modality_max``).
        modalities: competing modality ids for ``modality_max`` (default: all ids present in real tokens).
        normalize: divide by each query's number of real tokens (the CLaMR losses do).
        floor: lower bound of each real query token's best similarity in a document with real tokens (``0.0``:
            the reference's zero padding; under ``modality_max`` only the OTHER group, as
            :func:`~clamr_frames.scoring.modality_max`). No gradient flows through a floored match, as none flows
            through the reference's zero padding vectors.

    Returns:
        ``[B, C]`` float32 (float64 for float64 inputs); ``-inf`` for a document with no real (competing) token.

    Example:
        >>> import torch
        >>> from clamr_frames.scoring import score_matrix
        >>> q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])                      # B=1, n_q=2
        >>> d = torch.tensor([[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [9.0, 9.0]]])
        >>> d_mask = torch.tensor([[True, True], [True, False]])              # doc 1's 2nd token is padding
        >>> score_matrix(q, None, d, d_mask)
        tensor([[1.5000, 1.0000]])
        >>> score_matrix(q, torch.tensor([[True, False]]), d, d_mask, normalize=True)  # only query token 0
        tensor([[1., 0.]])
        >>> score_matrix(-q, None, d, d_mask), score_matrix(-q, None, d, d_mask, floor=0.0)   # all sims <= 0
        (tensor([[-0.5000, -1.0000]]), tensor([[0., 0.]]))
    """
    floor = _check_floor(floor)
    if aggregation == "token_max":
        import torch

        qc, qm, dc, dm, ct = _prepare(q, q_mask, d, d_mask)
        with torch.autocast(device_type=qc.device.type, enabled=False):
            sims = torch.einsum("bqh,csh->bcqs", qc.to(ct), dc.to(ct))
        out = _masked_maxsim(sims, qm, dm, floor, dm.any(-1))
        _check_finite(out, dm.any(-1))
        return out / qm.sum(-1, keepdim=True).to(ct) if normalize else out
    if aggregation == "modality_max":
        if d_modality is None:
            raise InputError("aggregation='modality_max' needs d_modality (a modality id per document token)")
        per_mod = per_modality_scores(q, q_mask, d, d_mask, d_modality, modalities=modalities, normalize=normalize,
                                      floor=floor)
        return per_mod.max(-1).values
    raise InputError(f"unknown aggregation {aggregation!r}; expected 'token_max' or 'modality_max'")


def per_modality_scores(
    q: Tensor,
    q_mask: Tensor | None,
    d: Tensor,
    d_mask: Tensor | None,
    d_modality: Tensor,
    *,
    modalities: Sequence[int] | None = None,
    normalize: bool = False,
    floor: float | None = None,
) -> Tensor:
    """Per-modality MaxSim-sums ``[B, C, M]``: column ``m`` scores only the tokens of ``modalities[m]``.

    A modality absent from a document scores ``-inf`` in its column. With ``floor`` (the reference's zero
    padding) the OTHER column (id 0) is floored per query token and present in every document with a real token;
    by default 0 then competes even where no real token has it. ``score_matrix(...,
    aggregation="modality_max")`` is the max over the last dimension. Pass ``modalities`` explicitly (e.g.
    ``tuple(Modality)``) when the columns must line up across batches, as the hard losses need.

    Example:
        >>> import torch
        >>> from clamr_frames.scoring import per_modality_scores
        >>> q = torch.eye(2).unsqueeze(0)                                   # [1, 2, 2]
        >>> d = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])                    # one doc: VIDEO token, ASR token
        >>> per_modality_scores(q, None, d, None, torch.tensor([[1, 2]]), modalities=(1, 2, 3))
        tensor([[[1., 1., -inf]]])
    """
    import torch

    qc, qm, dc, dm, ct = _prepare(q, q_mask, d, d_mask)
    if not isinstance(d_modality, torch.Tensor) or d_modality.shape != dc.shape[:2]:
        shape = tuple(d_modality.shape) if isinstance(d_modality, torch.Tensor) else type(d_modality).__name__
        raise InputError(f"d_modality must be [C, n_d] = {list(dc.shape[:2])}, got {shape}")
    if d_modality.dtype.is_floating_point:
        raise InputError(f"d_modality must be integers, got dtype {d_modality.dtype}")
    mod = d_modality.to(dc.device)
    floor = _check_floor(floor)
    if modalities is None:
        mods = tuple(int(m) for m in torch.unique(mod[dm]).tolist())
        if floor is not None and mods and _PAD_MODALITY not in mods:
            mods = tuple(sorted((_PAD_MODALITY, *mods)))
    else:
        mods = tuple(int(m) for m in modalities)
        if not mods:
            raise InputError("modalities is empty: name at least one modality id that competes")
    with torch.autocast(device_type=qc.device.type, enabled=False):
        sims = torch.einsum("bqh,csh->bcqs", qc.to(ct), dc.to(ct))
    nonempty = dm.any(-1)
    cols = [_masked_maxsim(sims, qm, dm & (mod == m), floor if m == _PAD_MODALITY else None, nonempty) for m in mods]
    out = torch.stack(cols, -1) if cols else sims.new_empty((*sims.shape[:2], 0))
    present = [(dm & (mod == m)).any(-1) | (nonempty if floor is not None and m == _PAD_MODALITY else False)
               for m in mods]
    _check_finite(out, torch.stack(present, -1) if mods else torch.zeros_like(dm[:, :0]))
    return out / qm.sum(-1).to(ct).view(-1, 1, 1) if normalize else out


def _prepare(q: Any, q_mask: Any, d: Any, d_mask: Any):
    import torch

    for name, t, shape in (("q", q, "[B, n_q, d]"), ("d", d, "[C, n_d, d]")):
        if not isinstance(t, torch.Tensor) or t.dim() != 3:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise InputError(f"{name} must be a {shape} tensor, got {got}")
    if q.shape[-1] != d.shape[-1]:
        raise InputError(f"query dim {q.shape[-1]} != document dim {d.shape[-1]}")
    if not q.dtype.is_floating_point or not d.dtype.is_floating_point:
        raise InputError(f"embeddings must be floating point, got q {q.dtype}, d {d.dtype}")
    if q.shape[1] == 0:
        raise InputError("queries have no tokens: an empty query cannot be scored")
    d = d.to(q.device)
    qm = _mask(q_mask, q.shape[:2], "q_mask", q.device)
    dm = _mask(d_mask, d.shape[:2], "d_mask", q.device)
    empty = ~qm.any(-1)
    if bool(empty.any()):
        first = int(torch.nonzero(empty)[0, 0])
        raise InputError(f"query {first} has no unmasked tokens: an empty query cannot be scored")
    ct = torch.float64 if torch.float64 in (q.dtype, d.dtype) else torch.float32
    return q, qm, d, dm, ct


def _mask(mask: Any, shape, name: str, device) -> Tensor:
    import torch

    if mask is None:
        return torch.ones(tuple(shape), dtype=torch.bool, device=device)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(shape):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InputError(f"{name} must be {list(shape)}, got {got}")
    return mask.to(device=device, dtype=torch.bool)


def _masked_maxsim(sims: Tensor, qm: Tensor, tok_mask: Tensor, floor: float | None = None,
                   nonempty: Tensor | None = None) -> Tensor:
    """``sims`` [B, C, n_q, n_d] -> [B, C]: max over allowed document tokens, summed over real query tokens.

    With ``floor``, each maximum of a ``nonempty`` [C] document is at least ``floor`` (padding that scores it).
    """
    import torch

    if sims.shape[-1] == 0:
        best = sims.new_full(sims.shape[:-1], float("-inf"))
    else:
        best = sims.masked_fill(~tok_mask[None, :, None, :], float("-inf")).max(-1).values
    if floor is not None:
        # clamp keeps NaN (bad embeddings must still be reported) and passes no gradient to a floored match
        best = torch.where(nonempty[None, :, None], best.clamp(min=floor), best)
    return best.masked_fill(~qm[:, None, :], 0.0).sum(-1)


def _check_finite(scores: Tensor, present: Tensor) -> None:
    """NaN anywhere, or +-inf where a (document, column) has something to match (``present`` [C] or [C, M])."""
    import torch

    bad = torch.isnan(scores) | (~torch.isfinite(scores) & present.unsqueeze(0))
    if bool(bad.any()):
        b, c = (int(i) for i in torch.nonzero(bad)[0, :2])
        raise InputError(f"embeddings contain NaN or inf: score of query {b} vs document {c} is not finite")
