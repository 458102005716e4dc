"""Frame-recall metrics against ground-truth time spans (synthetic needles, evidence annotations)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def hits_span(timestamps: Sequence[float] | np.ndarray, start: float, end: float, tolerance: float = 0.0) -> bool:
    """True when a picked timestamp lies inside [start - tolerance, end + tolerance].

    >>> hits_span([3.0, 40.0], 39.5, 42.0)
    True
    >>> hits_span([3.0, 38.0], 39.5, 42.0)
    False
    """
    t = np.asarray(timestamps, dtype=np.float64)
    return bool(np.any((t >= start - tolerance) & (t <= end + tolerance)))


def recall(hits: Iterable[bool]) -> float:
    """Fraction of questions whose evidence was hit (NaN for no questions).

    >>> recall([True, False, True, True])
    0.75
    """
    h = list(hits)
    return float(np.mean(h)) if h else float("nan")
