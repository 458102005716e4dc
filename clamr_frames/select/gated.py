"""``gated``: a gate on the score profile that picks how to spend the frames.

Peaked profile → relevance (:func:`~clamr_frames.select.policies.nms`); flat → coverage (the visual prior's
:func:`~clamr_frames.select.coverage.coverage`, or :func:`~clamr_frames.select.policies.uniform` without a
prior); in between (with a prior) → a mix (:func:`~clamr_frames.select.coverage.relevance_and_coverage`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from clamr_frames.select.checks import checked_policy, finite_knob
from clamr_frames.select.coverage import RELEVANCE_SHARE, coverage, relevance_and_coverage
from clamr_frames.select.policies import nms, uniform
from clamr_frames.select.profile import peakiness, prominence

__all__ = ["FLAT_SHARE", "FLAT_Z", "PEAK_Z", "gated"]

#: ``gated`` with a visual prior: prominence below which a profile is flat (a question the scorer cannot see);
#: above Gaussian noise up to 3 h at 1 fps (at most 4.4) and every measured question about a shape (at most 4.5)
FLAT_Z = 5.0
#: ... and at or above which it is peaked (measured questions about a subtitle line: 9.6 and up). FLAT_Z, PEAK_Z and
#: :data:`~clamr_frames.select.coverage.RELEVANCE_SHARE` were the best of a grid (benchmarks/RESULTS.md)
PEAK_Z = 9.0
#: ... and below FLAT_Z, the share of the frames still picked by relevance (rounded down): a paraphrased
#: spoken question can score as flat as a picture question (the spoken set's gate column in the policy table), and
#: its best-scored frame is often right, so one frame on the best score costs coverage one frame of k and saves
#: those questions (``benchmarks/policy_table.py``, the columns ``gated`` and ``gated, flat: coverage only``)
FLAT_SHARE = 0.125


@checked_policy
def gated(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0, gate: float = 0.6,
          min_gap: float | None = None, prior: Any = None, flat_z: float = FLAT_Z, peak_z: float = PEAK_Z,
          relevance_share: float = RELEVANCE_SHARE, flat_share: float = FLAT_SHARE) -> np.ndarray:
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
      (shots, their rarity and novelty instead of blind uniform sampling: a shot the video keeps returning to
      gets the frames of one showing, a clip shown once its own);
    - ``z >= peak_z``: → ``nms`` on the scores;
    - between: partly textual → ``relevance_share`` of the frames by ``nms``, the rest by coverage
      (:func:`~clamr_frames.select.coverage.relevance_and_coverage`).

    Args:
        gate: peakiness threshold in [0, 1] (without a prior).
        min_gap: passed to :func:`nms`.
        prior: a :class:`~clamr_frames.context.shots.VisualPrior` of these candidates, or None.
        flat_z, peak_z: prominence bands (with a prior); ``flat_z <= peak_z``.
        relevance_share: share of the frames picked by relevance between the bands.
        flat_share: share of the frames picked by relevance below ``flat_z`` (0: coverage only).

    >>> flat = np.ones(20)
    >>> gated(flat, None, 4)
    array([ 0,  6, 12, 19])
    >>> peaked = np.zeros(20); peaked[[3, 4, 15]] = 1.0  # nms: 4 is suppressed by 3
    >>> gated(peaked, None, 2)
    array([ 3, 15])
    """
    s, t = scores, timestamps
    g = finite_knob("gate", gate, low=0.0, high=1.0)
    if prior is None:
        if peakiness(s) >= g:
            return nms(s, t, k, seed=seed, min_gap=min_gap)
        return uniform(s, t, k, seed=seed)

    lo = finite_knob("flat_z", flat_z, low=0.0)
    hi = finite_knob("peak_z", peak_z, low=lo)
    z = prominence(s)
    if z >= hi:
        return nms(s, t, k, seed=seed, min_gap=min_gap)
    if z < lo:
        # rounded down: at small k every frame is worth more to coverage than to a faint score
        n_rel = math.floor(k * finite_knob("flat_share", flat_share, low=0.0, high=1.0) + 1e-9)
        if n_rel == 0:
            return coverage(s, t, k, prior=prior)
        return relevance_and_coverage(s, t, k, prior=prior, relevance_share=n_rel / k, min_gap=min_gap)
    return relevance_and_coverage(s, t, k, prior=prior, relevance_share=relevance_share, min_gap=min_gap)
