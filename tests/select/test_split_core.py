"""``adaptive`` and ``aks`` share one judge-and-split core (clamr_frames.select.split), and their picks did not
change when the two loops became that one core."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from clamr_frames.select import adaptive, aks
from clamr_frames.select import split as split_mod
from clamr_frames.select.profile import minmax
from clamr_frames.select.split import judge_and_split

#: sha256 of the picks of adaptive and aks on the 400 profiles of _cases(), recorded with the two separate loops
#: the core replaced (commit 78dbfc2), before the refactor
RECORDED = "0887fa25d695844268744138ead83d254ea5d70ac75d689b6b2b725d260b6703"


def _cases():
    rng = np.random.default_rng(20261207)
    for i in range(400):
        n = int(rng.integers(2, 300))
        kind = i % 4
        if kind == 0:
            s = rng.normal(size=n)
        elif kind == 1:  # sparse needles over a flat floor
            s = np.zeros(n)
            s[rng.integers(0, n, size=max(1, n // 20))] = rng.uniform(0.5, 2.0)
        elif kind == 2:  # many ties
            s = np.round(rng.uniform(size=n), 1)
        else:  # constant
            s = np.full(n, 0.3)
        k = int(rng.integers(1, n + 1))
        depth = int(rng.integers(0, 7))
        thr = float(rng.choice([-1.0, 0.2, 0.4, 0.6, 0.8, 1.0]))
        peak_k = None if rng.uniform() < 0.5 else int(rng.integers(1, n + 1))
        yield s, k, depth, thr, peak_k


def test_adaptive_and_aks_pick_what_they_picked_before_the_shared_core():
    h = hashlib.sha256()
    for s, k, depth, thr, peak_k in _cases():
        a = adaptive(s, None, k, depth=depth, threshold=thr, peak_k=peak_k)
        b = aks(s, None, k, depth=depth, threshold=thr)
        h.update(a.astype("<i8").tobytes())
        h.update(b"|")
        h.update(b.astype("<i8").tobytes())
        h.update(b"#")
    assert h.hexdigest() == RECORDED


def test_fixed_profiles():
    s = np.zeros(16)
    s[[2, 3]] = 1.0
    assert aks(s, None, 4, depth=2, threshold=0.7).tolist() == [2, 4, 8, 12]
    assert adaptive(s, None, 4, depth=2, threshold=0.7).tolist() == [2, 3, 8, 12]
    assert aks(s, None, 3, depth=2, threshold=0.7).tolist() == [0, 7, 15]  # uniform fallback
    assert adaptive(s, None, 3, depth=2, threshold=0.7).tolist() == [2, 3, 8]
    ramp = np.linspace(0.0, 1.0, 64) ** 4
    assert adaptive(ramp, None, 8, depth=3, threshold=0.3).tolist() == [56, 57, 58, 59, 60, 61, 62, 63]


@pytest.mark.parametrize("policy", [adaptive, aks])
def test_both_policies_go_through_the_one_core(policy, monkeypatch):
    calls = []
    real = judge_and_split

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    # each policy module imported the core by name: patch it where it is looked up
    module = __import__(policy.__module__, fromlist=["judge_and_split"])
    monkeypatch.setattr(module, "judge_and_split", spy)
    s = np.random.default_rng(1).normal(size=100)
    assert policy(s, None, 8).size == 8
    assert len(calls) == 1 and calls[0]["max_depth"] == 5 and calls[0]["threshold"] == 0.8


def test_only_the_core_holds_a_split_loop():
    """The loop lives in split.py alone: neither policy module carries a copy of it."""
    import inspect

    from clamr_frames.select import policies, published

    for mod in (policies, published):
        src = inspect.getsource(mod)
        assert "stack.pop()" not in src and "np.partition(seg" not in src, mod.__name__
    assert "stack.pop()" in inspect.getsource(split_mod)


def test_core_rules():
    z = minmax(np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]))
    halve = lambda z, lo, mid, hi, b: (b // 2, b // 2)  # noqa: E731
    # peaked root: a leaf with its best 4 (ties to the earlier frame)
    assert judge_and_split(z, 4, max_depth=1, threshold=0.7, judge_top=lambda b: 2, divide=halve).tolist() == [0, 1, 2, 3]
    # not peaked: halved once, each half takes its best 2
    assert judge_and_split(z, 4, max_depth=1, threshold=0.8, judge_top=lambda b: 2, divide=halve).tolist() == [2, 3, 4, 5]
    # an early leaf takes the whole segment when its budget covers it
    out = judge_and_split(z, 8, max_depth=3, threshold=2.0, judge_top=lambda b: b, divide=halve,
                          early_leaf=lambda m, b: b >= m)
    assert out.tolist() == list(range(8))
    # zero budgets contribute nothing
    assert judge_and_split(z, 0, max_depth=2, threshold=0.0, judge_top=lambda b: 1, divide=halve).size == 0
