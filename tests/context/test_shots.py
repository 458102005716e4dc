"""The visual prior's context stage: thumbnails, shot boundaries, novelty (clamr_frames.context.shots)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from clamr_frames.context.shots import (
    NEAR_DUPLICATE,
    PriorBuilder,
    PriorSettings,
    VisualPrior,
    compute_prior,
    detect_shots,
    looks_alike,
    thumbnail,
)
from clamr_frames.errors import InputError
from clamr_frames.synth.render import SyntheticScene



def _scene_frames(seed: int, duration: float, scene_seconds: tuple[float, float]):
    """Candidates at 1 fps of a generated scene (rendered, uncompressed) and the true first candidate of each shot."""
    sc = SyntheticScene(seed=seed, duration=duration, scene_seconds=scene_seconds, needles_per_kind=1)
    ts = np.arange(0.0, sc.duration, 1.0)
    frames = [sc.render_frame(t) for t in ts]
    starts = sorted({int(np.searchsorted(ts, s - 1e-9)) for s in sc.scene_starts if s < ts[-1]})
    return ts, frames, starts, sc


def test_thumbnail_is_16x9_ycbcr_of_any_frame():
    t = thumbnail(np.zeros((7, 5, 3), np.uint8))  # smaller than the grid: upsampled, still 16x9
    assert t.shape == (9, 16, 3) and t.dtype == np.uint8
    red = np.zeros((90, 160, 3), np.uint8)
    red[..., 0] = 255
    y, cb, cr = thumbnail(red)[4, 8].tolist()
    assert y == 76 and cr == 255 and cb < 90  # BT.601: red is dark, strongly Cr
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 4), np.uint8)):
        with pytest.raises(InputError, match="uint8 RGB"):
            thumbnail(bad)


@pytest.mark.parametrize("seed,scene_seconds", [(3, (20.0, 90.0)), (4, (2.0, 30.0))])
def test_shots_of_generated_scenes_are_found_exactly(seed, scene_seconds):
    ts, frames, starts, _ = _scene_frames(seed, 240.0, scene_seconds)
    prior = compute_prior(ts, frames)
    assert prior.shot_bounds[:-1].tolist() == starts
    assert prior.num_shots == len(starts) > 3


def test_a_flash_is_not_a_cut_and_noise_is_not_either():
    rng = np.random.default_rng(0)
    base = rng.integers(40, 200, size=(90, 160, 3)).astype(np.uint8)
    frames = [np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8) for _ in range(30)]
    frames[12] = np.full_like(base, 250)  # a photo flash: one white frame
    frames[20] = np.full_like(base, 5)  # a dropped (black) frame
    prior = compute_prior(np.arange(30.0), frames)
    assert prior.num_shots == 1, prior.shot_bounds


def test_busy_shot_needs_a_bigger_jump_than_a_still_one():
    # cut scores of ~0.03 all the way (a shaky camera): none of them stands out of its neighbourhood
    rng = np.random.default_rng(1)
    thumbs = np.stack([rng.integers(100, 120, size=(9, 16, 3)).astype(np.uint8) for _ in range(40)])
    shot_ids, cuts = detect_shots(thumbs)
    assert float(np.median(cuts[1:])) > PriorSettings().cut_min  # every step is above the absolute minimum
    assert shot_ids.max() == 0


def test_novelty_peaks_on_a_brief_event_inside_its_shot():
    ts, frames, _, sc = _scene_frames(5, 180.0, (60.0, 90.0))
    vision = [nd for nd in sc.needles if nd.kind == "vision"][0]
    prior = compute_prior(ts, frames)
    during = (ts >= vision.start) & (ts < vision.end)
    shot = prior.shot_ids[np.flatnonzero(during)[0]]
    same_shot = prior.shot_ids == shot
    # the most novel moment of the needle's shot is the needle (or the sign, the other brief event)
    events = during.copy()
    for nd in sc.needles:
        if nd.kind == "ocr":
            events |= (ts >= nd.start) & (ts < nd.end)
    best = np.flatnonzero(same_shot)[np.argmax(prior.novelty[same_shot])]
    assert events[best]
    assert prior.novelty[during].max() > 2 * np.median(prior.novelty[same_shot])


def test_builder_takes_chunks_and_missing_frames():
    ts, frames, starts, _ = _scene_frames(6, 120.0, (20.0, 40.0))
    frames[5] = None
    frames[-1] = None
    b = PriorBuilder()
    b.add(ts[:50], frames[:50])
    b.add(ts[50:], frames[50:])
    assert len(b) == len(ts)
    whole = compute_prior(ts, frames)
    chunked = b.finish()
    assert chunked.shot_ids.tolist() == whole.shot_ids.tolist()
    assert np.array_equal(chunked.thumbs[5], chunked.thumbs[4])  # a missing frame borrows its predecessor's
    with pytest.raises(InputError, match="time order"):
        b.add([1.0], [frames[0]])
    with pytest.raises(InputError, match="2 timestamps for 1 frames"):
        PriorBuilder().add([0.0, 1.0], [frames[0]])
    with pytest.raises(InputError, match="none of the candidate frames decoded"):
        compute_prior([0.0, 1.0], [None, None])
    with pytest.raises(InputError, match="no candidate frames"):
        PriorBuilder().finish()


def test_prior_round_trips_and_rejects_inconsistent_arrays():
    ts, frames, _, _ = _scene_frames(7, 60.0, (10.0, 30.0))
    prior = compute_prior(ts, frames)
    again = VisualPrior.from_tensors(prior.tensors(), prior.settings)
    assert again.shot_ids.tolist() == prior.shot_ids.tolist() and np.array_equal(again.thumbs, prior.thumbs)
    t = prior.tensors()
    with pytest.raises(InputError, match="misses the array"):
        VisualPrior.from_tensors({k: v for k, v in t.items() if k != "novelty"}, prior.settings)
    with pytest.raises(InputError, match="shape"):
        VisualPrior.from_tensors(dict(t, novelty=t["novelty"][:-1]), prior.settings)
    with pytest.raises(InputError, match="start at 0"):
        VisualPrior.from_tensors(dict(t, shot_ids=t["shot_ids"] * 2), prior.settings)
    with pytest.raises(InputError):
        PriorSettings(cut_min=-1.0)
    with pytest.raises(InputError):
        PriorSettings(cut_window=0)


def test_near_duplicates():
    ts, frames, _, _ = _scene_frames(8, 60.0, (100.0, 100.0))
    prior = compute_prior(ts, frames)
    assert looks_alike(prior.thumbs[3], prior.thumbs[3]) and not looks_alike(prior.thumbs[3], prior.thumbs[40])
    still = np.full((90, 160, 3), 120, np.uint8)
    moved = still.copy()
    moved[30:60, 60:100] = 220  # a new object: a minority of the cells, but far above the threshold
    p = compute_prior([0.0, 1.0, 2.0], [still, still.copy(), moved])
    assert p.near_duplicates(1, [0]) and not p.near_duplicates(2, [0, 1])
    assert not p.near_duplicates(0, [])
    assert NEAR_DUPLICATE > 0


# -- real footage nobody here made (committed: tests/data, sources and licences in its README) -------------------

from testkit.real_media import DATA as REAL_DATA  # tests/data: the committed real-media set


def _real(name: str):
    from clamr_frames.video import VideoReader

    with VideoReader(REAL_DATA / name) as r, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idx, ts = r.candidate_indices(fps=1.0)
        got: dict[int, np.ndarray] = {}
        for ch in r.iter_candidates(fps=1.0, max_side=448):
            got.update(zip((int(i) for i in ch.indices), ch.frames))
    return np.asarray(ts), [got.get(int(i)) for i in idx]


def test_real_cuts_are_found():
    # real clips cut together: the handheld cockatoo shot (0-4 s), a deer (4-7 s), a room (7-10 s), cockatoo again
    ts, frames = _real("derived/montage_cuts.mp4")
    cuts = [float(ts[b]) for b in compute_prior(ts, frames).shot_bounds[1:-1]]
    assert {4.0, 7.0, 10.0} <= set(cuts), cuts
    # measured [2, 3, 4, 7, 10]: two more inside the handheld shot, where the bird fills the lens between 2 and 4 s
    assert len(cuts) <= 5, cuts


def test_a_real_single_shot_clip_has_no_cut():
    ts, frames = _real("derived/cockatoo_divx_packed.avi")  # 4 s of the handheld cockatoo shot
    assert compute_prior(ts, frames).num_shots == 1
