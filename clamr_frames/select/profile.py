"""Score-profile helpers and statistics: ranking, normalisation, and how peaked a profile is.

The pieces the policies share (:mod:`~clamr_frames.select.policies`, :mod:`~clamr_frames.select.published`,
:mod:`~clamr_frames.select.gated`, :mod:`~clamr_frames.select.coverage`), so that none of them imports another
for a helper: :func:`rank_by_score` (ties go to the earlier frame), :func:`minmax`, :func:`power_cdf` (the
inverse-transform samplers' CDF), and the two gate statistics :func:`peakiness` and :func:`prominence`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from clamr_frames.errors import InputError
from clamr_frames.select.checks import describe_bad, finite_knob, int_knob

__all__ = ["all_indices", "minmax", "peakiness", "power_cdf", "prominence", "rank_by_score", "top_by_score"]


def rank_by_score(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score; equal scores keep time order (earlier frame first)."""
    return np.argsort(-scores, kind="stable")


def top_by_score(scores: np.ndarray, k: int) -> np.ndarray:
    return np.sort(rank_by_score(scores)[:k]).astype(np.int64)


def all_indices(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scores scaled to [0, 1]; a constant profile maps to all zeros (nothing stands out)."""
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo <= 0.0:
        return np.zeros_like(scores, dtype=np.float64)
    if not math.isfinite(hi - lo):  # a range beyond float64 (|scores| near 1e308): halve first, exactly
        return minmax(scores / 2.0)
    return (scores - lo) / (hi - lo)


def power_cdf(s: np.ndarray, alpha: Any) -> np.ndarray:
    """CDF of ``minmax(s) ** alpha`` as a distribution over the candidates (uniform for a constant profile)."""
    a = finite_knob("alpha", alpha, low=0.0, low_open=True)
    w = minmax(s) ** a
    total = w.sum()
    if not total > 0.0:  # constant profile (or every weight underflowed): uniform density
        w = np.ones(s.size)
        total = float(s.size)
    return np.cumsum(w / total)


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
        raise InputError(f"peakiness: scores contain {describe_bad(s, ~np.isfinite(s))}")
    n = s.size
    kk = int_knob("k", k, low=1)
    z = minmax(s)
    top = np.partition(z, n - min(kk, n))[n - min(kk, n):]
    return float(max(0.0, top.mean() - z.mean()))


#: :func:`prominence` leaves at least this many best frames out of the bulk: a spoken answer and the context
#: window around it span about ten 1-fps candidates, which on a video under about 3 minutes is more than its top
#: 5 % (a 40 s video with a 7 s spoken answer read as flat, 3.95, with only the top 3 left out).
MIN_TOP = 10


def prominence(scores: np.ndarray, k: int = 3, trim: float = 0.05, min_top: int = MIN_TOP) -> float:
    """How far the ``k``-th best score stands above the bulk of the frames, in the bulk's standard deviations.

    The bulk is every frame but the best ``max(k, ceil(trim * n), min(min_top, n // 4))``: its mean and
    standard deviation are not raised by the frames a question is about (a needle of a few seconds is most of a
    2-minute video's top 5 %, hence ``min_top``), so the statistic does not shrink on short videos. The ``k``-th
    best rather than the best, so that one stray frame does not make a profile peaked (a needle spans several
    candidates). Unlike
    :func:`peakiness`, which min-max normalises and so reads a long lower tail
    (frames with no context at all) as a peak, it measures the top against the bulk; unlike a median/MAD z-score
    it is not thrown by ties (a third of the frames of a subtitled video have no line and score the same). A
    bulk without spread falls back to the spread of all the scores; a constant profile gives 0.

    Measured with the default scorer on generated videos of 2, 5 and 10 minutes (``benchmarks/RESULTS.md``):
    questions about a subtitle line 9.6–22.5; about an on-screen sign 7.9–13.5 with OCR in the index (2.2–11.8
    without: stray word matches only); about a coloured shape, which a text scorer cannot see, 2.0–4.5.
    Gaussian noise: about 3.1 for n = 600, 3.7 for 3600, 4.0 (at most 4.4) for 10800 (3 h at 1 fps), and below
    ``FLAT_Z`` on short profiles too (tests/select/test_coverage.py).

    >>> prominence(np.zeros(50))
    0.0
    >>> s = np.random.default_rng(0).normal(size=600); s[[100, 101, 102]] += 12.0
    >>> prominence(s) > 10
    True
    """
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise InputError(f"prominence needs a non-empty 1-D array of finite scores, got shape {x.shape}")
    n = x.size
    kk = min(max(1, int(k)), n)
    desc = np.sort(x)[::-1]
    # min_top at most a quarter of the frames: the bulk of a very short profile must keep its spread
    trimmed = math.ceil(finite_knob("trim", trim, low=0.0, high=0.5) * n)
    top = max(kk, trimmed, min(int_knob("min_top", min_top, low=0), n // 4))
    bulk = desc[min(n - 1, top) :]
    sd = float(bulk.std()) if bulk.size > 1 else 0.0
    if not sd > 0.0:
        sd = float(x.std())
    return 0.0 if not sd > 0.0 else max(0.0, (float(desc[kk - 1]) - float(bulk.mean())) / sd)
