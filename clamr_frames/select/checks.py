"""Input checks shared by every policy and :func:`~clamr_frames.select.select_frames`.

The common arguments (``scores``, ``timestamps``, ``k``) and the policies' knobs are checked here, once, so a
bad input raises the same :class:`~clamr_frames.errors.InputError` whichever policy it reaches.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from clamr_frames.errors import InputError

__all__ = ["as_inputs", "checked_policy", "describe_bad", "finite_knob", "int_knob"]


def as_inputs(scores: Any, timestamps: Any, k: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Coerce and check the three common arguments (shared by the policies and ``select_frames``)."""
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"scores must be a 1-D array of numbers: {e}") from None
    if s.ndim != 1:
        raise InputError(f"scores must be 1-D (one score per candidate frame), got shape {s.shape}")
    n = s.shape[0]
    if n == 0:
        raise InputError("scores is empty: there are no candidate frames to select from")
    if timestamps is None:
        t = np.arange(n, dtype=np.float64)
    else:
        try:
            t = np.asarray(timestamps, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InputError(f"timestamps must be a 1-D array of seconds: {e}") from None
        if t.ndim != 1 or t.shape[0] != n:
            raise InputError(
                f"scores and timestamps must be 1-D arrays of the same length, got shapes {s.shape} and {t.shape}"
            )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k must be a positive integer, got {k!r}")
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    bad = ~np.isfinite(s)
    if bad.any():
        raise InputError(f"scores contain {describe_bad(s, bad)}; every candidate needs a finite score")
    bad_t = ~np.isfinite(t)
    if bad_t.any():
        raise InputError(f"timestamps contain {describe_bad(t, bad_t)}")
    if n > 1 and np.any(np.diff(t) < 0):
        first = int(np.flatnonzero(np.diff(t) < 0)[0])
        raise InputError(
            "timestamps must be in time order (non-decreasing): "
            f"t[{first}]={t[first]:g} > t[{first + 1}]={t[first + 1]:g}"
        )
    return s, t, int(k)


def describe_bad(x: np.ndarray, bad: np.ndarray, show: int = 8) -> str:
    where = np.flatnonzero(bad)
    n_nan = int(np.isnan(x).sum())
    n_inf = len(where) - n_nan
    kinds = ", ".join(p for p in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} infinite" if n_inf else "") if p)
    pos = ", ".join(str(int(i)) for i in where[:show]) + (", ..." if len(where) > show else "")
    return f"{len(where)} non-finite value(s) of {x.shape[0]} ({kinds}) at index {pos}"


def finite_knob(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {value!r}")
    if low is not None and (v < low or (low_open and v == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {v:g}")
    if high is not None and v > high:
        raise InputError(f"{name} must be <= {high:g}, got {v:g}")
    return v


def int_knob(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def checked_policy(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Decorate a selection policy ``fn(scores, timestamps, k, *, seed=0, ...)`` with the checks every policy makes.

    The three common arguments are coerced and checked (:func:`as_inputs`) before ``fn`` runs, and ``fn`` gets
    them checked (``scores``: float64 ``[n]``; ``timestamps``: float64 ``[n]``, ``0..n-1`` when None). When
    ``k >= n`` every candidate is the answer of every policy, so it is returned without running ``fn`` (its
    knobs are still bound, so an unknown one is a ``TypeError`` as before). The signature and docstring are
    ``fn``'s.

    >>> @checked_policy
    ... def first(scores, timestamps, k, *, seed=0):
    ...     return np.arange(k, dtype=np.int64)
    >>> first([0.5, 0.1, 0.9], None, 2), first([0.5, 0.1, 0.9], None, 5)
    (array([0, 1]), array([0, 1, 2]))
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def run(scores: Any, timestamps: Any, k: Any, **knobs: Any) -> np.ndarray:
        signature.bind(scores, timestamps, k, **knobs)  # an unknown knob fails first, as in a plain call
        s, t, k = as_inputs(scores, timestamps, k)
        if k >= s.size:
            return np.arange(s.size, dtype=np.int64)  # every candidate (profile.all_indices)
        return fn(s, t, k, **knobs)

    return run
