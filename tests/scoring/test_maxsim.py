"""Scoring stage: packed and padded MaxSim against a naive per-document, per-query-token loop."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamr_frames.errors import InputError
from clamr_frames.scoring import (
    MaxSimArgmax,
    maxsim,
    modality_max,
    pack,
    pad_packed,
    per_modality_scores,
    score_matrix,
    token_max,
    unpack,
)
from clamr_frames.types import Modality

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
INF = float("inf")


# ---------------------------------------------------------------------------------------------------------------
# data and the naive reference


def make_docs(seed: int, lengths: list[int], dim: int = 16, dtype=torch.float32):
    """Random unit-norm documents (stored in ``dtype``) with a realistic-ish modality layout per token."""
    g = torch.Generator().manual_seed(seed)
    docs, mods = [], []
    for n in lengths:
        x = torch.nn.functional.normalize(torch.randn(n, dim, generator=g), dim=-1)
        docs.append(x.to(dtype))
        mods.append(torch.randint(0, 4, (n,), generator=g, dtype=torch.int64).to(torch.int8))
    return docs, mods


def make_query(seed: int, n_q: int = 5, dim: int = 16, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed + 1000)
    return torch.nn.functional.normalize(torch.randn(n_q, dim, generator=g), dim=-1).to(dtype)


def naive(query, docs, mods=None, modalities=None):
    """Per document, per modality, per query token: max over tokens by a Python loop (float64).

    Returns (scores, per-modality score dict list, per-(doc, q) best similarity over scored tokens).
    """
    q = query.double()
    scores, per_mod = [], []
    for i, doc in enumerate(docs):
        x = doc.double()
        if mods is None:
            groups = {None: list(range(x.shape[0]))}
        else:
            ids = mods[i].tolist()
            keys = sorted(set(ids)) if modalities is None else list(modalities)
            groups = {m: [t for t, mid in enumerate(ids) if mid == m] for m in keys}
        sums = {}
        for m, toks in groups.items():
            if not toks:
                sums[m] = -INF
                continue
            total = 0.0
            for qi in range(q.shape[0]):
                total += max(float(q[qi] @ x[t]) for t in toks)
            sums[m] = total
        per_mod.append(sums)
        scores.append(max(sums.values()) if sums else -INF)
    return torch.tensor(scores, dtype=torch.float64), per_mod


def assert_scores_close(got, want, dtype=torch.float32):
    # Inputs are exact in float64 once stored; the only error is float32 accumulation.
    assert got.shape == want.shape
    finite = torch.isfinite(want)
    assert torch.equal(torch.isfinite(got), finite)
    assert torch.equal(got[~finite], want[~finite].to(got.dtype))
    torch.testing.assert_close(got[finite].double(), want[finite], rtol=1e-5, atol=1e-5)


LENGTHS = [3, 0, 17, 1, 8, 8, 8, 25, 0, 5, 2, 40, 13]


# ---------------------------------------------------------------------------------------------------------------
# token_max


@pytest.mark.parametrize(
    "dtype, chunk_tokens",
    [(torch.float32, 1)] + [(dt, ct) for dt in DTYPES for ct in (7, 64, 1 << 18)],
)
def test_token_max_matches_naive_loop(dtype, chunk_tokens):
    docs, _ = make_docs(0, LENGTHS, dtype=dtype)
    q = make_query(0, dtype=dtype)
    packed, off = pack(docs)
    scores, arg = token_max(q, packed, off, return_argmax=True, chunk_tokens=chunk_tokens)
    want, _ = naive(q, docs)
    assert scores.dtype == torch.float32 and arg.dtype == torch.int64 and arg.shape == (len(docs), q.shape[0])
    assert_scores_close(scores, want)
    # argmax: a token of the right document that reaches the maximum; -1 exactly for empty documents
    sims = q.double() @ packed.double().T  # [n_q, N]
    for i in range(len(docs)):
        lo, hi = int(off[i]), int(off[i + 1])
        if lo == hi:
            assert (arg[i] == -1).all()
            continue
        assert ((arg[i] >= lo) & (arg[i] < hi)).all()
        best = sims[:, lo:hi].max(dim=1).values
        torch.testing.assert_close(sims[torch.arange(q.shape[0]), arg[i]], best, rtol=0, atol=0)


def test_argmax_is_first_of_ties_and_points_at_planted_token():
    docs = [torch.zeros(4, 3), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])]
    packed, off = pack(docs)
    q = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    _, arg = token_max(q, packed, off, return_argmax=True)
    # doc 0: all ties at 0 -> first token; doc 1: q0 ties rows 5 and 6 -> 5, q1 -> row 4
    assert arg.tolist() == [[0, 0], [5, 4]]
    _, arg = token_max(q, packed, off, return_argmax=True, chunk_tokens=2)  # ties across chunk pieces too
    assert arg.tolist() == [[0, 0], [5, 4]]


def test_permuting_documents_permutes_scores():
    docs, _ = make_docs(1, LENGTHS)
    q = make_query(1)
    base = token_max(q, *pack(docs))
    perm = torch.randperm(len(docs), generator=torch.Generator().manual_seed(3)).tolist()
    permuted = token_max(q, *pack([docs[i] for i in perm]))
    assert torch.equal(permuted, base[perm])


@pytest.mark.slow
def test_splitting_and_chunking_do_not_change_scores():
    docs, _ = make_docs(2, LENGTHS * 3, dim=32)
    q = make_query(2, n_q=7, dim=32)
    packed, off = pack(docs)
    whole = token_max(q, packed, off)
    for ct in (3, 16, 41, 100, 1000):
        torch.testing.assert_close(token_max(q, packed, off, chunk_tokens=ct), whole, rtol=1e-6, atol=1e-6)
    k = len(docs) // 3
    parts = [token_max(q, *pack(docs[:k])), token_max(q, *pack(docs[k:]))]
    torch.testing.assert_close(torch.cat(parts), whole, rtol=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=12),
    n_q=st.integers(1, 4),
    chunk=st.integers(1, 30),
    seed=st.integers(0, 2**16),
)
@pytest.mark.slow
def test_property_any_chunking_equals_naive(lengths, n_q, chunk, seed):
    docs, mods = make_docs(seed, lengths, dim=4)
    q = make_query(seed, n_q=n_q, dim=4)
    packed, off = pack(docs)
    want, _ = naive(q, docs)
    assert_scores_close(token_max(q, packed, off, chunk_tokens=chunk), want)
    mods_packed = torch.cat(mods)
    want_m, _ = naive(q, docs, mods, modalities=(1, 2, 3))
    got_m = modality_max(q, packed, off, mods_packed, modalities=(1, 2, 3), chunk_tokens=chunk)
    assert_scores_close(got_m, want_m)


def test_normalize_divides_by_query_length():
    docs, mods = make_docs(4, LENGTHS)
    q = make_query(4, n_q=6)
    packed, off = pack(docs)
    raw = token_max(q, packed, off)
    assert torch.equal(token_max(q, packed, off, normalize=True), raw / 6)
    mp = torch.cat(mods)
    assert torch.equal(modality_max(q, packed, off, mp, normalize=True), modality_max(q, packed, off, mp) / 6)


# ---------------------------------------------------------------------------------------------------------------
# modality_max


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("modalities", [None, (1, 2, 3), (2,)])
@pytest.mark.parametrize("chunk_tokens", [5, 1 << 18])
def test_modality_max_matches_naive_loop(dtype, modalities, chunk_tokens):
    docs, mods = make_docs(5, LENGTHS, dtype=dtype)
    q = make_query(5, dtype=dtype)
    packed, off = pack(docs)
    mp = torch.cat(mods)
    scores, why = modality_max(q, packed, off, mp, modalities=modalities, return_argmax=True,
                               chunk_tokens=chunk_tokens)
    want, per_mod = naive(q, docs, mods, modalities=modalities if modalities is not None else sorted(set(mp.tolist())))
    assert_scores_close(scores, want)
    assert isinstance(why, MaxSimArgmax)
    cols = why.modalities
    assert cols == (tuple(modalities) if modalities is not None else (0, 1, 2, 3))
    want_cols = torch.tensor([[pm.get(m, -INF) for m in cols] for pm in per_mod], dtype=torch.float64)
    assert_scores_close(why.modality_scores.flatten(), want_cols.flatten())
    sims = q.double() @ packed.double().T
    for i in range(len(docs)):
        lo, hi = int(off[i]), int(off[i + 1])
        if not math.isfinite(float(want[i])):
            assert int(why.modality[i]) == -1
            assert (why.token_index[i] == -1).all() and (why.token_modality[i] == -1).all()
            continue
        m = int(why.modality[i])
        assert m in cols and math.isfinite(per_mod[i][m])
        # winner is a best modality (ties in stored fp16/bf16 may legitimately differ, so compare values)
        assert per_mod[i][m] == pytest.approx(float(want[i]), rel=1e-5, abs=1e-5)
        ti = why.token_index[i]
        assert ((ti >= lo) & (ti < hi)).all() and (mp[ti] == m).all()
        in_m = torch.nonzero(mp[lo:hi] == m).squeeze(1) + lo
        best = sims[:, in_m].max(dim=1).values
        torch.testing.assert_close(sims[torch.arange(q.shape[0]), ti], best, rtol=0, atol=0)
        torch.testing.assert_close(why.similarity[i].double(), best, rtol=1e-5, atol=1e-5)
        # token_modality: the modality holding each query token's best competing token
        competing = torch.tensor([t for t in range(lo, hi) if int(mp[t]) in cols])
        overall = sims[:, competing].max(dim=1).values
        tm = why.token_modality[i]
        for qi in range(q.shape[0]):
            in_tm = torch.nonzero(mp[lo:hi] == int(tm[qi])).squeeze(1) + lo
            assert float(sims[qi, in_tm].max()) == float(overall[qi])


def test_missing_modality_never_wins():
    # doc 0 has only VIDEO tokens that match the query badly (negative scores); ASR/OCR are absent.
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    docs = [torch.tensor([[-1.0, 0.0], [0.0, -1.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])]
    mods = [torch.tensor([Modality.VIDEO, Modality.VIDEO]), torch.tensor([Modality.ASR, Modality.OCR])]
    packed, off = pack(docs)
    scores, why = modality_max(q, packed, off, torch.cat(mods), modalities=(1, 2, 3), return_argmax=True)
    assert scores.tolist() == [0.0, 1.0]  # doc 0: VIDEO = max(-1, 0) + max(0, -1) = 0, not -inf, not an absent one
    assert why.modality.tolist() == [Modality.VIDEO, Modality.ASR]  # doc 1: ASR and OCR tie at 1; first listed wins
    assert why.modality_scores[0].tolist() == [0.0, -INF, -INF]
    assert why.modality_scores[1].tolist() == [-INF, 1.0, 1.0]
    assert why.token_modality.tolist() == [[1, 1], [2, 3]]
    # a document with no competing token at all (only OTHER, which is excluded) scores -inf with -1 markers
    s2, w2 = modality_max(q, torch.ones(2, 2), [0, 2], torch.zeros(2, dtype=torch.int8), modalities=(1, 2, 3),
                          return_argmax=True)
    assert s2.tolist() == [-INF] and w2.modality.tolist() == [-1] and w2.token_index.tolist() == [[-1, -1]]


def test_other_group_competes_by_default_and_can_be_excluded():
    q = torch.tensor([[1.0, 0.0]])
    packed = torch.tensor([[1.0, 0.0], [0.5, 0.0]])  # the template token (OTHER) matches best
    mods = torch.tensor([Modality.OTHER, Modality.VIDEO])
    assert modality_max(q, packed, [0, 2], mods).tolist() == [1.0]
    assert modality_max(q, packed, [0, 2], mods, modalities=(1, 2, 3)).tolist() == [0.5]


# ---------------------------------------------------------------------------------------------------------------
# dispatcher, edge cases, errors


def test_maxsim_dispatches_and_always_returns_maxsimargmax():
    docs, mods = make_docs(6, LENGTHS)
    q = make_query(6)
    packed, off = pack(docs)
    mp = torch.cat(mods)
    assert torch.equal(maxsim(q, packed, off), token_max(q, packed, off))
    s, why = maxsim(q, packed, off, modality_ids=mp, return_argmax=True, normalize=True)
    s0, a0 = token_max(q, packed, off, return_argmax=True, normalize=True)
    assert torch.equal(s, s0) and torch.equal(why.token_index, a0)
    ok = a0 >= 0
    assert torch.equal(why.token_modality[ok], mp.long()[a0[ok]]) and (why.token_modality[~ok] == -1).all()
    assert why.modality is None and why.modality_scores is None
    s1, w1 = maxsim(q, packed, off, aggregation="modality_max", modality_ids=mp, modalities=(1, 2), return_argmax=True)
    s2, w2 = modality_max(q, packed, off, mp, modalities=(1, 2), return_argmax=True)
    assert torch.equal(s1, s2) and torch.equal(w1.token_index, w2.token_index)
    with pytest.raises(InputError, match="needs modality_ids"):
        maxsim(q, packed, off, aggregation="modality_max")
    with pytest.raises(InputError, match="unknown aggregation"):
        maxsim(q, packed, off, aggregation="mean")


def test_empty_documents_and_no_documents():
    q = make_query(7)
    s, a = token_max(q, torch.zeros(0, 16), [0, 0, 0], return_argmax=True)
    assert s.tolist() == [-INF, -INF] and (a == -1).all() and a.shape == (2, 5)
    s, why = modality_max(q, torch.zeros(0, 16), [0, 0], torch.zeros(0, dtype=torch.int8), return_argmax=True)
    assert s.tolist() == [-INF] and why.modality.tolist() == [-1]
    s = token_max(q, torch.zeros(0, 16), [0])
    assert s.shape == (0,)


def test_errors_are_clear():
    docs, mods = make_docs(8, [3, 4])
    packed, off = pack(docs)
    q = make_query(8)
    with pytest.raises(InputError, match="empty query"):
        token_max(q[:0], packed, off)
    with pytest.raises(InputError, match="query embeddings contain NaN"):
        token_max(torch.full_like(q, float("nan")), packed, off)
    bad = packed.clone()
    bad[5, 2] = float("nan")
    with pytest.raises(InputError, match=r"document 1 is rows 3:7"):
        token_max(q, bad, off)
    with pytest.raises(InputError, match="NaN"):
        token_max(q, bad, off, chunk_tokens=2)  # NaN in a later piece of a split document
    with pytest.raises(InputError, match="NaN"):
        modality_max(q, bad, off, torch.cat(mods))
    with pytest.raises(InputError, match="dim"):
        token_max(q[:, :8], packed, off)
    with pytest.raises(InputError, match="offsets end at"):
        token_max(q, packed, [0, 3])
    with pytest.raises(InputError, match="start at 0"):
        token_max(q, packed, [1, 7])
    with pytest.raises(InputError, match="non-decreasing"):
        token_max(q, packed, [0, 5, 4, 7])
    with pytest.raises(InputError, match="modality_ids must be"):
        modality_max(q, packed, off, torch.zeros(3, dtype=torch.int8))
    with pytest.raises(InputError, match="duplicates"):
        modality_max(q, packed, off, torch.cat(mods), modalities=(1, 1))
    with pytest.raises(InputError, match="chunk_tokens"):
        token_max(q, packed, off, chunk_tokens=0)


def test_pack_unpack_pad_roundtrip():
    docs, _ = make_docs(9, [2, 0, 3])
    packed, off = pack(docs)
    assert off.tolist() == [0, 2, 2, 5]
    assert all(torch.equal(a, b) for a, b in zip(unpack(packed, off), docs))
    padded, mask = pad_packed(packed, off, pad_value=7.0)
    assert padded.shape == (3, 3, 16) and mask.sum(1).tolist() == [2, 0, 3]
    assert torch.equal(padded[mask], packed) and (padded[~mask] == 7.0).all()
    with pytest.raises(InputError):
        pack([])
    with pytest.raises(InputError, match="max_len"):
        pad_packed(packed, off, max_len=2)


# ---------------------------------------------------------------------------------------------------------------
# padded / differentiable forms


def padded_batch(seed: int, dtype=torch.float32, extra: int = 4):
    """Docs padded with `extra` garbage positions beyond their length (masked out)."""
    docs, mods = make_docs(seed, LENGTHS, dtype=dtype)
    packed, off = pack(docs)
    mp = torch.cat(mods)
    d, d_mask = pad_packed(packed, off, max_len=max(LENGTHS) + extra)
    g = torch.Generator().manual_seed(seed + 5)
    d = torch.where(d_mask.unsqueeze(-1), d, (10 * torch.randn(d.shape, generator=g)).to(dtype))  # loud padding
    d_mod, _ = pad_packed(mp, off, max_len=max(LENGTHS) + extra, pad_value=Modality.VIDEO)
    return docs, packed, off, mp, d, d_mask, d_mod


@pytest.mark.parametrize("dtype", DTYPES)
def test_score_matrix_equals_packed_functions(dtype):
    docs, packed, off, mp, d, d_mask, d_mod = padded_batch(10, dtype)
    queries = [make_query(10 + b, n_q=n, dtype=dtype) for b, n in enumerate([5, 3, 6])]
    q, q_mask = pad_packed(*pack(queries))
    q = torch.where(q_mask.unsqueeze(-1), q, torch.full_like(q, 3.0))  # masked query tokens must not count
    sm = score_matrix(q, q_mask, d, d_mask)
    sm_norm = score_matrix(q, q_mask, d, d_mask, normalize=True)
    mm = score_matrix(q, q_mask, d, d_mask, aggregation="modality_max", d_modality=d_mod, modalities=(1, 2, 3))
    pm = per_modality_scores(q, q_mask, d, d_mask, d_mod, modalities=(1, 2, 3))
    assert sm.shape == (3, len(docs)) and pm.shape == (3, len(docs), 3)
    for b, qb in enumerate(queries):
        assert_scores_close(sm[b], token_max(qb, packed, off).double())
        assert_scores_close(sm_norm[b], token_max(qb, packed, off, normalize=True).double())
        s, why = modality_max(qb, packed, off, mp, modalities=(1, 2, 3), return_argmax=True)
        assert_scores_close(mm[b], s.double())
        assert_scores_close(pm[b].flatten(), why.modality_scores.flatten().double())


@pytest.mark.slow
def test_score_matrix_gradients():
    g = torch.Generator().manual_seed(11)
    q = torch.randn(2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    d = torch.randn(3, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    q_mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    d_mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    d_mod = torch.tensor([[1, 2, 1, 3, 0], [2, 2, 0, 0, 0], [1, 1, 3, 3, 2]])
    assert torch.autograd.gradcheck(lambda a, b: score_matrix(a, q_mask, b, d_mask, normalize=True), (q, d))
    assert torch.autograd.gradcheck(
        lambda a, b: score_matrix(a, q_mask, b, d_mask, aggregation="modality_max", d_modality=d_mod), (q, d))
    # a loss over -inf entries (absent modalities) still gives finite gradients; masked positions get none
    pm = per_modality_scores(q, q_mask, d, d_mask, d_mod, modalities=(1, 2, 3))
    assert torch.isinf(pm).any()
    logits = pm.flatten(1).float() / 0.02
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 4]))
    loss.backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(d.grad).all()
    assert (q.grad[0, 2] == 0).all() and (d.grad[1, 2:] == 0).all()
    # low-precision inputs: gradients come back in the input dtype
    qb = q.detach().to(torch.bfloat16).requires_grad_()
    db = d.detach().to(torch.bfloat16).requires_grad_()
    score_matrix(qb, q_mask, db, d_mask).sum().backward()
    assert qb.grad.dtype == torch.bfloat16 and torch.isfinite(db.grad.float()).all()


def test_score_matrix_errors():
    q, d = torch.randn(1, 2, 4), torch.randn(2, 3, 4)
    with pytest.raises(InputError, match="no unmasked tokens"):
        score_matrix(q, torch.zeros(1, 2, dtype=torch.bool), d, None)
    with pytest.raises(InputError, match="needs d_modality"):
        score_matrix(q, None, d, None, aggregation="modality_max")
    with pytest.raises(InputError, match="d_mask must be"):
        score_matrix(q, None, d, torch.ones(2, 2, dtype=torch.bool))
    bad = d.clone()
    bad[1, 0, 0] = float("nan")
    with pytest.raises(InputError, match="document 1"):
        score_matrix(q, None, bad, None)
    bad_d_mask = torch.tensor([[True, True, True], [False, True, True]])
    assert torch.isfinite(score_matrix(q, None, bad, bad_d_mask)).all()  # a masked NaN does not reach a score


# ---------------------------------------------------------------------------------------------------------------
# the reference's zero padding (floor=0): parity with a padded reference written from its description


def padded_reference(query, docs, mods, length, aggregation="token_max"):
    """The reference's scores, from its description: each document padded to ``length`` tokens with zero vectors
    (modality id 0, the padding/template group), ``einsum("qd,csd->cqs")`` over every position, max over positions,
    sum over query tokens; LI_mw: positions of other groups set to -inf per group 0..3, then the best group."""
    dim = query.shape[1]
    padded = torch.zeros(len(docs), length, dim, dtype=torch.float64)
    ids = torch.zeros(len(docs), length, dtype=torch.int64)
    for i, (doc, m) in enumerate(zip(docs, mods)):
        padded[i, : doc.shape[0]] = doc.double()
        ids[i, : doc.shape[0]] = m.long()
    sims = torch.einsum("qd,csd->cqs", query.double(), padded)
    if aggregation == "token_max":
        return sims.amax(-1).sum(-1)
    onehot = torch.nn.functional.one_hot(ids, 4).bool().permute(2, 0, 1)  # [M, C, S]
    per_group = sims.unsqueeze(0).masked_fill(~onehot[:, :, None, :], -INF).amax(-1).sum(-1)  # [M, C]
    return per_group.max(0).values


def far_docs(seed: int, n_docs: int = 40, dim: int = 8):
    """Documents where many query tokens have only negative similarities: some tokens are negated query tokens."""
    g = torch.Generator().manual_seed(seed)
    q = make_query(seed, n_q=6, dim=dim)
    docs, mods = [], []
    for _ in range(n_docs):
        n = int(torch.randint(1, 7, (1,), generator=g))
        x = torch.nn.functional.normalize(torch.randn(n, dim, generator=g), dim=-1)
        anti = torch.rand(n, generator=g) < 0.5
        x[anti] = -q[torch.randint(0, q.shape[0], (int(anti.sum()),), generator=g)]
        docs.append(x)
        mods.append(torch.randint(0, 4, (n,), generator=g))
    return q, docs, mods


def ranking(scores):
    return torch.argsort(-scores.double(), stable=True).tolist()


@pytest.mark.parametrize("aggregation", ["token_max", "modality_max"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_floor_zero_is_the_reference_zero_padding(aggregation, seed):
    q, docs, mods = far_docs(seed)
    want = padded_reference(q, docs, mods, length=16, aggregation=aggregation)
    emb, off = pack(docs)
    mod_ids = torch.cat(mods)
    got = maxsim(q, emb, off, aggregation=aggregation, modality_ids=mod_ids, floor=0.0)
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=0)
    assert ranking(got) == ranking(want)
    # the padded training path gives the same numbers
    d, d_mask = pad_packed(emb, off)
    d_mod, _ = pad_packed(mod_ids.unsqueeze(1), off)
    sm = score_matrix(q.unsqueeze(0), None, d, d_mask, aggregation=aggregation, d_modality=d_mod[..., 0],
                      floor=0.0)[0]
    torch.testing.assert_close(sm.double(), want, atol=1e-5, rtol=0)
    # The data exercises the difference: without the floor, negative best matches change the ranking.
    plain = maxsim(q, emb, off, aggregation=aggregation, modality_ids=mod_ids)
    assert bool((plain < want - 1e-6).any()) and ranking(plain) != ranking(want)


def test_floor_argmax_marks_padding_matches():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    docs = torch.tensor([[0.6, -0.8], [-0.6, -0.8]])  # query token 1 has only negative similarities
    mods = torch.tensor([2, 3])
    scores, why = maxsim(q, docs, [0, 2], modality_ids=mods, floor=0.0, return_argmax=True)
    assert scores.tolist() == [pytest.approx(0.6)]
    assert why.token_index.tolist() == [[0, -1]] and why.similarity.tolist() == [[pytest.approx(0.6), 0.0]]
    assert why.token_modality.tolist() == [[2, int(Modality.OTHER)]]  # padding votes for the padding group
    s, w = modality_max(q, docs, [0, 2], mods, floor=0.0, return_argmax=True)
    # groups: OTHER (padding only: 0 + 0), ASR (0.6 - 0.8), OCR (-0.6 - 0.8): padding wins, as in the reference
    assert w.modalities == (0, 2, 3) and w.modality_scores[0].tolist() == pytest.approx([0.0, -0.2, -1.4])
    assert s.tolist() == [0.0] and w.modality.tolist() == [0] and w.token_index.tolist() == [[-1, -1]]
    # explicit modalities without OTHER: no padding competes, floor has no effect
    assert modality_max(q, docs, [0, 2], mods, modalities=(2, 3), floor=0.0).tolist() == pytest.approx([-0.2])
    # a document with no tokens has nothing to pad
    assert maxsim(q, docs, [0, 2, 2], floor=0.0)[1].item() == -INF
    with pytest.raises(InputError, match="floor"):
        maxsim(q, docs, [0, 2], floor=float("nan"))
