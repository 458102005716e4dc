"""A query-agnostic visual prior of a video: shot boundaries, per-frame novelty within its shot, shot rarity.

Computed once per video at index time from the candidate frames (the index decodes them anyway for a
visual scorer or OCR; for the text-only default scorer it decodes them for this), stored with the index, and
used by the ``coverage`` selection policy and by ``gated`` when a question's score profile is flat. It needs
no model and no question.

Per candidate frame, in time order:

- a **thumbnail**: the frame area-averaged to 16x9 cells, in YCbCr (so colour counts as well as
  brightness); every other quantity comes from these 432 bytes;
- a **cut score**: the median over the cells of how much each cell changed since the previous candidate. A
  cut changes (nearly) every part of the picture; an object that moves, appears or leaves changes a minority
  of the cells, which the median ignores (the idea behind Nagasaka and Tanaka's block comparison, which
  discards the most changed blocks);
- **shots**: a new shot starts at a candidate whose cut score is at least ``cut_min`` and at least
  ``cut_ratio`` times the lower quartile of the cut scores around it (an adaptive threshold: a shaky or
  busy shot needs a bigger jump), unless the frame is a flash (the candidates before and after it differ by
  less than half the jump);
- **novelty**: the mean absolute difference between the frame's thumbnail and the per-cell median of the
  thumbnails within ``window`` seconds of it *inside its shot* — the shot's local background. An event
  shorter than the window (an object shown for a few seconds, a sign, a gesture) is absent from the median,
  so its frames stand out; noise and the shot's steady motion hardly move it;
- **rarity** (per shot): how unlike the rest of the video a shot is. Each shot is described by the per-cell
  median of its thumbnails; two shots *look alike* when their descriptors differ by less than ``alike`` (root
  mean square over the cells and channels) — fully up to ``alike``, then less and less up to 1.5 x
  ``alike``. A shot's rarity is 1 / (1 + how many other shots look like it): 1 for a shot that appears once,
  1/11 for a set shown eleven times. Footage where nothing recurs gets rarity 1 everywhere, which changes
  nothing downstream. Only shots ``window`` seconds or more apart count (closer, it is the same stretch of
  footage: a pan away and back, a scene cut in pieces by false cuts). Novelty sees an event inside a shot;
  rarity sees a shot among the others (a looped or recurring background against a clip inserted once).

Measured on candidates at 1 and 2 fps (``benchmarks/shots.py``, numbers in ``benchmarks/RESULTS.md``):
real clips from Debian's opencv-doc (an animated film with cuts, a corrupted copy of it, two single-shot
clips, and a montage of all four) and generated videos.

Frames may have any size; a candidate whose frame did not decode (``None``) takes the descriptor of the
nearest earlier decoded one. Only numpy and PIL (the area-averaging resize) are imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from clamr_frames.errors import InputError

#: Version of the prior's algorithm and layout; an index holding another version gets a new prior.
#: 2: shot rarity (the ``rarity`` array).
PRIOR_VERSION = 2

#: Thumbnail grid (width, height).
THUMB_SIZE = (16, 9)
#: Two frames are near-duplicates when 95 % of their thumbnail cells differ by less than this (0.02 = 5 of 255
#: levels). Measured (95th percentile of the cells) between candidates 1 s apart inside one shot: a still tree
#: 0.005 (median), pedestrians under a fixed camera 0.032, generated scenes 0.05–0.07.
NEAR_DUPLICATE = 0.02


@dataclass(frozen=True)
class PriorSettings:
    """Knobs of the visual prior (stored with it; another setting recomputes the prior, not the index).

    Attributes:
        cut_min: a cut's score must be at least this (cut scores lie in [0, 1]). Measured at 1 and 2 fps
            candidates: cuts in the real clips 0.039 and up, in generated videos 0.026 and up (two similar
            palettes); changes inside a shot up to 0.014 (real: a hand entering the picture, pedestrians) and
            0.005 (generated). 0.02 lies between.
        cut_ratio: and at least this many times the lower quartile of the cut scores of its neighbourhood.
        cut_window: neighbours on each side (in candidates) of that neighbourhood.
        window: seconds on each side of a frame that form its local background for novelty; also how far apart
            two look-alike shots must be for rarity to count them as a recurrence.
        alike: two shots look alike (for rarity) when the RMS cell difference of their median thumbnails is
            below this, and partly so up to 1.5x it (0 turns rarity off: every shot counts as unique). Measured
            at 1 fps candidates: on real footage (the compositions of ``testkit/compositions.py``) a clip shown
            again lies 0.000-0.002 from its nearest other showing (0.025 where the shot detector cut it
            differently), the nearest other shot of footage where nothing recurs 0.092 and up; different scenes
            of the project's generated videos (similar palettes) 0.022 and up. With 0.02 or 0.03 ``coverage``
            found fewer of the generated videos' needles (``benchmarks/rarity.py``, seeds 400-407); with 0.015
            the same as without rarity, and every real repeat still joins.
    """

    cut_min: float = 0.02
    cut_ratio: float = 3.0
    cut_window: int = 4
    window: float = 15.0
    alike: float = 0.015

    def __post_init__(self) -> None:
        for name in ("cut_min", "cut_ratio", "window", "alike"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InputError(f"PriorSettings.{name} must be a finite number >= 0, got {v!r}")
        if isinstance(self.cut_window, bool) or not isinstance(self.cut_window, int) or self.cut_window < 1:
            raise InputError(f"PriorSettings.cut_window must be an integer >= 1, got {self.cut_window!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VisualPrior:
    """Shots and novelty of every candidate frame of one video (arrays aligned with the candidates).

    Attributes:
        shot_ids: int32 [n], 0-based shot of each candidate, non-decreasing in steps of 0 or 1.
        novelty: float32 [n], how much a frame differs from its shot's local background (0 = not at all).
        cut_scores: float32 [n], how much of the picture changed since the previous candidate (0 for the first).
        thumbs: uint8 [n, 9, 16, 3] YCbCr thumbnails (for near-duplicate checks).
        settings: the settings it was computed with.
        rarity: float32 [n], the rarity of each candidate's shot, in (0, 1] (1 = no other shot looks like it;
            :func:`shot_rarity`, which :class:`PriorBuilder` computes); None: 1 everywhere (as version 1).
    """

    shot_ids: np.ndarray
    novelty: np.ndarray
    cut_scores: np.ndarray
    thumbs: np.ndarray
    settings: PriorSettings = field(default_factory=PriorSettings)
    rarity: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = int(np.shape(self.shot_ids)[0]) if np.ndim(self.shot_ids) == 1 else -1
        if n < 1:
            raise InputError(f"VisualPrior.shot_ids must be a non-empty 1-D array, got shape {np.shape(self.shot_ids)}")
        if self.rarity is None:
            self.rarity = np.ones(n, dtype=np.float32)
        want = {"novelty": (n,), "cut_scores": (n,), "thumbs": (n, THUMB_SIZE[1], THUMB_SIZE[0], 3),
                "rarity": (n,)}
        for name, shape in want.items():
            have = tuple(np.shape(getattr(self, name)))
            if have != shape:
                raise InputError(f"VisualPrior.{name} has shape {have}, expected {shape}")
        steps = np.diff(self.shot_ids)
        if self.shot_ids[0] != 0 or np.any((steps != 0) & (steps != 1)):
            raise InputError("VisualPrior.shot_ids must start at 0 and grow by 0 or 1 per candidate")
        if not np.all(np.isfinite(self.novelty)) or not np.all(np.isfinite(self.cut_scores)):
            raise InputError("VisualPrior: novelty and cut scores must be finite")
        r = np.asarray(self.rarity)
        if not np.all((r > 0) & (r <= 1)):  # also rejects NaN
            raise InputError("VisualPrior.rarity must lie in (0, 1]")

    def __len__(self) -> int:
        return int(self.shot_ids.shape[0])

    @property
    def num_shots(self) -> int:
        return int(self.shot_ids[-1]) + 1

    @property
    def shot_bounds(self) -> np.ndarray:
        """int64 [num_shots + 1]: shot ``s`` holds candidates ``bounds[s]:bounds[s + 1]``."""
        starts = np.flatnonzero(np.diff(self.shot_ids, prepend=-1)).astype(np.int64)
        return np.append(starts, len(self))

    def near_duplicates(self, i: int, others: Sequence[int] | np.ndarray, threshold: float = NEAR_DUPLICATE) -> bool:
        """Whether candidate ``i`` looks like any of ``others`` (:func:`looks_alike`)."""
        idx = np.asarray(others, dtype=np.int64)
        return bool(idx.size and np.any(looks_alike(self.thumbs[i], self.thumbs[idx], threshold)))

    def tensors(self) -> dict[str, np.ndarray]:
        """The arrays, for storage."""
        return {
            "shot_ids": self.shot_ids.astype(np.int32),
            "novelty": self.novelty.astype(np.float32),
            "cut_scores": self.cut_scores.astype(np.float32),
            "thumbs": self.thumbs.astype(np.uint8),
            "rarity": np.asarray(self.rarity, dtype=np.float32),
        }

    @classmethod
    def from_tensors(cls, t: dict[str, Any], settings: PriorSettings) -> "VisualPrior":
        """Rebuild from :meth:`tensors` (raises InputError on missing or inconsistent arrays)."""
        try:
            return cls(
                shot_ids=np.asarray(t["shot_ids"], dtype=np.int32),
                novelty=np.asarray(t["novelty"], dtype=np.float32),
                cut_scores=np.asarray(t["cut_scores"], dtype=np.float32),
                thumbs=np.asarray(t["thumbs"], dtype=np.uint8),
                settings=settings,
                rarity=np.asarray(t["rarity"], dtype=np.float32),
            )
        except KeyError as e:
            raise InputError(f"visual prior misses the array {e}") from None


# -- thumbnails and distances ----------------------------------------------------------------------


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """The 16x9 YCbCr (BT.601 full range, as JPEG) thumbnail of an RGB uint8 frame, area averaged: uint8 [9, 16, 3].

    >>> thumbnail(np.full((180, 320, 3), 255, np.uint8))[0, 0].tolist()
    [255, 128, 128]
    """
    from PIL import Image

    f = np.asarray(frame)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8 or f.shape[0] < 1 or f.shape[1] < 1:
        raise InputError(f"frame must be a uint8 RGB array [H, W, 3], got {f.dtype} {f.shape}")
    img = Image.fromarray(np.ascontiguousarray(f)).resize(THUMB_SIZE, Image.Resampling.BOX)
    return np.asarray(img.convert("YCbCr"), dtype=np.uint8)


def _cell_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-cell mean absolute difference over the channels, in [0, 1]: [..., cells]."""
    d = np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean(axis=-1) / 255.0
    return d.reshape(*d.shape[:-2], -1)


def looks_alike(a: np.ndarray, b: np.ndarray, threshold: float = NEAR_DUPLICATE) -> np.ndarray:
    """Whether thumbnails are near-duplicates: fewer than 5 % of the cells differ by ``threshold`` or more.

    Broadcasts over leading axes. True only when (almost) no part of the picture changed: a new object on a
    still background is not a duplicate, whatever its size beyond 5 % of the picture.

    >>> a = np.zeros((9, 16, 3), np.uint8); b = a.copy(); b[0, :4] = 60   # 4 of 144 cells changed
    >>> bool(looks_alike(a, b)), bool(looks_alike(a, a + 40))
    (True, False)
    """
    # integer arithmetic (a channel sum instead of a float mean): this runs for many candidate pairs per pick
    d = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).sum(axis=-1, dtype=np.int16)
    cells = d.reshape(*d.shape[:-2], -1)
    return np.count_nonzero(cells >= threshold * 3 * 255, axis=-1) < math.ceil(0.05 * cells.shape[-1])


def cut_scores(thumbs: np.ndarray) -> np.ndarray:
    """float32 [n]: median over cells of each candidate's change since the previous one (0 for the first)."""
    n = thumbs.shape[0]
    out = np.zeros(n, dtype=np.float32)
    if n > 1:
        out[1:] = np.median(_cell_diff(thumbs[1:], thumbs[:-1]), axis=-1)
    return out


# -- shots and novelty -------------------------------------------------------------------------------


def detect_shots(thumbs: np.ndarray, settings: PriorSettings | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(shot id per candidate int32 [n], cut score per candidate float32 [n]) from the thumbnails.

    >>> a, b = np.zeros((9, 16, 3), np.uint8), np.full((9, 16, 3), 200, np.uint8)
    >>> detect_shots(np.stack([a, a, b, b, a]))[0].tolist()   # two cuts
    [0, 0, 1, 1, 2]
    >>> detect_shots(np.stack([a, a, b, a, a]))[0].tolist()   # a one-frame flash
    [0, 0, 0, 0, 0]
    """
    st = settings or PriorSettings()
    c = cut_scores(thumbs)
    n = c.shape[0]
    cut = np.zeros(n, dtype=bool)
    w = st.cut_window
    for i in np.flatnonzero(c >= st.cut_min):
        if i == 0:
            continue
        nb = np.concatenate([c[max(1, i - w) : i], c[i + 1 : i + 1 + w]])
        # the lower quartile, not the median: at 1 fps a film cuts every few candidates, and the
        # neighbouring cuts must not raise the bar of this one
        base = float(np.quantile(nb, 0.25)) if nb.size else 0.0
        if c[i] < st.cut_ratio * base:
            continue
        # a flash (one odd frame) changes the picture and changes it back: across it the change is small
        # compared with the jump into it, while across a cut it is as large
        if i < n - 1 and float(np.median(_cell_diff(thumbs[i - 1], thumbs[i + 1]))) < 0.5 * c[i]:
            continue  # frame i is a flash
        if i > 1 and float(np.median(_cell_diff(thumbs[i - 2], thumbs[i]))) < 0.5 * c[i]:
            continue  # frame i - 1 was the flash: the picture is back
        cut[i] = True
    return np.cumsum(cut).astype(np.int32), c


def novelty_scores(
    thumbs: np.ndarray, timestamps: np.ndarray, shot_ids: np.ndarray, window: float = 15.0
) -> np.ndarray:
    """float32 [n]: mean absolute difference of each thumbnail from the per-cell median of its shot within ``window`` s.

    >>> still = np.zeros((9, 16, 3), np.uint8); event = still.copy(); event[2:6, 4:10] = 200
    >>> thumbs = np.stack([still] * 10 + [event] * 2 + [still] * 10)
    >>> nov = novelty_scores(thumbs, np.arange(22.0), np.zeros(22, np.int32))
    >>> int(nov.argmax()) in (10, 11), float(nov[0])
    (True, 0.0)
    """
    n = thumbs.shape[0]
    out = np.zeros(n, dtype=np.float32)
    t = np.asarray(timestamps, dtype=np.float64)
    th = np.asarray(thumbs, dtype=np.uint8)  # the median partitions uint8 2-3x faster than float32
    bounds = np.append(np.flatnonzero(np.diff(shot_ids, prepend=-1)), n)
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        if b - a < 2:
            continue
        ts = t[a:b]
        lo = np.searchsorted(ts, ts - window, side="left")
        hi = np.searchsorted(ts, ts + window, side="right")
        for j in range(b - a):
            background = np.median(th[a + lo[j] : a + hi[j]], axis=0)
            out[a + j] = float(np.abs(th[a + j].astype(np.float32) - background).mean()) / 255.0
    return out


def shot_rarity(
    thumbs: np.ndarray, shot_ids: np.ndarray, timestamps: np.ndarray, alike: float = 0.015, window: float = 15.0
) -> np.ndarray:
    """float32 [n]: the rarity of each candidate's shot, 1 / (1 + the number of other shots that look like it).

    A shot is described by the per-cell median of its thumbnails; two descriptors look alike with weight 1 when
    their root-mean-square difference (over cells and channels, in [0, 1]) is at most ``alike``, falling linearly
    to 0 at 1.5 x ``alike``. Only shots at least ``window`` seconds apart count: closer, a look-alike is the same
    stretch of footage come back (a pan away and back, a scene cut in pieces by false cuts), not a recurrence.
    ``alike`` 0: every shot is unique (rarity 1).

    >>> a, b, c = (np.full((9, 16, 3), v, np.uint8) for v in (0, 100, 200))
    >>> thumbs = np.stack([a, a, b, a, c, a])                 # shot a recurs three times; b and c appear once
    >>> ids, t = np.array([0, 0, 1, 2, 3, 4]), np.arange(6) * 20.0
    >>> [round(float(r), 2) for r in shot_rarity(thumbs, ids, t)]
    [0.33, 0.33, 1.0, 0.33, 1.0, 0.33]
    >>> shot_rarity(thumbs, ids, t / 10).tolist()   # all within 15 s: the same stretch, nothing recurs
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    sid = np.asarray(shot_ids)
    n = sid.shape[0]
    bounds = np.append(np.flatnonzero(np.diff(sid, prepend=-1)), n)
    n_shots = len(bounds) - 1
    if n_shots < 2 or alike <= 0:
        return np.ones(n, dtype=np.float32)
    th = np.asarray(thumbs, dtype=np.uint8)
    desc = np.stack([np.median(th[a:b], axis=0) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())])
    desc = desc.reshape(n_shots, -1).astype(np.float32) / 255.0
    # root-mean-square difference through one matrix product per block of rows (|a|^2 + |b|^2 - 2 a.b): all
    # pairs of 3,000 shots in about a second, where a cell-by-cell loop took half a minute
    sq = np.einsum("ij,ij->i", desc, desc)
    t = np.asarray(timestamps, dtype=np.float64)
    first, last = t[bounds[:-1]], t[bounds[1:] - 1]
    far = 1.5 * alike
    count = np.zeros(n_shots, dtype=np.float64)
    for a in range(0, n_shots, 512):
        blk = desc[a : a + 512]
        d2 = (sq[a : a + 512, None] + sq[None] - 2.0 * (blk @ desc.T)) / desc.shape[1]
        d = np.sqrt(np.maximum(d2, 0.0))
        w = np.clip((far - d) / (far - alike), 0.0, 1.0)
        rows = slice(a, a + blk.shape[0])
        gap = np.maximum(first[None] - last[rows, None], first[rows, None] - last[None])  # < 0: itself
        w[gap < window] = 0.0
        count[a : a + 512] = w.sum(axis=1)
    per_shot = (1.0 / (1.0 + count)).astype(np.float32)
    return np.repeat(per_shot, np.diff(bounds))


class PriorBuilder:
    """Collects thumbnails chunk by chunk (frames in time order) and computes the prior at the end.

    Memory: 432 bytes per candidate (4.7 MB for 3 hours at 1 fps).

    >>> red, blue = np.zeros((36, 64, 3), np.uint8), np.zeros((36, 64, 3), np.uint8)
    >>> red[..., 0], blue[..., 2] = 200, 200
    >>> b = PriorBuilder()
    >>> b.add(np.arange(12.0), [red] * 12)
    >>> b.add(np.arange(12.0, 20.0), [blue] * 7 + [None])
    >>> prior = b.finish()
    >>> prior.num_shots, prior.shot_bounds.tolist()
    (2, [0, 12, 20])
    """

    def __init__(self, settings: PriorSettings | None = None) -> None:
        self.settings = settings or PriorSettings()
        self._t: list[float] = []
        self._thumbs: list[np.ndarray | None] = []

    def __len__(self) -> int:
        return len(self._t)

    def add(self, timestamps: Sequence[float] | np.ndarray, frames: Iterable["np.ndarray | None"]) -> None:
        """Add candidates (in time order, after those added before); ``None`` marks a frame that did not decode."""
        ts = np.asarray(timestamps, dtype=np.float64).ravel().tolist()
        fr = list(frames)
        if len(fr) != len(ts):
            raise InputError(f"PriorBuilder.add: {len(ts)} timestamps for {len(fr)} frames")
        if ts and self._t and ts[0] < self._t[-1]:
            raise InputError("PriorBuilder.add: chunks must come in time order")
        self._t.extend(ts)
        self._thumbs.extend(None if f is None else thumbnail(f) for f in fr)

    def finish(self) -> VisualPrior:
        """The prior of every candidate added."""
        n = len(self._t)
        if n == 0:
            raise InputError("visual prior: no candidate frames")
        first = next((x for x in self._thumbs if x is not None), None)
        if first is None:
            raise InputError("visual prior: none of the candidate frames decoded")
        thumbs = np.empty((n, THUMB_SIZE[1], THUMB_SIZE[0], 3), np.uint8)
        last = first
        for i, x in enumerate(self._thumbs):
            last = last if x is None else x
            thumbs[i] = last
        t = np.asarray(self._t, dtype=np.float64)
        shot_ids, cuts = detect_shots(thumbs, self.settings)
        nov = novelty_scores(thumbs, t, shot_ids, self.settings.window)
        rarity = shot_rarity(thumbs, shot_ids, t, self.settings.alike, self.settings.window)
        return VisualPrior(shot_ids, nov, cuts, thumbs, self.settings, rarity)


def compute_prior(
    timestamps: Sequence[float] | np.ndarray,
    frames: Iterable["np.ndarray | None"],
    settings: PriorSettings | None = None,
) -> VisualPrior:
    """The visual prior of candidate frames given all at once (:class:`PriorBuilder` takes them in chunks)."""
    b = PriorBuilder(settings)
    b.add(timestamps, frames)
    return b.finish()


__all__ = [
    "NEAR_DUPLICATE",
    "PRIOR_VERSION",
    "PriorBuilder",
    "PriorSettings",
    "VisualPrior",
    "compute_prior",
    "cut_scores",
    "detect_shots",
    "looks_alike",
    "novelty_scores",
    "shot_rarity",
    "thumbnail",
]
