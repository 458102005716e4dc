"""Score-driven frame-selection policies: per-candidate scores → ``k`` candidate indices in temporal order.

Every policy has the same calling convention::

    policy(scores: np.ndarray[n], timestamps: np.ndarray[n], k: int, *, seed: int = 0, **knobs) -> np.ndarray[int64]

and returns ``k`` indices into the candidates, sorted ascending, distinct except for ``bolt`` (which repeats a
frame as BOLT does; see :func:`~clamr_frames.select.published.bolt`). Candidates are given in time order
(timestamps non-decreasing), so index order is time order. ``k >= n`` returns every index. The policies are
deterministic; ``seed`` is accepted everywhere so that a stochastic policy can join the registry without
changing any caller, but none of the policies here draw random numbers (ties are broken by position:
the earlier frame wins).

This module holds the policies built here:

- ``topk`` — plain top-k by score.
- ``nms`` — top-k with temporal non-maximum suppression (no two picks closer than ``min_gap`` seconds).
- ``adaptive`` — a variant of AKS's judge-and-split that always returns k frames chosen by the scores
  (its own budget rule and, by default, its own judge statistic; see its docstring).
- ``inverse-transform`` — a collision-free variant of BOLT's sampling (its own quantile targets; repeats
  moved to the nearest unused frame).
- ``hybrid`` — a share of the budget on uniform coverage, the rest on top-k.
- ``uniform`` — the baseline, lmms-eval's ``np.linspace(0, N - 1, k, dtype=int)`` over the candidates (the same
  frames as lmms-eval when the candidates are all native frames).

Elsewhere in :mod:`clamr_frames.select`: the exact published selectors ``aks`` and ``bolt``
(:mod:`~clamr_frames.select.published`), the peakiness gate ``gated`` (:mod:`~clamr_frames.select.gated`) and
the visual-prior policy ``coverage`` (:mod:`~clamr_frames.select.coverage`).
"""

from __future__ import annotations

import math

import numpy as np

from clamr_frames.select.checks import checked_policy, finite_knob, int_knob
from clamr_frames.select.profile import minmax, power_cdf, rank_by_score, top_by_score
from clamr_frames.select.split import judge_and_split

__all__ = ["adaptive", "hybrid", "inverse_transform", "nms", "topk", "uniform"]


# -- policies --------------------------------------------------------------------------------------


@checked_policy
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
    return top_by_score(scores, k)


@checked_policy
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
    n = scores.size
    return np.linspace(0, n - 1, k, dtype=int).astype(np.int64)


@checked_policy
def nms(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0,
        min_gap: float | None = None) -> np.ndarray:
    """Top-k with temporal non-maximum suppression: no two picks closer than ``min_gap`` seconds, if possible.

    Greedy: take the best remaining candidate (the middle one where neighbouring candidates tie with it: frames
    that share their context score the same), suppress every candidate less than ``min_gap`` seconds away
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
    s, t, n = scores, timestamps, scores.size
    duration = float(t[-1] - t[0])
    gap = duration / (4 * k) if min_gap is None else finite_knob("min_gap", min_gap, low=0.0)
    order = rank_by_score(s).tolist()
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
            i = _plateau_centre(s, blocked, i)
            picked.append(i)
            taken[i] = True
            blocked[i] = True
            _suppress(blocked, t, i, gap)
            if len(picked) == k:
                return np.sort(np.asarray(picked, dtype=np.int64))
        gap /= 2.0
    raise AssertionError("unreachable: gap 0 always fills k < n")  # pragma: no cover


def _plateau_centre(s: np.ndarray, blocked: np.ndarray, i: int) -> int:
    """The middle of the run of free neighbours of ``i`` that score exactly as ``i`` does.

    Frames that share their context (the same subtitle line or speech in their window) score the same, and the
    window reaches past the moment on both sides: the earliest of the run, which the ranking lists first, is
    the frame most likely to lie before the moment itself.
    """
    lo = hi = i
    while lo > 0 and not blocked[lo - 1] and s[lo - 1] == s[i]:
        lo -= 1
    while hi < s.size - 1 and not blocked[hi + 1] and s[hi + 1] == s[i]:
        hi += 1
    return (lo + hi) // 2


def _suppress(blocked: np.ndarray, t: np.ndarray, i: int, gap: float) -> None:
    """Block candidates strictly less than ``gap`` seconds from candidate ``i`` (t is sorted)."""
    if gap <= 0.0:
        return
    lo = int(np.searchsorted(t, t[i] - gap, side="right"))
    hi = int(np.searchsorted(t, t[i] + gap, side="left"))
    blocked[lo:hi] = True


@checked_policy
def adaptive(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0, depth: int = 5,
             threshold: float = 0.8, peak_k: int | None = None) -> np.ndarray:
    """A variant of AKS's judge-and-split that always returns ``k`` frames chosen by the scores.

    Scores are min-max normalised over the whole video. The root segment (all candidates, depth 0) gets
    budget ``k``. JUDGE a segment with budget ``b`` at depth ``d``: if ``mean(top-k' of its scores) − mean(its
    scores) > threshold`` (relevance dominates) it is a leaf and takes its top ``b`` frames; otherwise, if
    ``d < depth``, it is halved (by candidate count, which is by time on a uniform candidate grid) and each
    half gets half the budget (coverage); at ``d == depth`` it is a leaf. Leaves' picks are unioned.

    The exact AKS is :func:`~clamr_frames.select.published.aks` (policy ``aks``). This variant keeps AKS's defaults (t1 = 0.8,
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

    So ``adaptive(..., peak_k=k)`` picks exactly what :func:`~clamr_frames.select.published.aks` picks when ``k`` is a power of two
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
    s = scores
    max_depth = int_knob("depth", depth, low=0)
    thr = finite_knob("threshold", threshold)
    ref = None if peak_k is None else int_knob("peak_k", peak_k, low=1)
    return judge_and_split(
        minmax(s), k, max_depth=max_depth, threshold=thr,
        judge_top=(lambda b: b) if ref is None else (lambda b: ref),
        divide=_share_by_peak,
        early_leaf=lambda m, b: b >= m or b == 1,  # a budget of 1, or one that takes the whole segment
    )


def _share_by_peak(z: np.ndarray, lo: int, mid: int, hi: int, b: int) -> tuple[int, int]:
    """``adaptive``'s budget rule: halve ``b``, the odd frame to the half with the higher peak (the earlier half on
    a tie), and a half too short for its share passes the surplus to its sibling (so exactly ``b`` come back)."""
    n1, n2 = mid - lo, hi - mid
    b1 = b // 2
    if b % 2 and z[lo:mid].max() >= z[mid:hi].max():
        b1 += 1
    b1 = min(b1, n1)
    b2 = b - b1
    if b2 > n2:
        b2, b1 = n2, b - n2
    return b1, b2


@checked_policy
def inverse_transform(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0,
                      alpha: float = 3.0) -> np.ndarray:
    """A collision-free variant of BOLT's inverse transform sampling: ``k`` distinct frames at quantiles of the CDF.

    ``w = minmax(scores) ** alpha`` is taken as a probability mass per candidate (candidates are evenly
    spaced in time, so this is a density over time); ``cdf = cumsum(w / sum(w))``; each target quantile
    maps to the first candidate whose CDF reaches it. High-score regions get dense picks, and every quantile
    gets a frame, which keeps some coverage of the rest.

    The exact BOLT is :func:`~clamr_frames.select.published.bolt` (policy ``bolt``). This variant differs on purpose in two ways, so it
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
    s, n = scores, scores.size
    cdf = power_cdf(s, alpha)
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


@checked_policy
def hybrid(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0,
           uniform_share: float = 0.5) -> np.ndarray:
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
    s, t, n = scores, timestamps, scores.size
    share = finite_knob("uniform_share", uniform_share, low=0.0, high=1.0)
    n_uni = min(k, int(math.floor(k * share + 1e-9)))
    base = uniform(s, t, n_uni) if n_uni > 0 else np.empty(0, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    free[base] = False
    rest = [i for i in rank_by_score(s).tolist() if free[i]][: k - n_uni]
    return np.sort(np.concatenate([base, np.asarray(rest, dtype=np.int64)])).astype(np.int64)
