"""Visual coverage without a visual model: pick frames by the video's shots and novelty, not by the question.

The ``coverage`` policy reads the index's :class:`~clamr_frames.context.shots.VisualPrior` (shot of each
candidate, its novelty within the shot, and a 16x9 thumbnail for near-duplicate checks) and ignores the
scores. It is what ``gated`` uses instead of uniform sampling when a question's score profile is flat — a
question the scorer cannot see, such as one about colours and shapes under the text-only default scorer —
and :func:`relevance_and_coverage` is the mix it uses when a profile is only partly peaked.

How the ``k`` frames are spread:

- ``k >= number of shots``: every shot gets one frame (coverage first: a short shot counts as much as a long
  one for having been seen at all), and the remaining ``k - shots`` frames go to shots in proportion to their
  length (:func:`shot_budgets`).
- ``k < number of shots``: the timeline is cut into ``k`` strata of equal duration (so shots are covered in
  proportion to their length, as uniform sampling covers them) and each stratum gives one frame.
- Inside a shot or a stratum the frames are its most novel moments (a brief event stands out of the shot's
  local background), at least ``length / (2 * budget)`` seconds apart inside a shot when the budget allows.
- Rarity (the prior's shot rarity: 1 / (1 + how many other shots look alike)): where shots recur, time is
  counted at its rarity, so a set shown eleven times weighs, all showings together, as much
  as one showing, and a clip shown once keeps its full length. The ``k < shots`` strata are cut on that
  counted time, budgets beyond one per shot follow counted length, and inside a stratum frames are ranked by
  rarity x (novelty + the video's median novelty) instead of novelty alone. Footage where nothing recurs has
  rarity 1 everywhere: exactly the rules above.
- Never two near-duplicates: a frame that looks like an already picked one (fewer than 5 % of its thumbnail
  cells differ by ``near_duplicate`` or more) is skipped; its budget goes to the most novel remaining frames
  that are not duplicates. Only when every candidate left is a duplicate (a still video) does the rest go to
  the frames farthest in time from the picks.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from clamr_frames.errors import InputError
from clamr_frames.select.checks import checked_policy, finite_knob
from clamr_frames.select.policies import nms

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.context.shots import VisualPrior

__all__ = ["RELEVANCE_SHARE", "coverage", "relevance_and_coverage", "shot_budgets"]

#: ``gated`` with a prior, between its two prominence bands: the share of the frames picked by relevance (the
#: best of a grid with FLAT_Z and PEAK_Z on questions whose only text matches are stray ones; benchmarks/RESULTS.md)
RELEVANCE_SHARE = 0.25


def _check_prior(prior: Any, n: int, policy: str) -> "VisualPrior":
    if prior is None:
        raise InputError(
            f"the {policy!r} policy needs the video's visual prior (prior=...): FrameSelector passes the index's; "
            "with select_frames, pass index.prior"
        )
    for name in ("shot_ids", "novelty", "thumbs", "shot_bounds"):
        if not hasattr(prior, name):
            raise InputError(f"prior must be a clamr_frames.context.shots.VisualPrior, got {type(prior).__name__}")
    if len(prior) != n:
        raise InputError(
            f"the visual prior covers {len(prior)} candidates, the scores {n}: they are of different indexes"
        )
    return prior


def _shot_lengths(t: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Seconds each shot lasts: from its first candidate to the next shot's first (the last: one step past its end)."""
    step = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    starts = t[bounds[:-1]]
    ends = np.append(t[bounds[1:-1]], t[-1] + step)
    return np.maximum(ends - starts, 1e-9)


def shot_budgets(lengths: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    """Frames per shot for ``k >= len(lengths)``: one each, then in proportion to ``lengths``, within ``sizes``.

    The extra frames are handed out by the highest-averages rule of Sainte-Laguë (next frame to the shot
    with the most seconds per frame, ``length / (frames + 0.5)``), which is proportional without favouring
    long or short shots; a shot never gets more frames than it has candidates.

    >>> shot_budgets(np.array([10.0, 80.0, 10.0]), np.array([10, 80, 10]), 7)
    array([1, 5, 1])
    >>> shot_budgets(np.array([10.0, 80.0]), np.array([10, 2]), 6)  # the long shot has only 2 candidates
    array([4, 2])
    """
    b = np.minimum(np.ones(len(lengths), dtype=np.int64), sizes)
    target = min(int(k), int(sizes.sum()))
    while int(b.sum()) < target:
        room = np.flatnonzero(b < sizes)
        b[room[int(np.argmax(lengths[room] / (b[room] + 0.5)))]] += 1
    return b


class _Picker:
    """The growing selection, and which candidates look like something already picked.

    A candidate is compared with each pick at most once, and only when it is considered: one that duplicates a
    pick stays one (``dup``), and ``seen[i]`` counts the picks it was compared with.
    """

    def __init__(self, prior: "VisualPrior", t: np.ndarray, threshold: float, taken: np.ndarray | None = None,
                 rarity: np.ndarray | None = None):
        from clamr_frames.context.shots import looks_alike

        self._alike = looks_alike
        self.prior, self.t, self.threshold = prior, t, threshold
        # with rarity, a frame's worth is its shot's rarity times (its novelty + the video's median novelty): rarity
        # scales it, novelty orders frames of shots about as rare, and the floor keeps a still shot shown once
        # (novelty 0) from ranking below every moving frame of a set shown again and again. Rarity first and
        # novelty only to break ties found the once-only inserts as well but lost needles of generated videos
        # (whose different scenes partly look alike at alike = 0.03). None: novelty only.
        nov = prior.novelty
        self.worth = nov if rarity is None else rarity * (nov + float(np.median(nov)))
        self.picked: list[int] = [] if taken is None else [int(i) for i in taken]
        self.used = np.zeros(len(t), dtype=bool)
        self.used[self.picked] = True
        self.dup = np.zeros(len(t), dtype=bool)
        self.seen = np.zeros(len(t), dtype=np.int64)

    def duplicate(self, i: int) -> bool:
        if self.dup[i] or self.threshold <= 0 or self.seen[i] == len(self.picked):
            return bool(self.dup[i])
        new = self.picked[self.seen[i] :]
        self.seen[i] = len(self.picked)
        self.dup[i] = bool(np.any(self._alike(self.prior.thumbs[i], self.prior.thumbs[new], self.threshold)))
        return bool(self.dup[i])

    def refresh(self, idx: np.ndarray) -> None:
        """Bring the duplicate flags of candidates ``idx`` up to date at once (a still video: most are duplicates)."""
        stale = idx[~self.dup[idx] & (self.seen[idx] < len(self.picked))]
        if stale.size == 0 or self.threshold <= 0:
            return
        thumbs = self.prior.thumbs
        for since in np.unique(self.seen[stale]).tolist():  # each group against the picks it has not seen
            group = stale[self.seen[stale] == since]
            new = np.asarray(self.picked[since:])
            step = max(1, 4096 // len(new))  # bounded memory: step x len(new) thumbnail pairs at a time
            for a in range(0, group.size, step):
                block = group[a : a + step]
                alike = self._alike(thumbs[block][:, None], thumbs[new][None], self.threshold)
                self.dup[block] = np.any(alike, axis=1)
        self.seen[stale] = len(self.picked)

    def mark_alike(self, idx: np.ndarray, since: int) -> None:
        """Flag the candidates ``idx`` that duplicate the picks made since pick number ``since`` (cheap when few)."""
        new = np.asarray(self.picked[since:])
        rest = idx[~self.used[idx] & ~self.dup[idx]]
        if new.size and rest.size and self.threshold > 0:
            alike = self._alike(self.prior.thumbs[rest][:, None], self.prior.thumbs[new][None], self.threshold)
            self.dup[rest] = np.any(alike, axis=1)

    def take(self, i: int) -> None:
        self.picked.append(int(i))
        self.used[i] = True

    def most_novel(self, idx: np.ndarray, want: int, gap: float) -> int:
        """Take up to ``want`` of ``idx`` by worth (novelty; with rarity, as above), ``gap`` s apart (halved until
        met), no duplicates; how many."""
        order = idx[np.argsort(-self.worth[idx], kind="stable")]
        got: list[int] = []
        while len(got) < want and gap >= 0:
            cands = order[~self.used[order] & ~self.dup[order]]
            streak = 0
            for pos, i in enumerate(cands.tolist()):
                if len(got) == want:
                    break
                if self.used[i] or any(abs(self.t[i] - self.t[j]) < gap for j in got):
                    continue
                if self.duplicate(i):
                    streak += 1
                    if streak == 32:  # a run of duplicates: settle the rest in one vectorised pass
                        self.refresh(cands[pos + 1 :])
                    continue
                streak = 0
                got.append(i)
                self.take(i)
            gap = gap / 2 if gap > 1e-6 else -1.0
        return len(got)

    def fill(self, want: int) -> None:
        """The most novel non-duplicates anywhere, then (a still video) the frames farthest in time from the picks."""
        got = self.most_novel(np.flatnonzero(~self.used), want, 0.0)
        for _ in range(want - got):
            free = np.flatnonzero(~self.used)
            if free.size == 0:
                return
            p = np.sort(np.asarray(self.picked))  # not empty: the first frame of a fill is never a duplicate
            pos = np.searchsorted(self.t[p], self.t[free])
            left = np.abs(self.t[free] - self.t[p[np.maximum(pos - 1, 0)]])
            right = np.abs(self.t[p[np.minimum(pos, len(p) - 1)]] - self.t[free])
            self.take(int(free[int(np.argmax(np.minimum(left, right)))]))


def _rarity(prior: "VisualPrior") -> np.ndarray | None:
    """The prior's per-candidate rarity, or None where it is uniform (nothing recurs, or a prior without it)."""
    r = getattr(prior, "rarity", None)
    if r is None:
        return None
    r = np.asarray(r, dtype=np.float64)
    return None if r.size == 0 or np.all(r == r[0]) else r


def _cover(
    t: np.ndarray, prior: "VisualPrior", k: int, threshold: float, taken: np.ndarray | None = None
) -> np.ndarray:
    """``k`` more frames by shots, rarity and novelty (besides ``taken``, which they must not duplicate)."""
    rarity = _rarity(prior)
    picker = _Picker(prior, t, threshold, taken, rarity)
    bounds = prior.shot_bounds
    n_shots = len(bounds) - 1
    lengths = _shot_lengths(t, bounds)
    start = len(picker.picked)
    step = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    if k >= n_shots:
        sizes = np.diff(bounds)
        weights = lengths if rarity is None else lengths * rarity[bounds[:-1]]
        for s, b in enumerate(shot_budgets(weights, sizes, k).tolist()):
            if b:
                shot, before = np.arange(bounds[s], bounds[s + 1]), len(picker.picked)
                picker.most_novel(shot, b, lengths[s] / (2 * b))
                picker.mark_alike(shot, before)  # a still shot: its frames duplicate its own pick
    else:
        if rarity is None:
            clock, edges = t, np.linspace(t[0], t[-1] + step, k + 1)
        else:  # counted time: each candidate's span to the next one, times its rarity
            spans = np.diff(t, append=t[-1] + step) * rarity
            clock = np.concatenate([[0.0], np.cumsum(spans)[:-1]])
            edges = np.linspace(0.0, float(spans.sum()), k + 1)
        for j in range(k):
            stratum, before = np.flatnonzero((clock >= edges[j]) & (clock < edges[j + 1])), len(picker.picked)
            picker.most_novel(stratum, 1, 0.0)
            picker.mark_alike(stratum, before)
    picker.fill(k - (len(picker.picked) - start))
    return np.asarray(picker.picked[start:], dtype=np.int64)


@checked_policy
def coverage(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, seed: int = 0,
             prior: "VisualPrior | None" = None, near_duplicate: float | None = None) -> np.ndarray:
    """Frames spread over the video's shots (recurring ones counted once), at their most novel moments, never two
    near-duplicates (scores unused).

    See the module docstring for the rules. Deterministic; ``seed`` is unused.

    Args:
        prior: the index's :class:`~clamr_frames.context.shots.VisualPrior` (``FrameSelector`` passes it).
        near_duplicate: cell difference (0-1) below which two frames count as the same picture where 95 % of
            their cells are (default :data:`~clamr_frames.context.shots.NEAR_DUPLICATE`; 0 turns the check off).

    Raises:
        InputError: no prior, or a prior of another number of candidates.

    >>> from clamr_frames.context.shots import compute_prior
    >>> grey = np.full((36, 64, 3), 90, np.uint8); red = grey.copy(); red[..., 0] = 220
    >>> blob = grey.copy(); blob[10:20, 20:30] = 250                 # a brief event in the first shot
    >>> frames = [grey] * 10 + [blob] * 2 + [grey] * 8 + [red] * 4   # a 20 s shot, then a 4 s one
    >>> prior = compute_prior(np.arange(24.0), frames)
    >>> prior.num_shots
    2
    >>> coverage(np.zeros(24), np.arange(24.0), 2, prior=prior)      # the event, and the short shot
    array([10, 20])
    """
    t, n = timestamps, scores.size
    p = _check_prior(prior, n, "coverage")
    thr = _near_duplicate(near_duplicate)
    return np.sort(_cover(t, p, k, thr))


@checked_policy
def relevance_and_coverage(scores: np.ndarray, timestamps: np.ndarray | None, k: int, *, prior: "VisualPrior",
                           relevance_share: float = RELEVANCE_SHARE, min_gap: float | None = None,
                           near_duplicate: float | None = None) -> np.ndarray:
    """``ceil(k * relevance_share)`` frames by relevance (:func:`nms` on the scores), the rest by :func:`coverage`.

    The coverage frames never repeat or duplicate a relevance frame. ``relevance_share`` 1 is ``nms``, 0 is
    ``coverage``.
    """
    s, t, n = scores, timestamps, scores.size
    p = _check_prior(prior, n, "gated")
    share = finite_knob("relevance_share", relevance_share, low=0.0, high=1.0)
    thr = _near_duplicate(near_duplicate)
    n_rel = min(k, int(math.ceil(k * share - 1e-9)))
    gap = None if min_gap is None else finite_knob("min_gap", min_gap, low=0.0)
    if gap is None:
        gap = float(t[-1] - t[0]) / (4 * k)  # nms's default for the whole budget, not for its share
    rel = nms(s, t, n_rel, min_gap=gap) if n_rel else np.empty(0, dtype=np.int64)
    rest = _cover(t, p, k - n_rel, thr, taken=rel) if k > n_rel else np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate([rel, rest])).astype(np.int64)


def _near_duplicate(value: float | None) -> float:
    if value is None:
        from clamr_frames.context.shots import NEAR_DUPLICATE

        return NEAR_DUPLICATE
    return finite_knob("near_duplicate", value, low=0.0, high=1.0)
