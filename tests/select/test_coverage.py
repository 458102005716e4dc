"""The coverage policy and gated with the visual prior (clamr_frames.select.coverage)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamr_frames.context.shots import PriorSettings, VisualPrior, compute_prior
from clamr_frames.errors import InputError
from clamr_frames.select import coverage, gated, select_frames, takes_prior
from clamr_frames.select.coverage import relevance_and_coverage, shot_budgets
from clamr_frames.select.gated import FLAT_Z, PEAK_Z
from clamr_frames.select.profile import prominence


def _prior_from_looks(
    looks: list[np.ndarray], novelty: np.ndarray | None = None, shot_ids: np.ndarray | None = None
) -> VisualPrior:
    """A prior whose candidates show the given 16x9 thumbnails; a new shot wherever the look changes."""
    thumbs = np.stack(looks).astype(np.uint8)
    change = np.r_[False, np.any(thumbs[1:] != thumbs[:-1], axis=(1, 2, 3))]
    n = len(looks)
    return VisualPrior(
        shot_ids=np.cumsum(change).astype(np.int32) if shot_ids is None else shot_ids,
        novelty=np.zeros(n, np.float32) if novelty is None else novelty.astype(np.float32),
        cut_scores=np.zeros(n, np.float32),
        thumbs=thumbs,
        settings=PriorSettings(),
    )


def _look(value: int) -> np.ndarray:
    return np.full((9, 16, 3), value, np.uint8)


def _hit(picks: np.ndarray, lo: int, hi: int) -> bool:
    return bool(np.any((picks >= lo) & (picks < hi)))


def test_coverage_needs_a_matching_prior():
    assert takes_prior("coverage") and takes_prior("Gated") and not takes_prior("nms")
    with pytest.raises(InputError, match="needs the video's visual prior"):
        select_frames(np.zeros(20), None, 3, policy="coverage")
    p = _prior_from_looks([_look(10)] * 10)
    with pytest.raises(InputError, match="covers 10 candidates, the scores 20"):
        coverage(np.zeros(20), None, 3, prior=p)
    with pytest.raises(InputError, match="VisualPrior"):
        coverage(np.zeros(10), None, 3, prior=object())
    with pytest.raises(InputError):
        coverage(np.zeros(10), None, 3, prior=p, near_duplicate=-0.1)


def test_every_shot_gets_a_frame_when_k_allows_and_long_shots_get_more():
    # shots of 2, 40, 3, 15 and 40 s at 1 fps: uniform with k = 5 misses both short shots
    lengths = [2, 40, 3, 15, 40]
    looks = [_look(20 + 40 * s) for s, m in enumerate(lengths) for _ in range(m)]
    rng = np.random.default_rng(0)
    prior = _prior_from_looks(looks, novelty=rng.random(len(looks)))
    bounds = np.cumsum([0, *lengths])
    t = np.arange(len(looks), dtype=float)
    picks = coverage(np.zeros(len(looks)), t, 5, prior=prior, near_duplicate=0.0)
    assert all(_hit(picks, a, b) for a, b in zip(bounds[:-1], bounds[1:]))
    uni = select_frames(np.zeros(len(looks)), t, 5, policy="uniform")
    assert sum(_hit(uni, a, b) for a, b in zip(bounds[:-1], bounds[1:])) < 5
    picks = coverage(np.zeros(len(looks)), t, 12, prior=prior, near_duplicate=0.0)
    per_shot = [int(((picks >= a) & (picks < b)).sum()) for a, b in zip(bounds[:-1], bounds[1:])]
    assert min(per_shot) >= 1 and per_shot[1] > per_shot[3] > per_shot[0]
    assert shot_budgets(np.array(lengths, float), np.array(lengths), 12).tolist() == per_shot


def test_inside_a_shot_the_most_novel_moments_spread_out():
    nov = np.zeros(100)
    nov[30:34] = [0.5, 0.9, 0.8, 0.6]  # one event, four frames
    nov[70] = 0.4  # a weaker one
    prior = _prior_from_looks([_look(100)] * 100, novelty=nov)
    picks = coverage(np.zeros(100), np.arange(100.0), 2, prior=prior, near_duplicate=0.0)
    assert picks.tolist() == [31, 70]  # not 31 and 32: picks in a shot are length / (2 budget) apart


def test_fewer_frames_than_shots_spread_over_time_at_novel_moments():
    looks, nov = [], []
    for s in range(20):  # 20 shots of 10 s, each with one novel frame at its 7th second
        looks += [_look(5 + 12 * s)] * 10
        nov += [0.0] * 7 + [1.0] + [0.0] * 2
    prior = _prior_from_looks(looks, novelty=np.array(nov))
    picks = coverage(np.zeros(200), np.arange(200.0), 4, prior=prior)
    assert picks.tolist() == [7, 57, 107, 157]  # one per 50-s stratum, at its first most novel moment


def test_never_two_near_duplicates_when_avoidable():
    # interview editing: A (30 s), B (5 s), A, B, A — five shots, two pictures
    a, b = _look(60), _look(180)
    looks = [a] * 30 + [b] * 5 + [a] * 30 + [b] * 5 + [a] * 30
    prior = _prior_from_looks(looks)
    assert prior.num_shots == 5
    picks = coverage(np.zeros(100), np.arange(100.0), 2, prior=prior)
    assert sorted(int(prior.thumbs[i, 0, 0, 0]) for i in picks) == [60, 180]
    picks = coverage(np.zeros(100), np.arange(100.0), 5, prior=prior)  # only two pictures exist: the rest
    assert len(picks) == 5 and len(set(picks.tolist())) == 5  # spread in time, since duplicates are forced
    gaps = np.diff(np.r_[0, np.sort(picks), 100])
    assert gaps.max() <= 40


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 90),
    k=st.integers(1, 100),
    cuts=st.lists(st.integers(1, 89), max_size=12),
    seed=st.integers(0, 10_000),
    scale=st.sampled_from([0.0, 1.0, 40.0]),
)
def test_contract_with_arbitrary_priors(n, k, cuts, seed, scale):
    rng = np.random.default_rng(seed)
    starts = sorted({c for c in cuts if c < n})
    shot_ids = np.searchsorted(np.asarray(starts, dtype=int), np.arange(n), side="right").astype(np.int32)
    prior = VisualPrior(
        shot_ids=shot_ids,
        novelty=rng.random(n).astype(np.float32),
        cut_scores=np.zeros(n, np.float32),
        thumbs=rng.integers(0, 3, size=(n, 9, 16, 3)).astype(np.uint8) * int(scale),
    )
    scores = rng.normal(size=n)
    t = np.cumsum(rng.random(n)) if n > 1 else np.zeros(1)
    for policy in ("coverage", "gated"):
        out = select_frames(scores, t, min(k, n), policy=policy, prior=prior)
        assert out.dtype == np.int64 and out.size == min(k, n)
        assert np.all(np.diff(out) > 0) and out[0] >= 0 and out[-1] < n


def test_prominence_separates_a_needle_from_noise_and_ties():
    rng = np.random.default_rng(3)
    noise = rng.normal(size=600)
    assert prominence(noise) < FLAT_Z
    needle = noise.copy()
    needle[200:204] += 8.0
    assert prominence(needle) > PEAK_Z
    tied = np.r_[np.zeros(300), rng.normal(0.5, 0.1, 300)]  # half the frames have no context: equal scores
    assert prominence(tied) < FLAT_Z
    short = rng.normal(size=120)  # a 2-minute video: a 6-frame needle is 5 % of it, and must not drag its own bar
    short[50:56] += 10.0
    assert prominence(short) > PEAK_Z
    assert prominence(np.full(10, 3.0)) == 0.0
    with pytest.raises(InputError):
        prominence(np.array([np.nan, 1.0]))


def _events_video():
    """3 shots of 60 s; a brief event (novel) in each; scores for flat, partly textual and textual questions."""
    looks = [_look(30)] * 60 + [_look(120)] * 60 + [_look(210)] * 60
    nov = np.zeros(180)
    for e in (20, 95, 150):
        nov[e : e + 3] = 1.0
        for i in range(e, e + 3):
            looks[i] = looks[i].copy()
            looks[i][2:6, 5:10] = 255 - looks[i][2:6, 5:10]  # an object appears
    shot_ids = np.repeat(np.arange(3, dtype=np.int32), 60)
    return _prior_from_looks(looks, novelty=nov, shot_ids=shot_ids), np.arange(180.0)


def test_gated_uses_coverage_on_a_flat_profile_and_nms_on_a_peaked_one():
    prior, t = _events_video()
    rng = np.random.default_rng(5)
    flat = rng.normal(size=180)
    assert prominence(flat) < FLAT_Z
    picks = gated(flat, t, 3, prior=prior)
    assert picks.tolist() == [20, 95, 150]  # the events, not uniform sampling
    assert gated(flat, t, 3).tolist() == [0, 89, 179]  # without the prior: uniform, as before
    peaked = flat.copy()
    peaked[60:63] += 30.0
    assert prominence(peaked) >= PEAK_Z
    assert gated(peaked, t, 3, prior=prior).tolist() == gated(peaked, t, 3).tolist()  # nms either way
    assert _hit(gated(peaked, t, 3, prior=prior), 60, 63)


def test_gated_mixes_relevance_and_coverage_on_a_partly_textual_profile():
    prior, t = _events_video()
    rng = np.random.default_rng(6)
    s = rng.normal(size=180)
    s[170:173] += 6.0  # a modest text match
    z = prominence(s)
    assert FLAT_Z <= z < PEAK_Z, z
    picks = gated(s, t, 4, prior=prior, relevance_share=0.25)
    assert _hit(picks, 170, 173)  # the relevance frame
    assert sum(_hit(picks, e, e + 3) for e in (20, 95, 150)) == 3  # and coverage for the rest
    assert gated(s, t, 4, prior=prior, relevance_share=1.0).tolist() == select_frames(
        s, t, 4, policy="nms", min_gap=(t[-1] - t[0]) / 16
    ).tolist()
    mixed = relevance_and_coverage(s, t, 4, prior=prior, relevance_share=0.0)
    assert mixed.tolist() == coverage(s, t, 4, prior=prior).tolist()
    with pytest.raises(InputError):
        gated(s, t, 4, prior=prior, flat_z=PEAK_Z + 1, peak_z=PEAK_Z)


@pytest.mark.slow
def test_coverage_on_a_rendered_video_catches_brief_events_that_uniform_misses():
    from clamr_frames.synth.render import SyntheticScene

    sc = SyntheticScene(seed=11, duration=300.0, needles_per_kind=3, kinds=("ocr", "vision"))
    ts = np.arange(0.0, sc.duration, 1.0)
    prior = compute_prior(ts, [sc.render_frame(x) for x in ts])
    k = prior.num_shots + 6
    picks = coverage(np.zeros(len(ts)), ts, k, prior=prior)
    uni = select_frames(np.zeros(len(ts)), ts, k, policy="uniform")

    def found(idx):
        return sum(bool(np.any((ts[idx] >= nd.start) & (ts[idx] < nd.end))) for nd in sc.needles)

    assert found(picks) >= len(sc.needles) - 1 > found(uni)


def test_gated_keeps_one_frame_of_eight_for_the_best_score_on_a_flat_profile():
    prior, t = _events_video()
    flat = np.random.default_rng(5).normal(size=180)
    best = int(np.argmax(flat))
    assert prominence(flat) < FLAT_Z
    picks = gated(flat, t, 8, prior=prior)
    assert best in picks.tolist() and len(set(picks.tolist())) == 8
    only_cov = gated(flat, t, 8, prior=prior, flat_share=0.0)
    assert only_cov.tolist() == coverage(flat, t, 8, prior=prior).tolist()
    assert len(set(picks.tolist()) & set(only_cov.tolist())) == 7  # one coverage frame gave way
    # below 8 frames the share rounds down to none: every frame goes to coverage
    assert gated(flat, t, 7, prior=prior).tolist() == coverage(flat, t, 7, prior=prior).tolist()
    with pytest.raises(InputError, match="flat_share"):
        gated(flat, t, 8, prior=prior, flat_share=1.5)


def test_prominence_sees_an_answer_that_fills_a_sixth_of_a_short_video():
    """A 7-s spoken answer on a 40-s video: with only the best 3 frames left out of the bulk, the other answer
    frames raised its spread and the profile read as flat (the case that made gated miss it)."""
    from clamr_frames.select.profile import prominence

    s = np.random.default_rng(3).normal(0.0, 0.05, size=40) + 0.2
    s[31:38] = 0.8 + np.random.default_rng(4).normal(0.0, 0.02, size=7)
    assert prominence(s, min_top=0) < FLAT_Z <= prominence(s)
    # noise stays flat on short profiles too (min_top is capped at a quarter of the frames)
    for n in (12, 20, 40, 76):
        assert max(prominence(np.random.default_rng(i).normal(size=n)) for i in range(100)) < FLAT_Z
