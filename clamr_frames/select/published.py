"""Exact reproductions of the published selectors: ``aks`` (AKS, CVPR 2025) and ``bolt`` (BOLT, CVPR 2025).

Written from the algorithms as AKS's ``frame_select.py`` (ncTimTang/AKS) and BOLT's ``select_frames.py``
(sming256/BOLT) describe them, so that a row of a results table can say "AKS" or "BOLT" and mean it. The
improved variants stay under their own names (:func:`~clamr_frames.select.policies.adaptive`,
:func:`~clamr_frames.select.policies.inverse_transform`). ``aks`` and ``adaptive`` share one judge-and-split
core (:func:`~clamr_frames.select.split.judge_and_split`) and differ only in the rules given to it.
"""

from __future__ import annotations

import numpy as np

from clamr_frames.select.checks import checked_policy, finite_knob, int_knob
from clamr_frames.select.profile import minmax, power_cdf
from clamr_frames.select.split import judge_and_split

__all__ = ["aks", "bolt"]


@checked_policy
def aks(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0, threshold: float = 0.8,
        depth: int = 5) -> np.ndarray:
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

    See :func:`~clamr_frames.select.policies.adaptive` for a variant that always returns ``k`` frames chosen by the scores.

    >>> s = np.zeros(16); s[[2, 3]] = 1.0
    >>> aks(s, None, 4, depth=2, threshold=0.7)  # every segment judged by its top 4: none peaked, 4 bins
    array([ 2,  4,  8, 12])
    >>> from clamr_frames.select.policies import adaptive
    >>> adaptive(s, None, 4, depth=2, threshold=0.7)  # judged by its own budget: the first half is peaked
    array([ 2,  3,  8, 12])
    >>> aks(s, None, 3, depth=2, threshold=0.7)  # int(3 / 2) + int(3 / 4) + ... < 3: uniform fallback
    array([ 0,  7, 15])
    """
    s, n = scores, scores.size
    t1 = finite_knob("threshold", threshold)
    max_depth = int_knob("depth", depth, low=0)
    # a leaf at depth d keeps int(k / 2**d) frames: each half gets b // 2 (floor of a floor is the floor of k / 2**d)
    out = judge_and_split(minmax(s), k, max_depth=max_depth, threshold=t1, judge_top=lambda b: k,
                          divide=lambda z, lo, mid, hi, b: (b // 2, b // 2))
    if out.size < k:
        return np.linspace(0, n - 1, k, dtype=int).astype(np.int64)
    return out


@checked_policy
def bolt(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0, alpha: float = 3.0) -> np.ndarray:
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

    See :func:`~clamr_frames.select.policies.inverse_transform` for a variant that returns ``k`` distinct frames.

    >>> s = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    >>> bolt(s, None, 3)  # all the mass on frame 2: every target lands there
    array([2, 2, 2])
    >>> bolt(np.ones(9), None, 3)  # flat: targets 1/3, 1/2, 2/3 of a uniform CDF
    array([2, 4, 5])
    """
    s, n = scores, scores.size
    cdf = power_cdf(s, alpha)
    targets = np.linspace(1.0 / k, 1.0 - 1.0 / k, k)
    return np.minimum(np.searchsorted(cdf, targets, side="left"), n - 1).astype(np.int64)


bolt.repeats = True  # type: ignore[attr-defined]  # select_frames: this policy may repeat an index
