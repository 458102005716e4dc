"""MaxSim (late-interaction) scores of one query against packed documents.

Two aggregations, the two CLaMR's reference code scores with (``util._colbert_sim`` and ``_modality_max_sim`` in
``github.com/meetdavidwan/clamr``; docs/clamr_scorer.md, "Scoring"):

- ``token_max`` (ColBERT / LI_context): for each query token, the best similarity over all the document's
  tokens; the score is the sum over query tokens.
- ``modality_max`` (LI_mw): the same MaxSim-sum computed per modality (tokens of other modalities excluded),
  then the best modality. A modality a document lacks scores ``-inf`` there and never wins.

Padding (``floor``). The reference (``github.com/meetdavidwan/clamr``) scores documents padded to 2048 tokens
whose padding embeddings are zero vectors (``padding="max_length"``, then ``proj * attention_mask``), and takes
``einsum("bqd,csd->bcqs").amax(-1).sum(-1)`` over *all* 2048 positions. A zero vector has similarity 0 with every
query token, so each query token's best match is floored at 0: ``score = sum_q max(0, max_t <q, t>)``. Without
``floor`` these functions score the real tokens only (``sum_q max_t <q, t>``, ColBERT), which ranks documents
differently whenever a query token's similarities are all negative in some document. ``floor=0.0`` gives the
reference's numbers exactly; under ``modality_max`` the padding belongs to the reference's group 0 (padding and
template tokens, :attr:`~clamr_frames.types.Modality.OTHER` here), so only that group is floored, and it competes
in every non-empty document as the padding group does in the reference.

Documents come packed (``[N_tok, d]`` + ``offsets``, see :mod:`clamr_frames.scoring.packing`), never padded.
Similarities are accumulated in float32 (float64 if an input is float64) whatever the storage dtype, in
token chunks of bounded size, so memory stays ``O(chunk_tokens * (d + n_q))`` on top of the inputs.

Conventions shared by every function here:

- a document with no (scored) tokens gets score ``-inf`` and argmax ``-1`` (also with ``floor``: a document with
  no tokens at all has nothing to pad);
- with ``floor``, a query token whose best real similarity is below the floor matched padding: its similarity is
  the floor and its argmax ``-1`` (a real token at exactly the floor wins);
- argmax token indices are *global* rows of ``doc_embeddings`` (``offsets[i] <= index < offsets[i + 1]``);
- among equal similarities the earliest token wins;
- NaN (or a NaN/inf that reaches a score) raises :class:`~clamr_frames.errors.InputError`;
- these packed functions are for inference and run without autograd; training uses the padded
  :func:`~clamr_frames.scoring.batched.score_matrix`, which computes the same numbers differentiably.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Sequence

from clamr_frames.errors import InputError
from clamr_frames.scoring.packing import check_offsets

if TYPE_CHECKING:
    from torch import Tensor

DEFAULT_CHUNK_TOKENS = 1 << 18
# Rows per matmul block on CPU: the float32 copy of a block (~4 MiB) stays in cache, which made the
# cast + matmul of fp16 storage about 2x faster than casting a whole chunk first (measured, 2 cores).
_CPU_BLOCK_BYTES = 4 << 20

AGGREGATIONS = ("token_max", "modality_max")


class MaxSimArgmax(NamedTuple):
    """Which document token each query token matched ("why" a document scored as it did).

    Shapes use ``n_docs`` documents, ``n_q`` query tokens and ``M`` competing modalities.

    Attributes:
        token_index: ``[n_docs, n_q]`` int64, global row of ``doc_embeddings`` of the matched token (under
            ``modality_max``: the best token *within the winning modality*); ``-1`` for a document with no
            scored token, and with ``floor`` where the query token matched padding.
        similarity: ``[n_docs, n_q]`` similarity of that match (``-inf`` where ``token_index`` is -1).
        modality: ``[n_docs]`` int64 winning modality id (``modality_max``), ``-1`` when none; ``None`` under
            ``token_max``.
        token_modality: ``[n_docs, n_q]`` int64, per query token the modality id of its best-matching token over
            all competing modalities (the per-token vote CLaMR's "modality accuracy" uses; padding counts as
            OTHER, as in the reference), ``-1`` when none; ``None`` under ``token_max`` without ``modality_ids``.
        modality_scores: ``[n_docs, M]`` the per-modality MaxSim-sums (``-inf`` for an absent modality),
            columns in the order of ``modalities``; ``None`` under ``token_max``.
        modalities: the competing modality ids, in column order; ``None`` under ``token_max``.
    """

    token_index: Tensor
    similarity: Tensor
    modality: Tensor | None = None
    token_modality: Tensor | None = None
    modality_scores: Tensor | None = None
    modalities: tuple[int, ...] | None = None


def token_max(
    query: Tensor,
    doc_embeddings: Tensor,
    offsets: Tensor | Sequence[int],
    *,
    normalize: bool = False,
    return_argmax: bool = False,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    floor: float | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """ColBERT MaxSim: ``score[i] = sum_q max_{t in doc i} <query[q], doc_embeddings[t]>``.

    Args:
        query: ``[n_q, d]`` query token embeddings (any float dtype; ``n_q >= 1``).
        doc_embeddings: ``[N_tok, d]`` packed document tokens (float32 / float16 / bfloat16 storage).
        offsets: ``[n_docs + 1]`` document boundaries into ``doc_embeddings``.
        normalize: divide scores by ``n_q`` (the training losses' normalisation by query length).
        return_argmax: also return the matched token of each query token.
        chunk_tokens: tokens scored at a time (bounds memory; results do not depend on it).
        floor: lower bound of each query token's best similarity (``0.0``: the reference's zero padding, see
            the module docstring); ``None`` (default): real tokens only.

    Returns:
        ``scores`` ``[n_docs]`` float32 (float64 for float64 inputs); ``-inf`` for a document without tokens.
        With ``return_argmax``: ``(scores, token_index)``, ``token_index`` ``[n_docs, n_q]`` int64 global rows
        of ``doc_embeddings`` (``-1`` for an empty document).

    Raises:
        InputError: empty query, mismatched dims, bad offsets, NaN in the inputs.

    Example:
        >>> import torch
        >>> from clamr_frames.scoring import token_max
        >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])        # 2 query tokens, d = 2
        >>> docs = torch.tensor([[1.0, 0.0], [0.5, 0.5],       # doc 0: rows 0-1
        ...                      [0.0, 1.0]])                  # doc 1: row 2
        >>> token_max(q, docs, torch.tensor([0, 2, 3]))        # doc 0: 1 + 0.5, doc 1: 0 + 1
        tensor([1.5000, 1.0000])
        >>> token_max(q, docs, [0, 2, 3, 3], return_argmax=True)   # a 3rd, empty document
        (tensor([1.5000, 1.0000,   -inf]), tensor([[ 0,  1],
                [ 2,  2],
                [-1, -1]]))
        >>> far = torch.tensor([[-0.5, -0.5], [-1.0, 0.0]])   # doc 0: every similarity of query token 0 < 0
        >>> token_max(q, far, [0, 2]), token_max(q, far, [0, 2], floor=0.0)   # -0.5 + 0 vs 0 + 0
        (tensor([-0.5000]), tensor([0.]))
    """
    import torch

    with torch.no_grad():
        q, emb, off = _check_inputs(query, doc_embeddings, offsets, chunk_tokens)
        floor = _check_floor(floor)
        vals, arg = _doc_maxima(q, emb, off, None, 0, chunk_tokens)
        present = _apply_floor(vals, arg, off, floor, (0,))
        scores = _scores(vals, present, off)[:, 0]
        if normalize:
            scores = scores / q.shape[0]
        if return_argmax:
            return scores, arg[:, 0]
        return scores


def modality_max(
    query: Tensor,
    doc_embeddings: Tensor,
    offsets: Tensor | Sequence[int],
    modality_ids: Tensor,
    *,
    modalities: Sequence[int] | None = None,
    normalize: bool = False,
    return_argmax: bool = False,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    floor: float | None = None,
) -> Tensor | tuple[Tensor, MaxSimArgmax]:
    """CLaMR LI_mw: ``score[i] = max_m sum_q max_{t in doc i, modality(t) = m} <query[q], doc_embeddings[t]>``.

    Args:
        query: ``[n_q, d]``.
        doc_embeddings: ``[N_tok, d]`` packed document tokens.
        offsets: ``[n_docs + 1]`` document boundaries.
        modality_ids: ``[N_tok]`` integer modality id of every token
            (:class:`~clamr_frames.types.Modality`: OTHER=0, VIDEO=1, ASR=2, OCR=3).
        modalities: which ids compete (tokens of other ids are ignored). Default: every id present in
            ``modality_ids`` — OTHER included, as in the reference; pass ``(1, 2, 3)`` to exclude template
            tokens. Ties between modalities go to the one listed first (default: smallest id).
        normalize: divide scores (and ``modality_scores``) by ``n_q``.
        return_argmax: also return a :class:`MaxSimArgmax`.
        chunk_tokens: tokens scored at a time (results do not depend on it).
        floor: the reference's zero padding (``0.0``): OTHER (id 0, the reference's padding group) is floored
            per query token and competes in every non-empty document; by default it is then added to the
            competing ids. Given ``modalities`` without 0, padding does not compete and ``floor`` has no effect.

    Returns:
        ``scores`` ``[n_docs]`` (``-inf`` for a document with no competing token), and with ``return_argmax``
        a :class:`MaxSimArgmax` (global token rows within the winning modality, the winning modality id per
        document, the best modality per query token, the per-modality scores).

    Example:
        >>> import torch
        >>> from clamr_frames.scoring import modality_max
        >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> docs = torch.tensor([[1.0, 0.0], [0.0, 1.0],      # doc 0: a VIDEO token, an ASR token
        ...                      [0.6, 0.6]])                 # doc 1: one VIDEO token
        >>> mods = torch.tensor([1, 2, 1])
        >>> scores, why = modality_max(q, docs, [0, 2, 3], mods, return_argmax=True)
        >>> scores                                   # doc 0: VIDEO 1 + 0 = ASR 0 + 1; doc 1: VIDEO only
        tensor([1.0000, 1.2000])
        >>> why.modality, why.token_index            # doc 0: tie goes to the first id (VIDEO)
        (tensor([1, 1]), tensor([[0, 0],
                [2, 2]]))
        >>> why.modality_scores                      # ASR is absent from doc 1: -inf, never wins
        tensor([[1.0000, 1.0000],
                [1.2000,   -inf]])
    """
    import torch

    with torch.no_grad():
        q, emb, off = _check_inputs(query, doc_embeddings, offsets, chunk_tokens)
        floor = _check_floor(floor)
        mod_ids = _check_modality_ids(modality_ids, emb)
        mods = _competing(mod_ids, modalities)
        if floor is not None and modalities is None and mods and _PAD_MODALITY not in mods:
            mods = tuple(sorted((_PAD_MODALITY, *mods)))  # the padding group exists in every padded document
        n_docs, n_q = off.numel() - 1, q.shape[0]
        if not mods:  # no token at all, so nothing competes
            scores = torch.full((n_docs,), float("-inf"), dtype=_compute_dtype(q, emb), device=emb.device)
            if not return_argmax:
                return scores
            none = torch.full((n_docs, n_q), -1, dtype=torch.int64, device=emb.device)
            return scores, MaxSimArgmax(none, torch.full_like(none, float("-inf"), dtype=scores.dtype),
                                        none[:, 0].clone(), none.clone(), scores[:, None][:, :0], ())
        vals, arg = _doc_maxima(q, emb, off, (mod_ids, mods), len(mods), chunk_tokens)
        present = _apply_floor(vals, arg, off, floor, tuple(g for g, m in enumerate(mods) if m == _PAD_MODALITY))
        per_mod = _scores(vals, present, off)  # [n_docs, M]
        if normalize:
            per_mod = per_mod / n_q
        scores, win = per_mod.max(dim=1)  # first maximum wins ties: order of ``mods``
        if not return_argmax:
            return scores
        return scores, _modality_argmax(vals, arg, present, per_mod, win, mods)


def maxsim(
    query: Tensor,
    doc_embeddings: Tensor,
    offsets: Tensor | Sequence[int],
    *,
    aggregation: Literal["token_max", "modality_max"] = "token_max",
    modality_ids: Tensor | None = None,
    return_argmax: bool = False,
    **kw: Any,
) -> Tensor | tuple[Tensor, MaxSimArgmax]:
    """Score packed documents against ``query`` with the named aggregation (dispatches to the two above).

    ``modality_ids`` is required for ``modality_max`` and optional for ``token_max``. Other keywords
    (``normalize``, ``chunk_tokens``, ``modalities``, ``floor``) pass through. With ``return_argmax`` the second element
    is always a :class:`MaxSimArgmax` (for ``token_max`` it carries ``token_index``, ``similarity`` and, when
    ``modality_ids`` is given, each match's ``token_modality``), so callers need not branch on aggregation.

    Example:
        >>> import torch
        >>> from clamr_frames.scoring import maxsim
        >>> q, docs = torch.eye(2), torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.6]])
        >>> maxsim(q, docs, [0, 2, 3])
        tensor([2.0000, 1.2000])
        >>> maxsim(q, docs, [0, 2, 3], aggregation="modality_max", modality_ids=torch.tensor([1, 2, 1]))
        tensor([1.0000, 1.2000])
        >>> maxsim(q, docs, [0, 2, 3], modality_ids=torch.tensor([1, 2, 1]), return_argmax=True)[1].token_modality
        tensor([[1, 2],
                [1, 1]])
    """
    import torch

    if aggregation == "token_max":
        if "modalities" in kw:
            if kw.pop("modalities") is not None:
                raise InputError("modalities= only applies to aggregation='modality_max'")
        if not return_argmax:
            return token_max(query, doc_embeddings, offsets, **kw)
        with torch.no_grad():
            chunk_tokens = kw.pop("chunk_tokens", DEFAULT_CHUNK_TOKENS)
            normalize = kw.pop("normalize", False)
            floor = _check_floor(kw.pop("floor", None))
            if kw:
                raise InputError(f"unexpected keyword(s) for maxsim: {sorted(kw)}")
            q, emb, off = _check_inputs(query, doc_embeddings, offsets, chunk_tokens)
            mod_ids = None if modality_ids is None else _check_modality_ids(modality_ids, emb)
            vals, arg = _doc_maxima(q, emb, off, None, 0, chunk_tokens)
            present = _apply_floor(vals, arg, off, floor, (0,))
            scores = _scores(vals, present, off)[:, 0]
            if normalize:
                scores = scores / q.shape[0]
            idx = arg[:, 0]
            tok_mod = None
            if mod_ids is not None:
                if mod_ids.numel():
                    tok_mod = torch.where(idx >= 0, mod_ids.to(torch.int64)[idx.clamp(min=0)], -1)
                    # a token that matched padding votes for the padding's group, as in the reference
                    tok_mod = torch.where((idx < 0) & present, _PAD_MODALITY, tok_mod)
                else:
                    tok_mod = idx.clone()  # no tokens at all: every entry is already -1
            return scores, MaxSimArgmax(idx, vals[:, 0], token_modality=tok_mod)
    if aggregation == "modality_max":
        if modality_ids is None:
            raise InputError("aggregation='modality_max' needs modality_ids (one modality id per document token)")
        return modality_max(query, doc_embeddings, offsets, modality_ids, return_argmax=return_argmax, **kw)
    raise InputError(f"unknown aggregation {aggregation!r}; expected one of {AGGREGATIONS}")


# --------------------------------------------------------------------------------------------------------------
# internals


#: The modality id of the reference's padding (its group 0: padding and template tokens; OTHER here).
_PAD_MODALITY = 0


def _check_floor(floor: Any) -> float | None:
    if floor is None:
        return None
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not math.isfinite(floor):
        raise InputError(f"floor must be a finite number or None, got {floor!r}")
    return float(floor)


def _apply_floor(vals: Tensor, arg: Tensor, off: Tensor, floor: float | None, groups: tuple[int, ...]) -> Tensor:
    """Floor the per-query-token maxima of ``groups`` in place (the reference's zero padding); return presence.

    ``vals`` / ``arg`` are ``[n_docs, G, n_q]`` from :func:`_doc_maxima`. Presence ``[n_docs, G]`` says which
    (document, group) has something to match: a real token, or, for a floored group, padding, which every
    document with at least one token has. A floored match gets the floor as similarity and ``-1`` as argmax.
    """
    import torch

    present = arg[..., 0] >= 0
    if floor is None or not groups:
        return present
    nonempty = (off[1:] > off[:-1]).to(vals.device)
    for g in groups:
        hit = nonempty[:, None] & (vals[:, g] < floor)  # -inf (no token of the group) counts as below; NaN not
        vals[:, g] = torch.where(hit, torch.full_like(vals[:, g], floor), vals[:, g])
        arg[:, g] = torch.where(hit, torch.full_like(arg[:, g], -1), arg[:, g])
        present[:, g] |= nonempty
    return present


def _compute_dtype(*tensors: Tensor):
    import torch

    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _check_inputs(query: Any, emb: Any, offsets: Any, chunk_tokens: Any) -> tuple[Tensor, Tensor, Tensor]:
    """Validate; return the query in the compute dtype on the documents' device, emb, CPU int64 offsets."""
    import torch

    if not isinstance(query, torch.Tensor) or not isinstance(emb, torch.Tensor):
        raise InputError("query and doc_embeddings must be torch tensors")
    if query.dim() != 2:
        raise InputError(f"query must be [n_q, d], got shape {tuple(query.shape)}")
    if query.shape[0] == 0:
        raise InputError("query has no tokens: an empty query cannot be scored")
    if emb.dim() != 2:
        raise InputError(f"doc_embeddings must be [N_tok, d], got shape {tuple(emb.shape)}")
    if query.shape[1] != emb.shape[1]:
        raise InputError(f"query dim {query.shape[1]} != document embedding dim {emb.shape[1]}")
    if not query.dtype.is_floating_point or not emb.dtype.is_floating_point:
        raise InputError(f"embeddings must be floating point, got query {query.dtype}, documents {emb.dtype}")
    if isinstance(chunk_tokens, bool) or not isinstance(chunk_tokens, int) or chunk_tokens < 1:
        raise InputError(f"chunk_tokens must be a positive integer, got {chunk_tokens!r}")
    off = check_offsets(offsets, emb.shape[0])
    q = query.detach().to(device=emb.device, dtype=_compute_dtype(query, emb))
    if not bool(torch.isfinite(q).all()):
        raise InputError("query embeddings contain NaN or inf")
    return q, emb.detach(), off


def _check_modality_ids(modality_ids: Any, emb: Tensor) -> Tensor:
    import torch

    if not isinstance(modality_ids, torch.Tensor):
        modality_ids = torch.as_tensor(modality_ids)
    if modality_ids.dtype.is_floating_point or modality_ids.dtype.is_complex:
        raise InputError(f"modality_ids must be integers, got dtype {modality_ids.dtype}")
    if modality_ids.shape != (emb.shape[0],):
        raise InputError(f"modality_ids must be [N_tok] = [{emb.shape[0]}], got shape {tuple(modality_ids.shape)}")
    return modality_ids.to(emb.device)


def _competing(mod_ids: Tensor, modalities: Sequence[int] | None) -> tuple[int, ...]:
    import torch

    if modalities is None:
        return tuple(int(m) for m in torch.unique(mod_ids).tolist())
    try:
        mods = tuple(int(m) for m in modalities)
    except (TypeError, ValueError):
        raise InputError(f"modalities must be a sequence of integer ids, got {modalities!r}") from None
    if not mods:
        raise InputError("modalities is empty: name at least one modality id that competes")
    if len(set(mods)) != len(mods):
        raise InputError(f"modalities has duplicates: {mods}")
    return mods


def _plan_chunks(off: list[int], n_tok: int, chunk_tokens: int) -> list[tuple[int, int, int, int]]:
    """Split ``[0, n_tok)`` into ``(t0, t1, d0, d1)``: token range and the documents ``d0..d1-1`` it touches.

    Cuts fall on document boundaries whenever a boundary lies inside the window; only a document longer than
    ``chunk_tokens`` is cut through (its pieces' maxima are merged afterwards).
    """
    chunks = []
    t = 0
    while t < n_tok:
        hi = min(t + chunk_tokens, n_tok)
        last = off[bisect_right(off, hi) - 1]  # last boundary <= hi
        cut = last if last > t else hi
        d0 = bisect_right(off, t) - 1  # the (non-empty) document containing token t
        d1 = bisect_left(off, cut)  # documents starting before the cut
        chunks.append((t, cut, d0, d1))
        t = cut
    return chunks


def _block_sims(emb: Tensor, q: Tensor, out: Tensor) -> None:
    """``out[r] = emb[r] . q`` for every row, in ``q``'s (float32/64) precision."""
    import torch

    rows = emb.shape[0]
    if emb.device.type == "cpu":
        block = max(256, _CPU_BLOCK_BYTES // (q.element_size() * max(1, emb.shape[1])))
    else:
        block = max(1, rows)
    qt = q.T
    for s in range(0, rows, block):
        e = min(s + block, rows)
        torch.mm(emb[s:e].to(q.dtype), qt, out=out[s:e])


def _segment_max(buf: Tensor, starts: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Max (and first argmax row) of ``buf[starts[i] : starts[i] + lengths[i]]`` for each segment.

    ``buf`` is a contiguous ``[R, n_q]`` matrix; ``starts`` / ``lengths`` are CPU int64 (all lengths > 0).
    Segments are grouped by exact length: each group is one strided window view of ``buf`` (a plain reshape
    when its segments are adjacent), one gather and one reduction, so the cost is a single pass over the data
    plus a few ops per distinct length; nothing is padded. (Measured on 2 cores against padding to the longest
    segment, ``torch.segment_reduce`` and ``scatter_reduce``: fastest of those that also give the argmax.)
    """
    import torch

    S, n_q = starts.numel(), buf.shape[1]
    dev = buf.device
    if S == 0:
        return buf.new_empty((0, n_q)), torch.empty((0, n_q), dtype=torch.int64, device=dev)
    counts = torch.bincount(lengths)
    uniq = torch.nonzero(counts).squeeze(1)
    single = uniq.numel() == 1
    order = None if single else torch.argsort(lengths, stable=True)
    R = buf.shape[0]
    vs, as_ = [], []
    pos = 0
    for L, c in zip(uniq.tolist(), counts[uniq].tolist()):
        st = starts if single else starts[order[pos : pos + c]]
        pos += c
        s0 = int(st[0])
        if int(st[-1]) - s0 == L * (c - 1):  # adjacent segments of equal length: a plain view
            window = buf[s0 : s0 + L * c].view(c, L, n_q)
        else:
            window = buf.as_strided((R - L + 1, L, n_q), (n_q, n_q, 1))[st.to(dev)]
        # max(dim) beats amax over a middle dim on CPU and gives the (first) argmax for free.
        v, a = window.max(dim=1)
        a += st.to(dev).unsqueeze(1)
        vs.append(v)
        as_.append(a)
    if single:
        return vs[0], as_[0]
    inv = torch.empty_like(order)
    inv[order] = torch.arange(S)
    inv = inv.to(dev)
    return torch.cat(vs)[inv], torch.cat(as_)[inv]


def _doc_maxima(q: Tensor, emb: Tensor, off: Tensor, modality: tuple[Tensor, tuple[int, ...]] | None, G: int,
                chunk_tokens: int) -> tuple[Tensor, Tensor]:
    """Per document (and modality group), per query token: max similarity and its global token row.

    Returns ``vals`` ``[n_docs, max(G, 1), n_q]`` (``-inf`` where a group has no token) and ``args`` (same
    shape, int64, ``-1`` there).
    """
    import torch

    n_docs, n_q = off.numel() - 1, q.shape[0]
    G = max(G, 1)
    dev = emb.device
    out_v = torch.full((n_docs * G, n_q), float("-inf"), dtype=q.dtype, device=dev)
    out_a = torch.full((n_docs * G, n_q), -1, dtype=torch.int64, device=dev)
    off_list = off.tolist()
    chunks = _plan_chunks(off_list, emb.shape[0], chunk_tokens)
    if chunks:
        buf = torch.empty((max(t1 - t0 for t0, t1, _, _ in chunks), n_q), dtype=q.dtype, device=dev)
    for t0, t1, d0, d1 in chunks:
        sims = buf[: t1 - t0]
        _block_sims(emb[t0:t1], q, sims)
        starts = (off[d0:d1] - t0).clamp(min=0)
        ends = (off[d0 + 1 : d1 + 1] - t0).clamp(max=t1 - t0)
        if modality is None:
            nz = torch.nonzero(ends > starts).squeeze(1)
            v, a = _segment_max(sims, starts[nz], (ends - starts)[nz])
            rows = d0 + nz
        else:
            v, a, rows = _modality_segments(sims, modality[0][t0:t1], modality[1], starts, ends)
            rows = d0 * G + rows
        a += t0
        _merge(out_v, out_a, rows.to(dev), v, a)
    return out_v.view(n_docs, G, n_q), out_a.view(n_docs, G, n_q)


def _modality_segments(sims: Tensor, mod: Tensor, mods: tuple[int, ...], starts: Tensor,
                       ends: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Maxima per (document, modality group) of one chunk; rows are ``local_doc * G + group``.

    Two levels, no gather of the similarity matrix: (1) maxima over *runs* (maximal stretches of one
    modality inside one document; contiguous, so a plain segment max), (2) maxima over the runs of each
    (document, group), a small [n_runs, n_q] problem. Earliest token still wins ties: runs are kept in token
    order within each group.
    """
    import torch

    G, c, dev = len(mods), sims.shape[0], sims.device
    group = torch.full((c,), -1, dtype=torch.int64, device=dev)
    for g, m in enumerate(mods):
        group[mod == m] = g
    is_start = torch.ones(c, dtype=torch.bool, device=dev)
    if c > 1:
        is_start[1:] = group[1:] != group[:-1]
    doc_starts = starts[ends > starts]
    is_start[doc_starts.to(dev)] = True
    run_starts = torch.nonzero(is_start).squeeze(1)
    run_group = group[run_starts].cpu()
    run_starts = run_starts.cpu()
    run_lens = torch.diff(run_starts, append=torch.tensor([c]))
    keep = run_group >= 0
    run_starts, run_lens, run_group = run_starts[keep], run_lens[keep], run_group[keep]
    # The last document whose start <= the run's start (empty documents share starts and come first).
    run_doc = torch.searchsorted(starts, run_starts, right=True) - 1
    v1, a1 = _segment_max(sims, run_starts, run_lens)
    key = run_doc * G + run_group
    n_seg = starts.numel() * G
    counts = torch.bincount(key, minlength=n_seg)
    order = torch.argsort(key, stable=True)
    seg_starts = torch.cumsum(counts, 0) - counts
    nz = torch.nonzero(counts).squeeze(1)
    order_dev = order.to(dev)
    v1s, a1s = v1[order_dev].contiguous(), a1[order_dev]
    v2, a2 = _segment_max(v1s, seg_starts[nz], counts[nz])
    return v2, a1s.gather(0, a2), nz


def _merge(out_v: Tensor, out_a: Tensor, rows: Tensor, v: Tensor, a: Tensor) -> None:
    """Fold a chunk's maxima into the running ones; an earlier chunk keeps ties, NaN always propagates."""
    import torch

    if rows.numel() == 0:
        return
    cur_v, cur_a = out_v[rows], out_a[rows]
    better = ~(v <= cur_v)  # True for NaN, so a NaN cannot hide behind an earlier maximum
    out_v[rows] = torch.where(better, v, cur_v)
    out_a[rows] = torch.where(better, a, cur_a)


def _scores(vals: Tensor, present: Tensor, off: Tensor) -> Tensor:
    """Sum over query tokens; raise if a present (document, group) got a NaN/inf score."""
    import torch

    scores = vals.sum(-1)
    bad = present & ~torch.isfinite(scores)
    if bool(bad.any()):
        docs = torch.nonzero(bad.any(-1)).squeeze(1).tolist()
        shown = ", ".join(map(str, docs[:10])) + (", ..." if len(docs) > 10 else "")
        first = docs[0]
        raise InputError(
            f"document embeddings contain NaN or inf: {len(docs)} document(s) scored non-finite "
            f"(document {shown}; document {first} is rows {int(off[first])}:{int(off[first + 1])})"
        )
    return scores


def _modality_argmax(vals: Tensor, arg: Tensor, present: Tensor, per_mod: Tensor, win: Tensor,
                     mods: tuple[int, ...]) -> MaxSimArgmax:
    import torch

    dev = vals.device
    mod_t = torch.tensor(mods, dtype=torch.int64, device=dev)
    any_present = present.any(-1)
    n_q = vals.shape[-1]
    idx = win.view(-1, 1, 1).expand(-1, 1, n_q)
    token_index = arg.gather(1, idx).squeeze(1)
    similarity = vals.gather(1, idx).squeeze(1)
    modality = torch.where(any_present, mod_t[win], -1)
    # max(dim).indices: argmax over a middle dim is ~10x slower on CPU
    token_modality = torch.where(any_present.unsqueeze(1), mod_t[vals.max(dim=1).indices], -1)
    return MaxSimArgmax(token_index, similarity, modality, token_modality, per_mod, mods)
