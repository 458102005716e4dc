"""The judge-and-split core of AKS-style adaptive selection, shared by ``adaptive`` and ``aks``.

A segment of the (min-max normalised) score profile is *judged*: if the mean of its best few scores stands
more than ``threshold`` above its mean score, relevance dominates and the segment is a leaf that takes its
best frames; otherwise it is halved (coverage) until ``max_depth``, where it is a leaf too. The two policies
differ only in the rules they hand to :func:`judge_and_split`:

============  ======================================  ==============================================
rule          ``aks`` (AKS's released code)           ``adaptive`` (always ``k`` frames by score)
============  ======================================  ==============================================
judge top     the global budget ``k`` at every depth  the segment's own budget (or ``peak_k``)
halves' share ``b // 2`` each (``int(k / 2**d)``)     ``b`` split, odd frame to the higher peak,
                                                      surplus of a short half to its sibling
early leaf    none                                    budget 1, or a budget covering the segment
============  ======================================  ==============================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from clamr_frames.select.profile import rank_by_score

__all__ = ["Divide", "judge_and_split"]

Divide = Callable[[np.ndarray, int, int, int, int], "tuple[int, int]"]
"""``divide(z, lo, mid, hi, budget) -> (left budget, right budget)`` when a segment ``[lo, hi)`` is halved at ``mid``."""


def judge_and_split(
    z: np.ndarray,
    budget: int,
    *,
    max_depth: int,
    threshold: float,
    judge_top: Callable[[int], int],
    divide: Divide,
    early_leaf: Callable[[int, int], bool] | None = None,
) -> np.ndarray:
    """Judge and recursively halve ``[0, n)``; return the union of the leaves' best frames, ascending.

    Each segment ``[lo, hi)`` (``m`` candidates) carries a budget ``b`` and a depth ``d`` (the root: all
    candidates, ``budget``, 0). A segment with ``b == 0`` contributes nothing. A segment is a leaf when
    ``early_leaf(m, b)`` holds, or when it is peaked (``mean(top-j of z[lo:hi]) - mean(z[lo:hi]) > threshold``
    with ``j = min(m, judge_top(b))``; an empty segment is never peaked), or at ``d == max_depth``; a leaf takes
    its best ``b`` frames (all ``m`` when ``b >= m``; ties to the earlier frame). Any other segment is halved at
    ``lo + m // 2`` and ``divide`` shares its budget between the halves.

    Args:
        z: ``[n]`` scores, min-max normalised to [0, 1] by the caller.
        budget: the root's budget.
        max_depth: the deepest a segment is halved to (``2**max_depth`` finest bins).
        threshold: the judge's threshold (AKS's ``t1``).
        judge_top: how many top scores the judge averages, given the segment's budget.
        divide: the halves' budgets (see :data:`Divide`).
        early_leaf: ``(m, b) -> bool``: a leaf without judging (default: never).

    Returns:
        int64 indices, ascending, distinct (the leaves are disjoint).

    >>> z = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    >>> halve = lambda z, lo, mid, hi, b: (b // 2, b // 2)
    >>> judge_and_split(z, 4, max_depth=1, threshold=0.7, judge_top=lambda b: 2, divide=halve)  # root peaked
    array([0, 1, 2, 3])
    >>> judge_and_split(z, 4, max_depth=1, threshold=0.8, judge_top=lambda b: 2, divide=halve)  # halved once
    array([2, 3, 4, 5])
    """
    picks: list[np.ndarray] = []
    stack = [(0, int(z.size), int(budget), 0)]  # (start, stop, budget, depth); left halves are visited first
    while stack:
        lo, hi, b, d = stack.pop()
        if b == 0:
            continue
        seg = z[lo:hi]
        m = hi - lo
        leaf = early_leaf is not None and early_leaf(m, b)
        if not leaf and m > 0:
            j = min(m, judge_top(b))
            top = np.partition(seg, m - j)[m - j :]
            leaf = float(top.mean() - seg.mean()) > threshold
        if leaf or d >= max_depth:
            picks.append(lo + rank_by_score(seg)[:b])
            continue
        mid = lo + m // 2
        b1, b2 = divide(z, lo, mid, hi, b)
        stack.append((mid, hi, b2, d + 1))
        stack.append((lo, mid, b1, d + 1))
    return np.sort(np.concatenate(picks)).astype(np.int64) if picks else np.empty(0, dtype=np.int64)
