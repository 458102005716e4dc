"""Frame-selection policies: per-candidate scores → ``k`` candidate indices in temporal order.

Every policy has the same calling convention::

    policy(scores: np.ndarray[n], timestamps: np.ndarray[n], k: int, *, seed: int = 0, **knobs) -> np.ndarray[int64]

and returns ``k`` indices into the candidates, sorted ascending, distinct except for ``bolt`` (which repeats a
frame as BOLT does; see :func:`bolt`). Candidates are given in time order (timestamps non-decreasing), so
index order is time order. ``k >= n`` returns every index. The policies are
deterministic; ``seed`` is accepted everywhere so that a stochastic policy can join the registry without
changing any caller, but none of the policies here draw random numbers (ties are broken by position:
the earlier frame wins).

What each policy is modelled on (exact algorithms, defaults and numbers in
``reference/frame_selection_notes.md``):

- ``topk`` — plain top-k by score.
- ``nms`` — top-k with temporal non-maximum suppression (no two picks closer than ``min_gap`` seconds).
- ``aks`` — AKS's adaptive keyframe sampling (CVPR 2025) exactly as its released code runs it: judge by
  the top-k of the global budget, split flat segments, uniform fallback when the leaves fall short of k.
- ``adaptive`` — a variant of AKS's judge-and-split that always returns k frames chosen by the scores
  (its own budget rule and, by default, its own judge statistic; see its docstring).
- ``bolt`` — BOLT's inverse transform sampling (CVPR 2025) exactly as its released code runs it, repeated
  frames kept.
- ``inverse-transform`` — a collision-free variant of BOLT's sampling (its own quantile targets; repeats
  moved to the nearest unused frame).
- ``hybrid`` — a share of the budget on uniform coverage, the rest on top-k.
- ``uniform`` — the baseline, lmms-eval's ``np.linspace(0, N - 1, k, dtype=int)`` over the candidates (the same
  frames as lmms-eval when the candidates are all native frames).
- ``gated`` — a peakiness gate: flat score profile → ``uniform``, peaked → ``nms``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from clamr_frames.errors import InputError

__all__ = [
    "adaptive",
    "aks",
    "bolt",
    "gated",
    "hybrid",
    "inverse_transform",
    "nms",
    "peakiness",
    "topk",
    "uniform",
]


#: ``gated`` with a visual prior: prominence below which a profile is flat (a question the scorer cannot see);
#: above Gaussian noise up to 3 h at 1 fps (at most 4.4) and every measured question about a shape (at most 4.5)
FLAT_Z = 5.0
#: ... and at or above which it is peaked (measured questions about a subtitle line: 9.6 and up)
PEAK_Z = 9.0
#: ... and the share of the frames picked by relevance between the two. FLAT_Z, PEAK_Z and this were the best
#: of a grid on questions whose only text matches are stray ones (benchmarks/RESULTS.md)
RELEVANCE_SHARE = 0.25


# -- helpers ---------------------------------------------------------------------------------------


def _as_inputs(scores: Any, timestamps: Any, k: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Coerce and check the three common arguments (shared by the policies and ``select_frames``)."""
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"scores must be a 1-D array of numbers: {e}") from None
    if s.ndim != 1:
        raise InputError(f"scores must be 1-D (one score per candidate frame), got shape {s.shape}")
    n = s.shape[0]
    if n == 0:
        raise InputError("scores is empty: there are no candidate frames to select from")
    if timestamps is None:
        t = np.arange(n, dtype=np.float64)
    else:
        try:
            t = np.asarray(timestamps, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InputError(f"timestamps must be a 1-D array of seconds: {e}") from None
        if t.ndim != 1 or t.shape[0] != n:
            raise InputError(
                f"scores and timestamps must be 1-D arrays of the same length, got shapes {s.shape} and {t.shape}"
            )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k must be a positive integer, got {k!r}")
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    bad = ~np.isfinite(s)
    if bad.any():
        raise InputError(f"scores contain {_describe_bad(s, bad)}; every candidate needs a finite score")
    bad_t = ~np.isfinite(t)
    if bad_t.any():
        raise InputError(f"timestamps contain {_describe_bad(t, bad_t)}")
    if n > 1 and np.any(np.diff(t) < 0):
        first = int(np.flatnonzero(np.diff(t) < 0)[0])
        raise InputError(
            "timestamps must be in time order (non-decreasing): "
            f"t[{first}]={t[first]:g} > t[{first + 1}]={t[first + 1]:g}"
        )
    return s, t, int(k)


def _describe_bad(x: np.ndarray, bad: np.ndarray, show: int = 8) -> str:
    where = np.flatnonzero(bad)
    n_nan = int(np.isnan(x).sum())
    n_inf = len(where) - n_nan
    kinds = ", ".join(p for p in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} infinite" if n_inf else "") if p)
    pos = ", ".join(str(int(i)) for i in where[:show]) + (", ..." if len(where) > show else "")
    return f"{len(where)} non-finite value(s) of {x.shape[0]} ({kinds}) at index {pos}"


def _rank(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score; equal scores keep time order (earlier frame first)."""
    return np.argsort(-scores, kind="stable")


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.sort(_rank(scores)[:k]).astype(np.int64)


def _all(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


def _minmax(scores: np.ndarray) -> np.ndarray:
    """Scores scaled to [0, 1]; a constant profile maps to all zeros (nothing stands out)."""
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo <= 0.0:
        return np.zeros_like(scores, dtype=np.float64)
    if not math.isfinite(hi - lo):  # a range beyond float64 (|scores| near 1e308): halve first, exactly
        return _minmax(scores / 2.0)
    return (scores - lo) / (hi - lo)


def _finite_knob(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {value!r}")
    if low is not None and (v < low or (low_open and v == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {v:g}")
    if high is not None and v > high:
        raise InputError(f"{name} must be <= {high:g}, got {v:g}")
    return v


def _int_knob(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def peakiness(scores: np.ndarray, k: int = 3) -> float:
    """How much the best frames stand out: mean of the top-``k`` min-max-normalised scores minus the mean of all.

    This is the form of AKS's judge statistic, but AKS takes ``k`` = its frame budget M (the top 32 or 64
    frames of a segment; see :func:`aks`), while the default here is the top 3, tuned to tell a needle a few
    frames wide from noise (the numbers below). The two are on different scales: a threshold tuned for one
    (AKS's ``t1``: 0.8 on Video-MME) does not carry over to the other; pass ``k=M`` for AKS's statistic of a
    whole profile. It is scale-free (scores are min-max normalised first), lies in [0, 1],
    is 0 for a constant profile and close to 1 for a few high frames over a flat floor. Symmetric noise
    scores about 0.5 whatever its scale; a right-skewed floor scores higher (there is no telling a heavy
    tail from sparse needles without a model of the floor).

    Measured with the default ``k=3`` (means of 20 draws): Gaussian noise 0.47–0.48 (max 0.54) at
    n = 600 and 3600; uniform noise 0.50; Gumbel noise 0.64–0.68; a 10-frame needle over Gaussian noise
    0.54–0.59 at 4 σ and 0.69–0.71 at 8 σ; a 3-frame needle at 8 σ 0.64–0.66.

    Args:
        scores: [n] per-candidate scores (finite).
        k: how many top scores to average (clipped to n). Small by default, so that a needle a few frames
            wide is not diluted by the floor; 3 rather than 1 so that one outlier frame weighs less. AKS
            uses its frame budget here.

    >>> peakiness(np.zeros(10))
    0.0
    >>> round(peakiness(np.array([0.0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), k=1), 2)
    0.9
    >>> peakiness(np.linspace(0, 1, 5), k=5)
    0.0
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise InputError(f"peakiness needs a non-empty 1-D score array, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise InputError(f"peakiness: scores contain {_describe_bad(s, ~np.isfinite(s))}")
    n = s.size
    kk = _int_knob("k", k, low=1)
    z = _minmax(s)
    top = np.partition(z, n - min(kk, n))[n - min(kk, n):]
    return float(max(0.0, top.mean() - z.mean()))


# -- policies --------------------------------------------------------------------------------------


def topk(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0) -> np.ndarray:
    """The ``k`` highest-scoring candidates, in time order; ties go to the earlier frame.

    Args:
        scores: [n] per-candidate scores. timestamps: [n] seconds (unused beyond validation).
        k: number of frames. seed: unused (deterministic).

    Returns:
        [min(k, n)] int64 indices, ascending.

    >>> topk(np.array([0.1, 0.9, 0.3, 0.9, 0.5]), None, 2)
    array([1, 3])
    >>> topk(np.array([1.0, 1.0, 1.0]), None, 2)  # ties: earlier frames win
    array([0, 1])
    """
    s, _, k = _as_inputs(scores, timestamps, k)
    if k >= s.size:
        return _all(s.size)
    return _top(s, k)


def uniform(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0) -> np.ndarray:
    """The baseline: ``np.linspace(0, n - 1, k, dtype=int)`` over the candidates, ignoring the scores.

    These are exactly the indices lmms-eval's uniform samplers take (``load_video_decord`` /
    LLaVA-OneVision's ``load_video``: ``np.linspace(0, total_frame_num - 1, max_frames_num, dtype=int)``), so
    when the candidates are all native frames of the video the picked frames equal lmms-eval's. On a 1-fps
    candidate grid they are the same positions in time up to the grid's rounding. Both ends are included.

    >>> uniform(np.zeros(10), None, 4)
    array([0, 3, 6, 9])
    >>> uniform(np.zeros(10), None, 1)
    array([0])
    """
    s, _, k = _as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        return _all(n)
    return np.linspace(0, n - 1, k, dtype=int).astype(np.int64)


def nms(
    scores: np.ndarray,
    timestamps: np.ndarray | None,
    k: int,
    *,
    seed: int = 0,
    min_gap: float | None = None,
) -> np.ndarray:
    """Top-k with temporal non-maximum suppression: no two picks closer than ``min_gap`` seconds, if possible.

    Greedy: take the best remaining candidate, suppress every candidate less than ``min_gap`` seconds away
    from it, repeat. If fewer than ``k`` survive, the gap is halved (the picks so far are kept and still
    suppress their neighbours at the new gap) until ``k`` are found; after 30 halvings the gap is 0, which
    fills the rest with the best unused candidates, so exactly ``min(k, n)`` indices come back.

    Args:
        scores, timestamps: [n] scores and seconds (time order).
        k: number of frames.
        min_gap: seconds; default ``duration / (4 k)`` with ``duration = t[-1] - t[0]`` — k picks at that
            spacing fill only a quarter of the video, so the gap rarely needs relaxing, yet one event
            cannot take the whole budget (for a 1-h video: 56 s at k = 16, 9 s at k = 100).

    >>> s = np.array([0.9, 1.0, 0.95, 0.1, 0.1, 0.1, 0.1, 0.1, 0.6, 0.1])
    >>> topk(s, np.arange(10.0), 2)
    array([1, 2])
    >>> nms(s, np.arange(10.0), 2, min_gap=3.0)
    array([1, 8])
    """
    s, t, k = _as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        return _all(n)
    duration = float(t[-1] - t[0])
    gap = duration / (4 * k) if min_gap is None else _finite_knob("min_gap", min_gap, low=0.0)
    order = _rank(s).tolist()
    picked: list[int] = []
    taken = np.zeros(n, dtype=bool)
    for attempt in range(32):
        if attempt == 31:
            gap = 0.0
        blocked = taken.copy()
        # Suppress around the picks kept from earlier (wider-gap) rounds at the current gap.
        for i in picked:
            _suppress(blocked, t, i, gap)
        for i in order:
            if blocked[i]:
                continue
            picked.append(i)
            taken[i] = True
            blocked[i] = True
            _suppress(blocked, t, i, gap)
            if len(picked) == k:
                return np.sort(np.asarray(picked, dtype=np.int64))
        gap /= 2.0
    raise AssertionError("unreachable: gap 0 always fills k < n")  # pragma: no cover


def _suppress(blocked: np.ndarray, t: np.ndarray, i: int, gap: float) -> None:
    """Block candidates strictly less than ``gap`` seconds from candidate ``i`` (t is sorted)."""
    if gap <= 0.0:
        return
    lo = int(np.searchsorted(t, t[i] - gap, side="right"))
    hi = int(np.searchsorted(t, t[i] + gap, side="left"))
    blocked[lo:hi] = True


def adaptive(
    scores: np.ndarray,
    timestamps: np.ndarray | None,
    k: int,
    *,
    seed: int = 0,
    depth: int = 5,
    threshold: float = 0.8,
    peak_k: int | None = None,
) -> np.ndarray:
    """A variant of AKS's judge-and-split that always returns ``k`` frames chosen by the scores.

    Scores are min-max normalised over the whole video. The root segment (all candidates, depth 0) gets
    budget ``k``. JUDGE a segment with budget ``b`` at depth ``d``: if ``mean(top-k' of its scores) − mean(its
    scores) > threshold`` (relevance dominates) it is a leaf and takes its top ``b`` frames; otherwise, if
    ``d < depth``, it is halved (by candidate count, which is by time on a uniform candidate grid) and each
    half gets half the budget (coverage); at ``d == depth`` it is a leaf. Leaves' picks are unioned.

    The exact AKS is :func:`aks` (policy ``aks``). This variant keeps AKS's defaults (t1 = 0.8,
    all_depth = 5) and differs on purpose in two ways:

    - **The judge statistic.** By default (``peak_k=None``) ``k'`` is the segment's *own* budget ``b``, so a
      segment is judged by the mean of its best ``b`` scores; AKS judges every segment, at every depth, by
      the mean of its top ``M`` scores with ``M`` the *global* budget. With the budget as ``k'``, a peak
      narrower than the budget keeps splitting until the budget matches it, instead of pulling in flat
      frames around it. ``peak_k=k`` gives AKS's statistic.
    - **The budget.** AKS gives a leaf at depth d ``int(k / 2**d)`` frames and, when the leaves add up to
      fewer than ``k`` (``k`` not a multiple of ``2**d`` for a leaf's depth, which always happens for a
      flat profile when ``k < 2**depth``, or a leaf shorter than its share), its evaluation code throws the
      selection away and samples ``k`` frames uniformly. Here nothing is thrown away: an odd budget's extra
      frame goes to the half with the higher peak score, a segment with budget 1 is not split further, and
      a half with fewer candidates than its share passes the surplus to its sibling, so exactly ``k``
      distinct frames come back for any ``k``, always chosen by the scores.

    So ``adaptive(..., peak_k=k)`` picks exactly what :func:`aks` picks when ``k`` is a power of two
    ``>= 2**depth`` and every leaf holds its share (``tests/test_select_reference.py`` checks this on random
    profiles); with the default ``peak_k`` the two agree on most profiles at such ``k`` and differ where a
    segment's best ``b`` frames stand out but its best ``k`` do not. At ``k = 100`` (the CLaMR table's budget)
    a flat-ish profile makes AKS uniform, while this variant still spreads a score-chosen top-3 or so
    over each of the 32 bins.

    Args:
        depth: maximum number of halvings (AKS ``all_depth``; ``2**depth`` finest bins).
        threshold: peakiness above which a segment is a leaf (AKS ``t1``); scores are in [0, 1] after
            normalisation, so ``threshold >= 1`` means "always split" (binned top-k, AKS's BIN mode) and
            ``threshold < 0`` means "never split" (plain top-k, AKS's TOP mode). AKS tuned 0.2–0.4 on
            LongVideoBench and 0.6–0.8 on Video-MME with BLIP scores.
        peak_k: ``k'`` in the judge statistic: None (default) for the segment's own budget, ``k`` for AKS's
            top-M of the global budget.

    >>> s = np.zeros(16); s[[2, 3]] = 1.0             # a two-frame needle in the first half
    >>> adaptive(s, None, 4, depth=2, threshold=0.7)  # root flat-ish (0.375), first half peaked (0.75)
    array([ 2,  3,  8, 12])
    >>> adaptive(s, None, 4, threshold=-1.0)  # never split: plain top-k
    array([0, 1, 2, 3])
    """
    s, _, k = _as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        return _all(n)
    max_depth = _int_knob("depth", depth, low=0)
    thr = _finite_knob("threshold", threshold)
    ref = None if peak_k is None else _int_knob("peak_k", peak_k, low=1)
    z = _minmax(s)
    picks: list[np.ndarray] = []
    # Work list of (start, stop, budget, depth); each segment has at least `budget` candidates.
    stack = [(0, n, k, 0)]
    while stack:
        lo, hi, b, d = stack.pop()
        seg = z[lo:hi]
        m = hi - lo
        if b == 0:
            continue
        if b >= m:
            picks.append(np.arange(lo, hi))
            continue
        kk = min(m, ref if ref is not None else b)
        top_mean = np.partition(seg, m - kk)[m - kk:].mean()
        peaked = top_mean - seg.mean() > thr
        if peaked or d >= max_depth or b == 1:
            picks.append(lo + _rank(seg)[:b])
            continue
        mid = lo + m // 2
        n1, n2 = mid - lo, hi - mid
        b1 = b // 2
        if b % 2 and z[lo:mid].max() >= z[mid:hi].max():
            b1 += 1  # the odd frame goes to the half with the higher peak (earlier half on a tie)
        b1 = min(b1, n1)
        b2 = b - b1
        if b2 > n2:
            b2, b1 = n2, b - n2
        stack.append((mid, hi, b2, d + 1))
        stack.append((lo, mid, b1, d + 1))
    out = np.sort(np.concatenate(picks)).astype(np.int64)
    return out


def _power_cdf(s: np.ndarray, alpha: Any) -> np.ndarray:
    """CDF of ``minmax(s) ** alpha`` as a distribution over the candidates (uniform for a constant profile)."""
    a = _finite_knob("alpha", alpha, low=0.0, low_open=True)
    w = _minmax(s) ** a
    total = w.sum()
    if not total > 0.0:  # constant profile (or every weight underflowed): uniform density
        w = np.ones(s.size)
        total = float(s.size)
    return np.cumsum(w / total)


def inverse_transform(
    scores: np.ndarray,
    timestamps: np.ndarray | None,
    k: int,
    *,
    seed: int = 0,
    alpha: float = 3.0,
) -> np.ndarray:
    """A collision-free variant of BOLT's inverse transform sampling: ``k`` distinct frames at quantiles of the CDF.

    ``w = minmax(scores) ** alpha`` is taken as a probability mass per candidate (candidates are evenly
    spaced in time, so this is a density over time); ``cdf = cumsum(w / sum(w))``; each target quantile
    maps to the first candidate whose CDF reaches it. High-score regions get dense picks, and every quantile
    gets a frame, which keeps some coverage of the rest.

    The exact BOLT is :func:`bolt` (policy ``bolt``). This variant differs on purpose in two ways, so it
    never picks quite what BOLT picks:

    - **Targets.** The bin midpoints ``(i + 0.5) / k``, where BOLT uses ``linspace(1/k, 1 - 1/k, k)`` (which
      squeezes the targets towards the middle and repeats 0.5 at ``k = 2``).
    - **Collisions.** A sharp peak sends several targets to the same candidate. BOLT keeps the repeats: it
      returns ``k`` frames, some identical. Here a target whose candidate is taken moves to the nearest
      unused candidate (in position; a tie between left and right goes to the higher score, then the earlier
      frame), so exactly ``k`` distinct frames come back and the extra frames pile up around the peak.

    As ``alpha`` grows, all the mass goes to the best frame, so BOLT repeats that one frame ``k`` times and
    this variant takes a contiguous block of ``k`` frames around it: neither approaches top-k (which takes
    the ``k`` best frames wherever they are). As ``alpha`` shrinks towards 0 every weight but the minimum's
    tends to 1, so both approach uniform sampling.

    Args:
        alpha: power (BOLT's ``power``: 3 for Video-MME/MLVU, 2.5 for LongVideoBench); > 0. A constant profile
            is sampled uniformly.

    >>> s = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    >>> inverse_transform(s, None, 3)  # every quantile lands on frame 2; collisions go to its neighbours
    array([1, 2, 3])
    >>> inverse_transform(np.ones(9), None, 3)  # flat: the bin midpoints
    array([1, 4, 7])
    """
    s, _, k = _as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        return _all(n)
    cdf = _power_cdf(s, alpha)
    targets = (np.arange(k) + 0.5) / k
    wanted = np.minimum(np.searchsorted(cdf, targets, side="left"), n - 1)
    return _place_distinct(wanted.tolist(), s)


def _place_distinct(wanted: list[int], s: np.ndarray) -> np.ndarray:
    """Give each wanted position its own candidate: the nearest unused one.

    Two union-find arrays with path compression find the nearest unused candidate to the right and to the
    left in near-constant time, so k = n/2 on thousands of candidates stays fast.
    """
    n = s.size
    right = list(range(n + 1))  # right[i]: next unused >= i; n = none
    left = list(range(n + 1))  # left[i + 1]: next unused <= i; slot 0 = none

    def find(parent: list[int], i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    out = []
    for p in wanted:
        r = find(right, p)
        l_ = find(left, p + 1) - 1
        if r == p:
            j = p
        elif r >= n:
            j = l_
        elif l_ < 0:
            j = r
        else:
            dr, dl = r - p, p - l_
            if dr != dl:
                j = r if dr < dl else l_
            else:
                j = r if s[r] > s[l_] else l_
        out.append(j)
        right[j] = j + 1
        left[j + 1] = j
    return np.sort(np.asarray(out, dtype=np.int64))


def hybrid(
    scores: np.ndarray,
    timestamps: np.ndarray | None,
    k: int,
    *,
    seed: int = 0,
    uniform_share: float = 0.5,
) -> np.ndarray:
    """``floor(k * uniform_share)`` frames on uniform coverage, the rest the top-scoring among the others.

    The uniform part is the :func:`uniform` baseline with the smaller count (so ``uniform_share=1`` is
    ``uniform`` and ``uniform_share=0`` is ``topk``); the top-k part never repeats a uniform frame.
    Rounding down keeps ``k = 1`` a pure top-1.

    >>> s = np.zeros(10); s[4] = 1.0
    >>> hybrid(s, None, 4)  # 2 uniform (0, 9) + 2 best others (4, then frame 1 wins the tie)
    array([0, 1, 4, 9])
    >>> hybrid(s, None, 1)
    array([4])
    """
    s, t, k = _as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        return _all(n)
    share = _finite_knob("uniform_share", uniform_share, low=0.0, high=1.0)
    n_uni = min(k, int(math.floor(k * share + 1e-9)))
    base = uniform(s, t, n_uni) if n_uni > 0 else np.empty(0, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    free[base] = False
    rest = [i for i in _rank(s).tolist() if free[i]][: k - n_uni]
    return np.sort(np.concatenate([base, np.asarray(rest, dtype=np.int64)])).astype(np.int64)


def gated(
    scores: np.ndarray,
    timestamps: np.ndarray | None,
    k: int,
    *,
    seed: int = 0,
    gate: float = 0.6,
    min_gap: float | None = None,
    prior: Any = None,
    flat_z: float = FLAT_Z,
    peak_z: float = PEAK_Z,
    relevance_share: float = RELEVANCE_SHARE,
) -> np.ndarray:
    """A gate on the score profile: peaked → :func:`nms`; flat → ``coverage`` (with a prior) or :func:`uniform`.

    The cheap proxy for the query-type gates of DIG / AdaQ / Q-Gate (uniform is best for global questions,
    concentration pays on localised ones).

    Without a prior: :func:`peakiness` (top-3 mean minus mean of the min-max normalised scores) ``>= gate``
    counts as peaked (→ ``nms``), anything else is sampled uniformly. The default 0.6 sits above Gaussian
    noise (at most 0.54 measured) and below a needle several frames wide at 8 σ (0.64–0.71); see
    :func:`peakiness`.

    With the video's visual prior (``prior``; ``FrameSelector`` passes the index's), the gate is the
    :func:`~clamr_frames.select.coverage.prominence` ``z`` of the best frames over the bulk, which separates
    the questions a scorer can and cannot see far better (measured with the default scorer on generated
    videos: peakiness 0.61–0.80 on questions about a coloured shape, which it cannot see — all "peaked" at the
    0.6 gate — and 0.81–0.93 on text questions; prominence 2.3–3.7 and 5.6–10.0):

    - ``z < flat_z``: the scorer cannot see what is asked → :func:`~clamr_frames.select.coverage.coverage`
      (shots and novelty instead of blind uniform sampling);
    - ``z >= peak_z``: → ``nms`` on the scores;
    - between: partly textual → ``relevance_share`` of the frames by ``nms``, the rest by coverage
      (:func:`~clamr_frames.select.coverage.relevance_and_coverage`).

    Args:
        gate: peakiness threshold in [0, 1] (without a prior).
        min_gap: passed to :func:`nms`.
        prior: a :class:`~clamr_frames.context.shots.VisualPrior` of these candidates, or None.
        flat_z, peak_z: prominence bands (with a prior); ``flat_z <= peak_z``.
        relevance_share: share of the frames picked by relevance between the bands.

    >>> flat = np.ones(20)
    >>> gated(flat, None, 4)
    array([ 0,  6, 12, 19])
    >>> peaked = np.zeros(20); peaked[[3, 4, 15]] = 1.0  # nms: 4 is suppressed by 3
    >>> gated(peaked, None, 2)
    array([ 3, 15])
    """
    s, t, k = _as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        return _all(n)
    g = _finite_knob("gate", gate, low=0.0, high=1.0)
    if prior is None:
        if peakiness(s) >= g:
            return nms(s, t, k, seed=seed, min_gap=min_gap)
        return uniform(s, t, k, seed=seed)
    from clamr_frames.select.coverage import coverage, prominence, relevance_and_coverage

    lo = _finite_knob("flat_z", flat_z, low=0.0)
    hi = _finite_knob("peak_z", peak_z, low=lo)
    z = prominence(s)
    if z >= hi:
        return nms(s, t, k, seed=seed, min_gap=min_gap)
    if z < lo:
        return coverage(s, t, k, prior=prior)
    return relevance_and_coverage(s, t, k, prior=prior, relevance_share=relevance_share, min_gap=min_gap)


# -- exact reproductions of the published selectors -------------------------------------------------
# Written from the algorithms as AKS's ``frame_select.py`` (ncTimTang/AKS) and BOLT's ``select_frames.py``
# (sming256/BOLT) describe them, so that a row of a results table can say "AKS" or "BOLT" and mean it. The
# improved variants stay under their own names (``adaptive``, ``inverse-transform``).


def aks(
    scores: np.ndarray,
    timestamps: np.ndarray | None,
    k: int,
    *,
    seed: int = 0,
    threshold: float = 0.8,
    depth: int = 5,
) -> np.ndarray:
    """AKS's adaptive keyframe sampling ("ADA", CVPR 2025) exactly as its released code runs it.

    1. Min-max normalise the scores over the whole video.
    2. JUDGE, starting from the whole video at depth 0: a segment whose mean of its top-``k`` scores minus
       its mean score exceeds ``threshold`` is a leaf ("TOP": relevance dominates). ``k`` is the *global*
       frame budget at every depth (AKS's ``n = max_num_frames``); a segment shorter than ``k`` averages all
       its scores, so its statistic is 0 and it is never a leaf by peakiness. Otherwise, below ``depth`` it
       is split into ``[: m // 2]`` and ``[m // 2 :]`` (BIN: coverage); at ``depth`` it is a leaf.
    3. A leaf at depth ``d`` takes its top ``int(k / 2**d)`` frames (all of them if it has fewer); ties go to
       the earlier frame, as ``heapq.nlargest`` orders them.
    4. The union is the answer when it has ``k`` frames. When the leaves add up to fewer (``k`` not a
       multiple of ``2**d`` for some leaf depth ``d``, or a leaf shorter than its share), AKS's evaluation
       loaders (``load_video_index`` in its ``llava_vid.py``, ``load_video_frame_idx`` in its
       ``llava_onevision.py``) drop the selection and sample ``np.linspace(0, N - 1, k, dtype=int)``
       uniformly instead; so does this function, with N the number of candidates.

    Deliberate differences, none of which changes a result the released code defines:

    - a constant score profile (AKS divides 0 by 0 and judges NaNs) is normalised to zeros here: never
      peaked, split to ``depth``, leaves take their earliest frames;
    - ``k >= n`` returns every candidate (AKS returns every candidate when there are fewer than ``k``);
    - AKS's second gate ``std > t2`` is left out: its default ``t2 = -100`` always passes.

    The fallback is over the candidate grid: with 1-fps candidates (AKS scores one frame per second, as
    its ``feature_extract.py`` does) the uniform frames are AKS's up to the grid's rounding.

    Args:
        threshold: AKS's ``t1`` (default 0.8, its Video-MME setting; its paper tuned 0.2–0.4 on LongVideoBench).
        depth: AKS's ``all_depth`` (default 5: at most 32 bins).

    See :func:`adaptive` for a variant that always returns ``k`` frames chosen by the scores.

    >>> s = np.zeros(16); s[[2, 3]] = 1.0
    >>> aks(s, None, 4, depth=2, threshold=0.7)  # every segment judged by its top 4: none peaked, 4 bins
    array([ 2,  4,  8, 12])
    >>> adaptive(s, None, 4, depth=2, threshold=0.7)  # judged by its own budget: the first half is peaked
    array([ 2,  3,  8, 12])
    >>> aks(s, None, 3, depth=2, threshold=0.7)  # int(3 / 2) + int(3 / 4) + ... < 3: uniform fallback
    array([ 0,  7, 15])
    """
    s, _, k = _as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        return _all(n)
    t1 = _finite_knob("threshold", threshold)
    max_depth = _int_knob("depth", depth, low=0)
    z = _minmax(s)
    picks: list[np.ndarray] = []
    level = [(0, n)]
    for d in range(max_depth + 1):
        below: list[tuple[int, int]] = []
        for lo, hi in level:
            seg = z[lo:hi]
            m = seg.size
            top = np.partition(seg, m - min(k, m))[m - min(k, m):] if m else seg
            peaked = m > 0 and float(top.mean() - seg.mean()) > t1
            if peaked or d == max_depth:
                share = int(k / 2**d)
                picks.append(lo + _rank(seg)[:share])
            else:
                mid = lo + m // 2
                below += [(lo, mid), (mid, hi)]
        level = below
    out = np.sort(np.concatenate(picks)).astype(np.int64) if picks else np.empty(0, dtype=np.int64)
    if out.size < k:
        return np.linspace(0, n - 1, k, dtype=int).astype(np.int64)
    return out


def bolt(
    scores: np.ndarray,
    timestamps: np.ndarray | None,
    k: int,
    *,
    seed: int = 0,
    alpha: float = 3.0,
) -> np.ndarray:
    """BOLT's inverse transform sampling (CVPR 2025) exactly as its released code runs it: ``k`` frames, repeats kept.

    ``w = minmax(scores) ** alpha``; ``cdf = cumsum(w / sum(w))``; the targets are
    ``np.linspace(1/k, 1 - 1/k, k)`` and each goes to ``np.searchsorted(cdf, target)`` (side ``left``: the
    first candidate whose CDF reaches it). Nothing is deduplicated: a sharp peak sends several targets to
    the same candidate, and BOLT's frame loader (its ``qwen_vl_utils`` ``sample_frames``) decodes that frame
    once per target, so the answering model sees ``k`` frames, some identical.

    **Repeats.** The result holds ``k`` indices, sorted, with repeated indices where BOLT repeats a frame; this
    is the one built-in policy whose indices are not distinct (``bolt.repeats`` is True, and
    :func:`~clamr_frames.select.select_frames` accepts repeats only from such policies). A
    :class:`~clamr_frames.selector.Selection` carries them through: ``indices``, ``timestamps``, ``scores``
    and ``frames`` have ``k`` entries, a repeated frame appearing as often as BOLT shows it.

    Deliberate differences, none of which changes a result the released code defines:

    - a constant score profile (BOLT divides 0 by 0 and searches a NaN CDF) is sampled as a uniform density;
    - a target past the end of the CDF (``k = 1``, whose single target is 1.0, when float rounding leaves
      ``cdf[-1]`` below 1) maps to the last candidate, as BOLT's loader clips frame indices to the video;
    - ``k >= n`` returns every candidate once.

    Args:
        alpha: BOLT's ``power``: 3 in its Video-MME and MLVU runs, 2.5 in its LongVideoBench runs
            (``scripts/frame_selection.sh``); 1 means no power transform (BOLT's ``power=-1``).

    See :func:`inverse_transform` for a variant that returns ``k`` distinct frames.

    >>> s = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    >>> bolt(s, None, 3)  # all the mass on frame 2: every target lands there
    array([2, 2, 2])
    >>> bolt(np.ones(9), None, 3)  # flat: targets 1/3, 1/2, 2/3 of a uniform CDF
    array([2, 4, 5])
    """
    s, _, k = _as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        return _all(n)
    cdf = _power_cdf(s, alpha)
    targets = np.linspace(1.0 / k, 1.0 - 1.0 / k, k)
    return np.minimum(np.searchsorted(cdf, targets, side="left"), n - 1).astype(np.int64)


bolt.repeats = True  # type: ignore[attr-defined]  # select_frames: this policy may repeat an index
