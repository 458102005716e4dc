"""The select stage: every policy's contract (k distinct sorted int64 indices) and its intended effect."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamr_frames.errors import InputError
from clamr_frames.select import (
    POLICIES,
    adaptive,
    gated,
    get_policy,
    hybrid,
    inverse_transform,
    nms,
    peakiness,
    register_policy,
    select_frames,
    topk,
    uniform,
)

NAMES = sorted(POLICIES)
BUILTIN = ["adaptive", "aks", "bolt", "gated", "hybrid", "inverse-transform", "nms", "topk", "uniform"]
# Policies that return distinct indices (bolt repeats frames as BOLT does: tests/select/test_reference_algorithms.py).
DISTINCT = [name for name in BUILTIN if not getattr(POLICIES[name], "repeats", False)]


def _check(out: np.ndarray, n: int, k: int) -> None:
    assert isinstance(out, np.ndarray) and out.dtype == np.int64 and out.ndim == 1
    assert out.size == min(k, n)
    assert np.all(np.diff(out) > 0), f"not sorted/unique: {out}"
    assert out.size == 0 or (out[0] >= 0 and out[-1] < n)


def _bump(n: int, center: float, width: float, height: float) -> np.ndarray:
    x = np.arange(n, dtype=np.float64)
    return height * np.exp(-((x - center) ** 2) / (2 * width**2))


# -- registry and validation -------------------------------------------------------------------------


def test_registry_names():
    # coverage needs the visual prior (prior=...): its own tests are in test_coverage.py
    assert NAMES == sorted([*BUILTIN, "coverage"])
    assert get_policy("inverse-transform") is inverse_transform
    assert get_policy("Inverse_Transform") is inverse_transform
    assert get_policy(" TOPK ") is topk


def test_unknown_policy_lists_valid_names():
    with pytest.raises(InputError) as e:
        select_frames(np.ones(5), None, 2, policy="best-frames")
    msg = str(e.value)
    assert "best-frames" in msg and all(name in msg for name in BUILTIN)
    with pytest.raises(InputError):
        get_policy(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one(k):
    with pytest.raises(InputError, match="k must be >= 1"):
        select_frames(np.ones(5), None, k)


@pytest.mark.parametrize("k", [2.0, "3", True, None])
def test_k_not_an_integer(k):
    with pytest.raises(InputError, match="k must be a positive integer"):
        select_frames(np.ones(5), None, k)


def test_numpy_integer_k():
    assert select_frames(np.arange(5.0), None, np.int64(2)).tolist() == [3, 4]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores(bad):
    s = np.ones(20)
    s[[3, 11]] = bad
    with pytest.raises(InputError) as e:
        select_frames(s, np.arange(20.0), 4)
    msg = str(e.value)
    assert "2 non-finite" in msg and "3, 11" in msg
    assert ("NaN" in msg) == bool(np.isnan(bad)) and ("infinite" in msg) == bool(np.isinf(bad))


def test_many_non_finite_scores_are_summarised():
    s = np.full(100, np.nan)
    with pytest.raises(InputError, match=r"100 non-finite value\(s\) of 100 \(100 NaN\) at index 0, 1, .*\.\.\."):
        select_frames(s, None, 4)


def test_mismatched_and_bad_shapes():
    with pytest.raises(InputError, match="same length"):
        select_frames(np.ones(5), np.arange(4.0), 2)
    with pytest.raises(InputError, match="1-D"):
        select_frames(np.ones((2, 5)), None, 2)
    with pytest.raises(InputError, match="same length"):
        select_frames(np.ones(4), np.ones((2, 2)), 2)
    with pytest.raises(InputError, match="empty"):
        select_frames(np.array([]), np.array([]), 1)
    with pytest.raises(InputError, match="numbers"):
        select_frames(np.array(["a", "b"]), None, 1)


def test_timestamps_checked():
    with pytest.raises(InputError, match="time order"):
        select_frames(np.ones(4), np.array([0.0, 2.0, 1.0, 3.0]), 2)
    with pytest.raises(InputError, match="timestamps contain 1 non-finite"):
        select_frames(np.ones(4), np.array([0.0, np.nan, 2.0, 3.0]), 2)
    # Equal timestamps are allowed (duplicated container timestamps happen).
    _check(select_frames(np.ones(4), np.array([0.0, 1.0, 1.0, 2.0]), 2, policy="nms"), 4, 2)


def test_unknown_and_bad_knobs():
    with pytest.raises(InputError, match=r"'topk' does not take 'min_gap'; it takes: no knobs"):
        select_frames(np.ones(9), None, 2, policy="topk", min_gap=3)
    with pytest.raises(InputError, match="it takes: alpha"):
        select_frames(np.ones(9), None, 2, policy="inverse-transform", power=3)
    for policy, knobs in [
        ("nms", {"min_gap": -1.0}),
        ("nms", {"min_gap": float("nan")}),
        ("inverse-transform", {"alpha": 0.0}),
        ("hybrid", {"uniform_share": 1.5}),
        ("adaptive", {"depth": -1}),
        ("adaptive", {"depth": 2.5}),
        ("adaptive", {"peak_k": 0}),
        ("gated", {"gate": 2.0}),
    ]:
        with pytest.raises(InputError):
            select_frames(np.arange(9.0), None, 2, policy=policy, **knobs)


@pytest.mark.parametrize("policy", BUILTIN)
def test_k_at_least_n_returns_all(policy):
    s = np.array([0.3, 0.1, 0.9, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # k == n: no warning
        assert select_frames(s, None, 4, policy=policy).tolist() == [0, 1, 2, 3]
    with pytest.warns(UserWarning, match="k=7 is more than the 4 candidate frames"):
        out = select_frames(s, None, 7, policy=policy)
    _check(out, 4, 7)
    # The policy functions themselves handle k >= n too (no warning there: that is select_frames' job).
    assert POLICIES[policy](s, np.arange(4.0), 9).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("policy", DISTINCT)
def test_k_one(policy):
    s = np.zeros(50)
    s[16:19] = [0.9, 1.0, 0.9]
    out = select_frames(s, None, 1, policy=policy)
    _check(out, 50, 1)
    if policy != "uniform":  # uniform ignores the scores: frame 0, like lmms-eval with one frame
        assert out.tolist() == [17]
    else:
        assert out.tolist() == [0]


@pytest.mark.parametrize("policy", DISTINCT)
@pytest.mark.parametrize("k", [1, 2, 7, 16, 33, 99])
def test_flat_scores_still_give_k_distinct(policy, k):
    out = select_frames(np.full(100, 0.25), np.arange(100.0) * 0.5, k, policy=policy)
    _check(out, 100, k)


def test_ties_go_to_the_earlier_frame():
    s = np.array([0.5, 0.9, 0.2, 0.9, 0.9, 0.5])
    assert topk(s, None, 2).tolist() == [1, 3]
    assert topk(s, None, 4).tolist() == [0, 1, 3, 4]
    assert nms(s, np.arange(6.0), 2, min_gap=0.0).tolist() == [1, 3]
    assert hybrid(s, None, 2, uniform_share=0.0).tolist() == [1, 3]


def test_output_does_not_depend_on_input_dtype():
    s = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.int32)
    for name in BUILTIN:
        a = select_frames(s, np.arange(8), 3, policy=name)
        b = select_frames(s.astype(np.float32), np.arange(8.0), 3, policy=name)
        assert a.tolist() == b.tolist(), name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scores=st.lists(st.integers(0, 4) | st.floats(-1e6, 1e6), min_size=1, max_size=80),
    k=st.integers(1, 90),
    policy=st.sampled_from(DISTINCT),
    spacing=st.floats(0.01, 30.0),
)
def test_contract_on_arbitrary_scores(scores, k, policy, spacing):
    s = np.asarray(scores, dtype=np.float64)
    t = np.arange(s.size) * spacing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = select_frames(s, t, k, policy=policy)
    _check(out, s.size, k)
    assert out.tolist() == select_frames(s, t, min(k, s.size), policy=policy).tolist()


def test_extreme_score_range():
    s = np.array([-1.7e308, 0.0, 1.7e308, 1.0, 5.0])
    for name in DISTINCT:
        _check(select_frames(s, None, 2, policy=name), 5, 2)
    assert peakiness(s) > 0.0


@pytest.mark.parametrize("policy", BUILTIN)
def test_deterministic_for_a_seed(policy):
    rng = np.random.default_rng(7)
    s = rng.normal(size=400)
    s[120:130] += 5
    t = np.arange(400.0)
    a = select_frames(s, t, 24, policy=policy, seed=3)
    b = select_frames(s.copy(), t.copy(), 24, policy=policy, seed=3)
    assert a.tolist() == b.tolist()


def test_register_policy_and_contract_check():
    from clamr_frames.errors import ClamrFramesError

    register_policy("last-k", lambda s, t, k, *, seed=0: np.arange(len(s) - k, len(s))[::-1])
    register_policy("broken", lambda s, t, k, *, seed=0: np.zeros(k, dtype=int))
    try:
        assert select_frames(np.ones(6), None, 2, policy="last_k").tolist() == [4, 5]
        with pytest.raises(ClamrFramesError, match="broke its contract"):
            select_frames(np.ones(6), None, 2, policy="broken")
        with pytest.raises(InputError, match="exists already"):
            register_policy("topk", topk)
    finally:
        POLICIES.pop("last-k", None)
        POLICIES.pop("broken", None)
    assert sorted(POLICIES) == NAMES


# -- each policy's effect on a generated profile -----------------------------------------------------


def test_uniform_equals_lmms_eval_linspace():
    for n, k in [(10, 3), (600, 100), (3600, 32), (101, 100), (7, 1)]:
        out = uniform(np.random.default_rng(n).random(n), np.arange(n, dtype=float), k)
        assert out.tolist() == np.linspace(0, n - 1, k, dtype=int).tolist()


def test_nms_spreads_over_two_events_where_topk_spends_all_on_one():
    n, k = 600, 8
    rng = np.random.default_rng(0)
    s = 0.02 * rng.random(n) + _bump(n, 150, 15, 1.0) + _bump(n, 450, 5, 0.7)  # A higher and wider than B
    t = np.arange(n, dtype=float)

    def in_a(idx):
        return int(np.sum(np.abs(idx - 150) <= 45))

    def in_b(idx):
        return int(np.sum(np.abs(idx - 450) <= 15))

    top = topk(s, t, k)
    assert in_a(top) == k and in_b(top) == 0
    picked = nms(s, t, k)  # default gap: 599 / 32 ≈ 18.7 s
    assert in_a(picked) >= 1 and in_b(picked) >= 1
    assert np.min(np.diff(t[picked])) >= 599 / 32
    # An explicit gap is honoured the same way.
    picked = select_frames(s, t, k, policy="nms", min_gap=10.0)
    assert in_b(picked) >= 1 and np.min(np.diff(t[picked])) >= 10.0


def test_nms_relaxes_the_gap_to_return_exactly_k():
    rng = np.random.default_rng(1)
    s = rng.random(30)
    t = np.arange(30.0)
    out = nms(s, t, 12, min_gap=100.0)  # one pick would suppress everything
    _check(out, 30, 12)
    assert out[np.argmax(s[out])] == int(np.argmax(s))  # the best frame is always kept
    # The gap is halved (100, 50, ..., 1.5625 s) until 12 fit, so the picks are still >= 2 frames apart.
    assert np.min(np.diff(out)) >= 2
    # A gap that can never fit k (every candidate at one instant) ends as plain top-k.
    assert nms(s, np.zeros(30), 12).tolist() == topk(s, None, 12).tolist()
    # With a feasible gap the picks respect it.
    out = nms(s, t, 5, min_gap=5.0)
    assert np.min(np.diff(out)) >= 5


def test_adaptive_concentrates_on_the_peaked_half_and_spreads_on_the_flat_half():
    n, k = 512, 16
    rng = np.random.default_rng(0)
    s = 0.3 + 0.05 * rng.random(n) + _bump(n, 384, 3, 0.7)
    out = adaptive(s, None, k, threshold=0.6)
    right, left = out[out >= 256], out[out < 256]
    # Peaked half (budget 8) is a leaf: all 8 frames on the peak.
    assert len(right) == 8 and np.all(np.abs(right - 384) <= 6)
    # Flat half (budget 8) is split down to 8 bins of 32 candidates: one frame in each.
    assert np.bincount(left // 32, minlength=8).tolist() == [1] * 8
    # Compared with the two extremes it is built from:
    assert np.all(np.abs(topk(s, None, k) - 384) <= 10)  # top-k: everything on the peak
    assert np.sum(np.abs(uniform(s, None, k) - 384) <= 6) <= 1  # uniform: peak mostly missed


def test_adaptive_on_a_flat_profile_is_binned_coverage():
    rng = np.random.default_rng(2)
    s = rng.random(640)
    out = adaptive(s, None, 16)  # defaults: depth 5, threshold 0.8
    assert np.bincount(out // 40, minlength=16).tolist() == [1] * 16
    # Depth bounds the splitting: depth 1 = two halves, top-8 inside each.
    out = adaptive(s, None, 16, depth=1)
    assert np.sum(out < 320) == 8 and out[out < 320].tolist() == np.sort(np.argsort(-s[:320])[:8]).tolist()


def test_adaptive_odd_budgets_still_sum_to_k():
    rng = np.random.default_rng(3)
    s = rng.random(97)
    for k in [3, 5, 31, 64, 95, 96]:
        _check(adaptive(s, None, k), 97, k)
        _check(adaptive(s, None, k, depth=12), 97, k)
        _check(adaptive(s, None, k, peak_k=k), 97, k)


def test_inverse_transform_density_follows_the_scores():
    n, k = 600, 30
    rng = np.random.default_rng(0)
    s = 0.4 + 0.2 * rng.random(n)
    s[300:360] = 1.0  # 10 % of the timeline is relevant
    out = inverse_transform(s, None, k, alpha=1.0)
    inside = int(np.sum((out >= 300) & (out < 360)))
    assert inside >= 3 * (k * 60 / n)  # at least three times uniform's density
    assert k - inside >= 5  # ... and the rest of the video is still covered
    # Higher alpha concentrates more; alpha → 0 approaches uniform.
    sharp = inverse_transform(s, None, k, alpha=3.0)
    assert np.sum((sharp >= 300) & (sharp < 360)) > inside
    flat = inverse_transform(s, None, k, alpha=1e-6)
    assert np.sum((flat >= 300) & (flat < 360)) <= 4


def test_inverse_transform_is_collision_free_at_k_100():
    n, k = 600, 100
    rng = np.random.default_rng(0)
    s = 0.05 * rng.random(n) + _bump(n, 300, 4, 1.0)
    # BOLT's plain searchsorted collapses most quantiles onto a few frames.
    z = (s - s.min()) / (s.max() - s.min())
    w = z**3
    naive = np.searchsorted(np.cumsum(w / w.sum()), np.linspace(1 / k, 1 - 1 / k, k))
    assert len(np.unique(naive)) < 50
    out = inverse_transform(s, None, k)
    _check(out, n, k)
    # Displaced quantiles go to the nearest free frames: a contiguous block around the peak.
    assert out[0] >= 300 - 60 and out[-1] <= 300 + 60 and 300 in out.tolist()


def test_hybrid_covers_the_timeline_and_hits_the_peak():
    n, k = 600, 10
    s = np.zeros(n)
    s[333] = 1.0  # not on the uniform grid
    out = hybrid(s, None, k)
    assert 333 in out.tolist()
    assert set(uniform(s, None, 5).tolist()) <= set(out.tolist())
    assert np.max(np.diff(np.concatenate([[0], out, [n - 1]]))) <= (n - 1) / 4 + 1
    assert hybrid(s, None, k, uniform_share=1.0).tolist() == uniform(s, None, k).tolist()
    assert hybrid(s, None, k, uniform_share=0.0).tolist() == topk(s, None, k).tolist()
    # The top-k part never repeats a uniform frame: with the peak on the grid, the next best fill in.
    s2 = np.zeros(n)
    s2[0] = 1.0
    _check(hybrid(s2, None, k), n, k)


def test_peakiness_and_the_gate():
    rng = np.random.default_rng(4)
    noise = rng.normal(size=600)
    needle = noise.copy()
    needle[200:210] += 8.0
    assert peakiness(np.full(10, 3.0)) == 0.0
    assert 0.35 < peakiness(noise) < 0.6 < peakiness(needle) <= 1.0
    assert gated(noise, None, 16).tolist() == uniform(noise, None, 16).tolist()
    assert gated(needle, None, 16).tolist() == nms(needle, None, 16).tolist()
    assert gated(needle, None, 16, min_gap=0.0).tolist() == topk(needle, None, 16).tolist()
    assert gated(needle, None, 16, gate=1.0).tolist() == uniform(needle, None, 16).tolist()
    with pytest.raises(InputError):
        peakiness(np.array([1.0, np.nan]))


def test_large_inputs():
    # speed is measured in benchmarks/, not asserted here
    rng = np.random.default_rng(5)
    s = rng.normal(size=10_800)  # 3 h at 1 fps
    t = np.arange(10_800.0)
    for name in DISTINCT:
        out = select_frames(s, t, 100, policy=name)
        _check(out, 10_800, 100)


def test_nms_takes_the_middle_of_equally_scored_neighbours():
    """Frames that share their context tie; the earliest of them lies before the moment the context is about."""
    s = np.zeros(20)
    s[5:10] = 1.0
    assert nms(s, np.arange(20.0), 1).tolist() == [7]
    s[12] = 0.5  # a tie run of one frame is that frame
    assert nms(s, np.arange(20.0), 2, min_gap=3.0).tolist() == [7, 12]
