"""The select stage: a policy turns per-frame scores into ``k`` frames, always returned in temporal order.

It sees only scores and timestamps (no video, no model). Use :func:`select_frames` (validates the input
and looks the policy up by name) or call a policy from :data:`POLICIES` directly. Names are the same in
Python, the CLI (``--policy``) and the lmms-eval model args: ``topk``, ``nms``, ``adaptive``,
``inverse-transform``, ``hybrid``, ``uniform``, ``gated``, ``coverage``, and the exact reproductions of the
published selectors ``aks`` and ``bolt``.

Every policy returns ``k`` indices sorted by time. They are distinct, except from a policy that declares
``repeats = True`` (the built-in one is ``bolt``, which shows a frame once per CDF target that lands on it,
as BOLT's released code does): its indices may repeat, and a ``Selection`` built from them repeats the
frame as often.

``coverage`` (and ``gated``, when a profile is flat) also reads the video's visual prior — shots and novelty
from :mod:`clamr_frames.context.shots`, stored with the index — given as the knob ``prior``;
:func:`takes_prior` says which policies accept it (``FrameSelector`` passes the index's to those).

>>> import numpy as np
>>> scores = np.array([0.1, 0.2, 0.9, 0.8, 0.1, 0.1, 0.7, 0.1])
>>> select_frames(scores, np.arange(8.0), 3)
array([2, 3, 6])
>>> select_frames(scores, np.arange(8.0), 3, policy="uniform")
array([0, 3, 7])
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from clamr_frames.errors import ClamrFramesError, InputError
from clamr_frames.select.checks import as_inputs
from clamr_frames.select.coverage import coverage, relevance_and_coverage
from clamr_frames.select.gated import gated
from clamr_frames.select.policies import adaptive, hybrid, inverse_transform, nms, topk, uniform
from clamr_frames.select.profile import peakiness, prominence
from clamr_frames.select.published import aks, bolt

__all__ = [
    "POLICIES",
    "Policy",
    "adaptive",
    "aks",
    "bolt",
    "coverage",
    "gated",
    "get_policy",
    "hybrid",
    "inverse_transform",
    "nms",
    "peakiness",
    "prominence",
    "register_policy",
    "relevance_and_coverage",
    "select_frames",
    "takes_prior",
    "topk",
    "uniform",
]

Policy = Callable[..., np.ndarray]
"""``policy(scores[n], timestamps[n], k, *, seed=0, **knobs) -> int64 indices`` (sorted; distinct unless the
policy has the attribute ``repeats = True``)."""

POLICIES: dict[str, Policy] = {
    "topk": topk,
    "nms": nms,
    "adaptive": adaptive,
    "inverse-transform": inverse_transform,
    "hybrid": hybrid,
    "uniform": uniform,
    "gated": gated,
    "aks": aks,
    "bolt": bolt,
    "coverage": coverage,
}


def _canonical(name: str) -> str:
    # "inverse_transform" / "Inverse-Transform" are the same policy; CLI and lmms-eval args vary in style.
    return name.strip().lower().replace("_", "-")


def get_policy(name: str) -> Policy:
    """The policy registered under ``name`` (case and ``_``/``-`` insensitive).

    Raises:
        InputError: unknown name; the message lists the valid ones.

    >>> get_policy("inverse_transform").__name__
    'inverse_transform'
    >>> get_policy("best")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    clamr_frames.errors.InputError: unknown selection policy 'best'; valid policies: adaptive, aks, bolt, ...
    """
    if not isinstance(name, str) or _canonical(name) not in POLICIES:
        raise InputError(f"unknown selection policy {name!r}; valid policies: {', '.join(sorted(POLICIES))}")
    return POLICIES[_canonical(name)]


def register_policy(name: str, policy: Policy, *, overwrite: bool = False) -> None:
    """Add a policy under ``name`` so ``select_frames``, the CLI and the harness can use it.

    The policy must follow the common signature and return ``k`` in-range indices, distinct unless the
    callable has the attribute ``repeats = True`` (:func:`select_frames` checks and sorts them).

    >>> register_policy("first", lambda s, t, k, *, seed=0: np.arange(k))
    >>> select_frames(np.zeros(5), None, 2, policy="first")
    array([0, 1])
    >>> del POLICIES["first"]
    """
    key = _canonical(name)
    if not key:
        raise InputError("policy name is empty")
    if key in POLICIES and not overwrite:
        raise InputError(f"a selection policy named {key!r} exists already (pass overwrite=True to replace it)")
    if not callable(policy):
        raise InputError(f"policy {name!r} is not callable")
    POLICIES[key] = policy


def takes_prior(name: str) -> bool:
    """Whether the policy registered under ``name`` accepts the visual prior (a keyword-only ``prior`` knob).

    >>> takes_prior("coverage"), takes_prior("gated"), takes_prior("topk")
    (True, True, False)
    """
    try:
        params = inspect.signature(get_policy(name)).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    p = params.get("prior")
    return p is not None and p.kind is inspect.Parameter.KEYWORD_ONLY


def _check_knobs(name: str, policy: Policy, knobs: dict[str, Any]) -> None:
    """Reject knobs the policy does not take, instead of letting them be silently ignored or a TypeError."""
    if not knobs:
        return
    try:
        params = inspect.signature(policy).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [p.name for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"]
    unknown = sorted(set(knobs) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no knobs"
        raise InputError(f"selection policy {name!r} does not take {', '.join(map(repr, unknown))}; it takes: {takes}")


def select_frames(
    scores: np.ndarray,
    timestamps: np.ndarray | None,
    k: int,
    policy: str = "topk",
    seed: int = 0,
    **knobs: Any,
) -> np.ndarray:
    """Pick ``k`` candidate frames by ``policy``; returns int64 indices into the candidates, ascending (time order).

    Args:
        scores: [n] one finite score per candidate frame.
        timestamps: [n] seconds, non-decreasing (candidates in time order); ``None`` means 0, 1, 2, ... s.
        k: number of frames, >= 1. ``k >= n`` returns all ``n`` indices (with a warning when ``k > n``).
        policy: a name in :data:`POLICIES`.
        seed: for policies with randomness (the built-in ones are deterministic).
        **knobs: policy-specific settings (``min_gap`` for ``nms``, ``depth``/``threshold`` for
            ``adaptive`` and ``aks``, ``alpha`` for ``inverse-transform`` and ``bolt``, ``uniform_share`` for
            ``hybrid``, ``gate``/``min_gap``/``flat_z``/``peak_z``/``relevance_share`` for ``gated``,
            ``near_duplicate`` for ``coverage``; ``prior`` — the video's visual prior — for ``coverage`` and
            ``gated``).

    Returns:
        ``k`` indices (all ``n`` when ``k >= n``), ascending; distinct unless the policy declares
        ``repeats`` (``bolt``), whose repeated indices come back repeated.

    Raises:
        InputError: mismatched or non-1-D arrays, no candidates, non-finite scores or timestamps,
            timestamps out of order, ``k < 1`` or not an integer, an unknown policy or knob.

    >>> select_frames(np.array([0.2, 0.9, 0.1]), None, 1)
    array([1])
    >>> select_frames(np.array([0.2, np.nan, 0.1]), None, 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    clamr_frames.errors.InputError: scores contain 1 non-finite value(s) of 3 (1 NaN) at index 1; ...
    """
    fn = get_policy(policy)
    name = _canonical(policy)
    _check_knobs(name, fn, knobs)
    s, t, k = as_inputs(scores, timestamps, k)
    n = s.size
    if k >= n:
        if k > n:
            warnings.warn(f"k={k} is more than the {n} candidate frames; returning all {n}", stacklevel=2)
        return np.arange(n, dtype=np.int64)
    out = np.asarray(fn(s, t, k, seed=seed, **knobs))
    if out.ndim != 1 or not np.issubdtype(out.dtype, np.integer):
        raise ClamrFramesError(f"selection policy {name!r} returned {out.dtype} of shape {out.shape}, not 1-D integers")
    out = np.sort(out.astype(np.int64))
    repeats = bool(getattr(fn, "repeats", False))
    if out.size != k or (out.size and (out[0] < 0 or out[-1] >= n)) or (not repeats and np.any(np.diff(out) == 0)):
        kind = "indices" if repeats else "distinct indices"
        raise ClamrFramesError(
            f"selection policy {name!r} broke its contract: wanted {k} {kind} in [0, {n}), got {out.tolist()[:20]}"
        )
    return out


def policy_table() -> str:
    """A Markdown table of the registered policies: name, knobs with their defaults, and what each does (the first
    line of its docstring). The docs' policies page is generated from it, so it cannot drift from the code.

    >>> print(policy_table().splitlines()[2])  # doctest: +ELLIPSIS
    | `topk` | – | The `k` highest-scoring candidates, in time order; ties go to the earlier frame. |
    """
    rows = ["| policy | knobs (default) | what it does |", "|---|---|---|"]
    for name, fn in POLICIES.items():
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            params = []
        knobs = [
            f"`{p.name}`" + ("" if p.default is inspect.Parameter.empty else f" ({p.default!r})")
            for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"
        ]
        doc = (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
        doc = re.sub(r":\w+:`~?(?:[\w.]+\.)?([^`.]+)`", r"`\1`", doc).replace("``", "`")  # reST roles → Markdown
        rows.append(f"| `{name}` | {', '.join(knobs) or '–'} | {doc} |")
    return "\n".join(rows)

