"""Training losses against their formulas, computed independently of the loss module from plain tensors."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from clamr_frames.errors import InputError  # noqa: E402
from clamr_frames.train.losses import (  # noqa: E402
    ALL_MODALITIES,
    Embedded,
    build_loss,
    false_negative_mask,
    gather_padded,
    info_nce,
    pairwise_softplus,
)
from clamr_frames.types import Modality  # noqa: E402

V, A, O, T = int(Modality.VIDEO), int(Modality.ASR), int(Modality.OCR), int(Modality.OTHER)


def _batch(seed: int = 0, B: int = 3, C: int = 5, n_q: int = 4, n_d: int = 6, dim: int = 8):
    g = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(B, n_q, dim, generator=g), dim=-1)
    d = F.normalize(torch.randn(C, n_d, dim, generator=g), dim=-1)
    q_mask = torch.ones(B, n_q, dtype=torch.bool)
    q_mask[0, -1] = False  # a shorter query
    d_mask = torch.ones(C, n_d, dtype=torch.bool)
    d_mask[1, -2:] = False  # a shorter document
    mods = torch.tensor([[T, V, V, A, A, O]] * C)
    mods[2] = torch.tensor([T, V, V, V, V, V])  # no ASR, no OCR in document 2
    return q, q_mask, d, d_mask, mods


def _maxsim_naive(q, qm, d, dm, mods=None, only=None):
    """Per (query, doc): sum over real query tokens of the best real (modality-``only``) doc token; /n_q."""
    B, C = q.shape[0], d.shape[0]
    out = torch.full((B, C), float("-inf"), dtype=torch.float64)
    for b in range(B):
        for c in range(C):
            ok = dm[c].clone()
            if only is not None:
                ok &= mods[c] == only
            if not ok.any():
                continue
            sims = q[b][qm[b]].double() @ d[c][ok].double().T
            out[b, c] = sims.max(1).values.sum() / qm[b].sum()
    return out


def _embedded(seed=0, **kw):
    q, qm, d, dm, mods = _batch(seed, **kw)
    return Embedded(q, qm), Embedded(d, dm, mods), (q, qm, d, dm, mods)


def test_infonce_token_max_matches_formula():
    qe, de, (q, qm, d, dm, _) = _embedded()
    targets = torch.tensor([0, 1, 3])
    out = build_loss("infonce", aggregation="token_max", tau=0.05)(qe, de, targets)
    S = _maxsim_naive(q, qm, d, dm)
    want = F.cross_entropy(S / 0.05, targets)
    assert float(out.loss) == pytest.approx(float(want), rel=1e-5)
    assert torch.allclose(out.scores.double(), S, atol=1e-5)
    assert out.tau == pytest.approx(0.05)


def test_infonce_modality_max_matches_formula():
    qe, de, (q, qm, d, dm, mods) = _embedded(1)
    targets = torch.tensor([2, 0, 4])
    out = build_loss("infonce", aggregation="modality_max")(qe, de, targets)
    per = torch.stack([_maxsim_naive(q, qm, d, dm, mods, m) for m in ALL_MODALITIES], -1)
    S = per.max(-1).values
    assert torch.allclose(out.scores.double(), S, atol=1e-5)
    assert float(out.loss) == pytest.approx(float(F.cross_entropy(S / 0.02, targets)), rel=1e-5)


def _zero_padded_reference(q, qm, d, dm, mods, aggregation):
    """The reference's scores, from its description: every document padded with a zero vector (group 0), padded
    positions zeroed, max over all positions (per group 0..3 for LI_mw, then the best group), /n_q."""
    C, dim = d.shape[0], d.shape[-1]
    dz = torch.cat([d.double() * dm[..., None], torch.zeros(C, 1, dim, dtype=torch.float64)], 1)
    ids = torch.cat([torch.where(dm, mods, T), torch.full((C, 1), T)], 1)
    sims = torch.einsum("bqh,csh->bcqs", q.double() * qm[..., None], dz)
    if aggregation == "modality_max":
        onehot = F.one_hot(ids, 4).bool().permute(2, 0, 1)  # [M, C, S]
        sims = torch.stack([sims.masked_fill(~onehot[m][None, :, None, :], float("-inf")) for m in range(4)])
        return (sims.amax(-1).sum(-1) / qm.sum(-1)[None, :, None]).max(0).values
    return sims.amax(-1).sum(-1) / qm.sum(-1)[:, None]


@pytest.mark.parametrize("aggregation", ["token_max", "modality_max"])
def test_floor_trains_on_the_reference_zero_padding(aggregation):
    q, qm, d, dm, mods = _batch(2)
    # Queries around one direction u, documents 0, 2, 4 around -u: there every similarity is negative.
    u = F.normalize(torch.ones(q.shape[-1]), dim=0)
    q = F.normalize(u + 0.5 * q, dim=-1)
    d[::2] = F.normalize(-u + 0.5 * d[::2], dim=-1)
    targets = torch.tensor([0, 1, 3])
    out = build_loss("infonce", aggregation=aggregation, floor=0.0)(Embedded(q, qm), Embedded(d, dm, mods), targets)
    S = _zero_padded_reference(q, qm, d, dm, mods, aggregation)
    assert torch.allclose(out.scores.double(), S, atol=1e-5)
    plain = build_loss("infonce", aggregation=aggregation)(Embedded(q, qm), Embedded(d, dm, mods), targets)
    assert not torch.allclose(plain.scores.double(), S, atol=1e-3)


def test_modality_positive_uses_gold_modality_and_falls_back():
    qe, de, (q, qm, d, dm, mods) = _embedded(2)
    targets = torch.tensor([0, 2, 1])
    # query 1's positive (doc 2) has no ASR token and query 2's (doc 1) only a padded OCR token: both fall back
    # to the aggregated score; query 0 gets the ASR score of doc 0
    gold = torch.tensor([A, A, O])
    out = build_loss("modality_positive", aggregation="modality_max", tau=0.1)(qe, de, targets, query_modality=gold)
    per = torch.stack([_maxsim_naive(q, qm, d, dm, mods, m) for m in ALL_MODALITIES], -1)
    assert per[1, 2, ALL_MODALITIES.index(A)] == float("-inf") and per[2, 1, ALL_MODALITIES.index(O)] == float("-inf")
    S = per.max(-1).values
    logits = S.clone()
    logits[0, 0] = per[0, 0, ALL_MODALITIES.index(A)]
    assert logits[0, 0] < S[0, 0]  # the gold modality is not the best one here: the loss really changed
    assert math.isfinite(float(out.loss))
    assert float(out.loss) == pytest.approx(float(F.cross_entropy(logits / 0.1, targets)), rel=1e-5)


def test_modality_negative_adds_the_other_modalities_as_negatives():
    qe, de, (q, qm, d, dm, mods) = _embedded(3)
    targets = torch.tensor([0, 1, 3])
    gold = torch.tensor([V, A, O])
    out = build_loss("modality_negative", aggregation="modality_max", tau=0.1)(qe, de, targets, query_modality=gold)
    per = torch.stack([_maxsim_naive(q, qm, d, dm, mods, m) for m in ALL_MODALITIES], -1)
    S = per.max(-1).values
    total = 0.0
    for i in range(3):
        g = ALL_MODALITIES.index(int(gold[i]))
        pos = per[i, targets[i], g]
        negs = [S[i, j] for j in range(S.shape[1]) if j != targets[i]]
        negs += [per[i, j, m] for j in range(S.shape[1]) for m in range(len(ALL_MODALITIES))
                 if (j, m) != (int(targets[i]), g)]
        logits = torch.stack([pos] + negs) / 0.1
        total += float(torch.logsumexp(logits, 0) - logits[0])
    assert float(out.loss) == pytest.approx(total / 3, rel=1e-5)
    pos_only = build_loss("modality_positive", aggregation="modality_max", tau=0.1)(qe, de, targets,
                                                                                   query_modality=gold)
    assert float(out.loss) > float(pos_only.loss)  # strictly more negatives


def test_pairwise_softplus_matches_formula():
    qe, de, (q, qm, d, dm, _) = _embedded(4)
    targets = torch.tensor([4, 0, 2])
    out = build_loss("pairwise", aggregation="token_max")(qe, de, targets)
    S = _maxsim_naive(q, qm, d, dm)
    want = 0.0
    for i in range(3):
        others = torch.cat([S[i, : targets[i]], S[i, targets[i] + 1 :]])
        want += float(F.softplus(others.max() - S[i, targets[i]]))
    assert float(out.loss) == pytest.approx(want / 3, rel=1e-5)
    assert float(pairwise_softplus(S, targets)) == pytest.approx(want / 3, rel=1e-6)


def test_gradients_reach_queries_and_documents():
    q, qm, d, dm, mods = _batch(5)
    q.requires_grad_(True)
    d.requires_grad_(True)
    out = build_loss("infonce")(Embedded(q, qm), Embedded(d, dm, mods), torch.tensor([0, 1, 2]))
    out.loss.backward()
    assert q.grad is not None and float(q.grad.abs().sum()) > 0
    assert d.grad is not None and float(d.grad.abs().sum()) > 0
    assert float(q.grad[0, -1].abs().sum()) == 0  # a padded query token gets no gradient


def test_false_negatives_are_masked():
    # queries 0 and 1 ask about the same span of the same video; doc 1 (query 1's positive) is also a
    # positive of query 0, so it must not be one of query 0's negatives.
    q, qm, d, dm, mods = _batch(6, B=2, C=3)
    loss = build_loss("infonce", aggregation="token_max", tau=0.1)
    targets = torch.tensor([0, 1])
    kw = dict(query_video=torch.tensor([7, 7]), query_spans=torch.tensor([[[10.0, 20.0]], [[10.0, 20.0]]]),
              doc_video=torch.tensor([7, 7, 7]), doc_time=torch.tensor([12.0, 15.0, 40.0]))
    masked = loss(Embedded(q, qm), Embedded(d, dm, mods), targets, **kw)
    S = _maxsim_naive(q, qm, d, dm)
    want0 = float(torch.logsumexp(S[0, [0, 2]] / 0.1, 0) - S[0, 0] / 0.1)
    want1 = float(torch.logsumexp(S[1, [1, 2]] / 0.1, 0) - S[1, 1] / 0.1)
    assert float(masked.loss) == pytest.approx((want0 + want1) / 2, rel=1e-5)
    m = false_negative_mask(kw["query_video"], kw["query_spans"], kw["doc_video"], kw["doc_time"], targets)
    assert m.tolist() == [[False, True, False], [True, False, False]]


def test_learnable_tau_trains_and_is_clamped():
    qe, de, _ = _embedded(7)
    loss = build_loss("infonce", tau=0.05, learnable_tau=True)
    params = list(loss.parameters())
    assert len(params) == 1
    out = loss(qe, de, torch.tensor([0, 1, 2]))
    out.loss.backward()
    assert params[0].grad is not None and float(params[0].grad.abs()) > 0
    with torch.no_grad():
        params[0].fill_(50.0)  # tau = e^-50 -> clamped to 1e-3
    assert loss.tau() == pytest.approx(1e-3)
    assert list(build_loss("infonce").parameters()) == []  # fixed tau: nothing to train


def test_single_vector_is_the_dot_product():
    g = torch.Generator().manual_seed(8)
    q = F.normalize(torch.randn(3, 1, 8, generator=g), dim=-1)
    d = F.normalize(torch.randn(4, 1, 8, generator=g), dim=-1)
    ones = lambda n: torch.ones(n, 1, dtype=torch.bool)  # noqa: E731
    out = build_loss("infonce", aggregation="token_max")(Embedded(q, ones(3)), Embedded(d, ones(4)),
                                                         torch.tensor([1, 2, 3]))
    assert torch.allclose(out.scores, q[:, 0] @ d[:, 0].T, atol=1e-6)
    assert float(out.loss) == pytest.approx(float(info_nce(q[:, 0] @ d[:, 0].T, torch.tensor([1, 2, 3]))), rel=1e-5)


def test_bad_arguments():
    qe, de, _ = _embedded()
    with pytest.raises(InputError, match="unknown loss kind"):
        build_loss("triplet")
    with pytest.raises(InputError, match="tau"):
        build_loss("infonce", tau=0.0)
    with pytest.raises(InputError, match="query_modality"):
        build_loss("modality_positive")(qe, de, torch.tensor([0, 1, 2]))
    with pytest.raises(InputError, match="targets"):
        build_loss("infonce")(qe, de, torch.tensor([0, 1, 9]))
    with pytest.raises(InputError, match="modality"):
        build_loss("infonce", aggregation="modality_max")(qe, Embedded(de.emb, de.mask), torch.tensor([0, 1, 2]))


def test_gather_is_identity_in_one_process():
    x = torch.randn(3, 2, 4)
    got, counts = gather_padded(x)
    assert got is x and counts == [3]
