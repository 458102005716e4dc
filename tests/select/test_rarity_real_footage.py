"""Rarity on real footage: the once-only inserts of a looped real background are found at k = 8.

The videos are testkit/compositions.py's (the committed real clips, composed); the prior comes from their
candidates at 1 fps, as an index computes it. Composing and decoding 11 minutes takes about a minute.
"""

from __future__ import annotations

import numpy as np
import pytest

from clamr_frames.context.shots import PriorSettings, compute_prior
from clamr_frames.select import select_frames
from testkit.compositions import all_unique, recurring_with_inserts

pytestmark = pytest.mark.slow


def _prior(path, alike=None):
    from clamr_frames.video import VideoReader

    ts, frames = [], []
    with VideoReader(path) as r:
        for ch in r.iter_candidates(fps=1.0, max_side=160):
            ts += [float(x) for x in ch.timestamps]
            frames += list(ch.frames)
    ts = np.asarray(ts)
    prior = compute_prior(ts, frames)
    off = compute_prior(ts, frames, PriorSettings(alike=0.0))
    return ts, prior, off


def test_once_only_inserts_are_found_and_all_unique_footage_is_unchanged(tmp_path):
    comp = recurring_with_inserts(tmp_path / "recurring.mp4")
    ts, prior, off = _prior(comp.path)
    inserts = [q for q in comp.questions if q.kind == "picture"]
    assert len(inserts) == 4
    flat = np.zeros(len(ts))
    for policy in ("coverage", "gated"):
        picks = select_frames(flat, ts, 8, policy=policy, prior=prior)
        assert all(q.hit(ts[picks]) for q in inserts), (policy, ts[picks])
    # the recurring background is counted once: its shots' rarity is about 1 / 11, the inserts' 1
    for clip in ("pigs", "deer"):
        (a, b), = comp.clip_spans(clip)
        assert np.all(prior.rarity[(ts >= a) & (ts < b)] == 1.0)
    assert np.median(prior.rarity) < 0.15

    uniq = all_unique(tmp_path / "unique.mp4")
    ts, prior, off = _prior(uniq.path)
    assert np.all(prior.rarity == 1.0)
    for k in (4, 8, 16):
        for policy in ("coverage", "gated"):
            assert np.array_equal(select_frames(np.zeros(len(ts)), ts, k, policy=policy, prior=prior),
                                  select_frames(np.zeros(len(ts)), ts, k, policy=policy, prior=off))
