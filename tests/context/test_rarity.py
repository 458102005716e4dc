"""Shot rarity in the visual prior (clamr_frames.context.shots.shot_rarity) and its storage (prior version 2)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from clamr_frames.context.shots import PRIOR_VERSION, PriorSettings, VisualPrior, compute_prior, shot_rarity
from clamr_frames.errors import InputError


def _look(value: int, pattern: int = 0) -> np.ndarray:
    """A 16x9 YCbCr thumbnail: a flat level, with a bright block at a place that depends on ``pattern``."""
    t = np.full((9, 16, 3), value, np.uint8)
    if pattern:
        t[(pattern * 3) % 7 : (pattern * 3) % 7 + 3, pattern % 12 : pattern % 12 + 4] = 250
    return t


def _shots(looks: list[np.ndarray], lengths: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thumbnails, shot ids and times of candidates 20 s apart (so any two shots are beyond the 15-s window)."""
    thumbs = np.stack([lk for lk, m in zip(looks, lengths) for _ in range(m)])
    ids = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    return thumbs, ids, np.arange(len(ids)) * 20.0


def test_recurring_shots_are_less_rare_than_once_only_ones():
    bg = [_look(40, 1), _look(120, 2), _look(200, 3)]  # a background of three sets, shown five times over
    insert = _look(90, 5)
    looks, lengths = [], []
    for m in range(5):
        looks += bg
        lengths += [6, 4, 5]
        if m == 2:
            looks.append(insert)
            lengths.append(3)
    thumbs, ids, t = _shots(looks, lengths)
    r = shot_rarity(thumbs, ids, t)
    assert r.shape == (len(ids),) and r.dtype == np.float32
    per_shot = r[np.flatnonzero(np.diff(ids, prepend=-1))]
    once = [i for i, lk in enumerate(looks) if lk is insert]
    assert per_shot[once].tolist() == [1.0]
    rest = np.delete(per_shot, once)
    assert np.allclose(rest, 1 / 5)  # each set looks like its 4 other showings


def test_footage_where_nothing_recurs_gets_uniform_rarity_and_rarity_off_is_uniform():
    looks = [_look(10 + 40 * s, s + 1) for s in range(6)]
    thumbs, ids, t = _shots(looks, [3, 7, 2, 5, 4, 6])
    assert shot_rarity(thumbs, ids, t).tolist() == [1.0] * len(ids)
    same = [_look(60)] * 4
    thumbs, ids, t = _shots(same, [2, 2, 2, 2])
    assert np.allclose(shot_rarity(thumbs, ids, t), 1 / 4)
    assert shot_rarity(thumbs, ids, t, alike=0.0).tolist() == [1.0] * 8  # 0 turns it off
    assert shot_rarity(thumbs[:2], ids[:2], t[:2]).tolist() == [1.0, 1.0]  # one shot: nothing to compare with


def test_look_alike_shots_close_in_time_are_one_stretch_not_a_recurrence():
    # a scene cut in three by false cuts (a pan), then the same scene a minute later
    a = _look(80, 3)
    thumbs = np.stack([a] * 12)
    ids = np.array([0] * 3 + [1] * 3 + [2] * 3 + [3] * 3, np.int32)
    t = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 70, 71, 72], float)
    r = shot_rarity(thumbs, ids, t)
    assert np.allclose(r[:9], 0.5) and np.allclose(r[9:], 1 / 4)  # each piece: the later showing only
    assert shot_rarity(thumbs, ids, t, window=100.0).tolist() == [1.0] * 12


def test_look_alike_is_graded_between_alike_and_one_and_a_half_times_it():
    a = _look(100)
    levels = {0: 1.0, 3: 1.0, 5: None, 6: 0.0}  # 5 levels: 0.0196 RMS, between alike (0.015) and 1.5x it
    for shift, weight in levels.items():
        thumbs, ids, t = _shots([a, _look(100 + shift)], [2, 2])
        r = float(shot_rarity(thumbs, ids, t)[0])
        if weight is None:
            assert 0.5 < r < 1.0
        else:
            assert r == pytest.approx(1 / (1 + weight))


def test_rarity_of_a_shot_uses_its_median_picture_not_one_odd_frame():
    a, b = _look(30, 1), _look(220, 4)
    thumbs = np.stack([a] * 5 + [b] + [a] * 4 + [a] * 6)  # shot 0 has one odd frame; shot 1 is the same set
    ids = np.repeat(np.arange(2, dtype=np.int32), [10, 6])
    t = np.r_[np.arange(10.0), 60.0 + np.arange(6.0)]  # shot 1 a minute later
    assert np.allclose(shot_rarity(thumbs, ids, t), 0.5)


def test_the_prior_carries_rarity_and_checks_it():
    red, blue = np.zeros((36, 64, 3), np.uint8), np.zeros((36, 64, 3), np.uint8)
    red[..., 0], blue[..., 2] = 200, 200
    frames = [red] * 5 + [blue] * 5 + [red] * 5  # red, blue, red again
    prior = compute_prior(np.arange(15.0) * 5, frames)
    assert prior.num_shots == 3
    assert prior.rarity.tolist() == [0.5] * 5 + [1.0] * 5 + [0.5] * 5
    t = prior.tensors()
    assert t["rarity"].dtype == np.float32
    again = VisualPrior.from_tensors(t, prior.settings)
    assert np.array_equal(again.rarity, prior.rarity)
    with pytest.raises(InputError, match="misses the array"):  # a version-1 file has no rarity
        VisualPrior.from_tensors({k: v for k, v in t.items() if k != "rarity"}, prior.settings)
    with pytest.raises(InputError, match="rarity must lie in"):
        VisualPrior.from_tensors(dict(t, rarity=np.zeros(15, np.float32)), prior.settings)
    with pytest.raises(InputError, match="shape"):
        VisualPrior.from_tensors(dict(t, rarity=t["rarity"][:-1]), prior.settings)
    with pytest.raises(InputError):
        PriorSettings(alike=-0.1)
    off = compute_prior(np.arange(15.0) * 5, frames, PriorSettings(alike=0.0))
    assert off.rarity.tolist() == [1.0] * 15
    bare = VisualPrior(prior.shot_ids, prior.novelty, prior.cut_scores, prior.thumbs)  # no rarity given: 1
    assert bare.rarity.tolist() == [1.0] * 15


def test_an_index_with_a_version_1_prior_gets_a_new_one(tmp_path):
    """The version bump: a stored prior of version 1 (no rarity) reads as none, so the index computes it again."""
    from clamr_frames.index.store import IndexStore

    assert PRIOR_VERSION == 2
    red, blue = np.zeros((36, 64, 3), np.uint8), np.zeros((36, 64, 3), np.uint8)
    red[..., 0], blue[..., 2] = 200, 200
    prior = compute_prior(np.arange(12.0) * 10, [red] * 4 + [blue] * 4 + [red] * 4)
    assert prior.rarity.min() < 1.0
    store = IndexStore(tmp_path)
    d = tmp_path / "idx"
    d.mkdir()
    manifest = {"timestamps": list(range(12))}
    (d / "manifest.json").write_text(json.dumps(manifest))
    manifest = store.write_prior(d, manifest, prior)
    entry = manifest["visual_prior"]
    assert entry["version"] == 2 and entry["settings"]["alike"] == PriorSettings().alike
    got = store.read_prior(d, manifest)
    assert got is not None and np.array_equal(got.rarity, prior.rarity)
    old = json.loads(json.dumps(manifest))
    old["visual_prior"]["version"] = 1  # as an index written before rarity
    assert store.read_prior(d, old) is None
    # a file claiming version 2 but without the rarity array: unusable, recomputed (with a warning)
    import hashlib

    from safetensors.numpy import save

    t = {k: v for k, v in prior.tensors().items() if k != "rarity"}
    data = save(t)
    (d / "prior.safetensors").write_bytes(data)
    bad = dict(manifest, visual_prior=dict(manifest["visual_prior"], sha256=hashlib.sha256(data).hexdigest()))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert store.read_prior(d, bad) is None
    assert any("unusable visual prior" in str(x.message) for x in w)
