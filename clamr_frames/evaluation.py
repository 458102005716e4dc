"""Frame-recall metrics against ground-truth time spans (synthetic needles, evidence annotations), and the word
error rate of a transcript."""

from __future__ import annotations

import re
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


# British spellings of words the synthetic narration uses, and Whisper's habits, mapped to one form, as the
# usual WER normalisers do (Whisper's English normaliser maps British to American spelling).
_SPELLING = {
    "colour": "color", "colours": "colors", "favourite": "favorite", "flavour": "flavor", "harbour": "harbor",
    "neighbour": "neighbor", "neighbours": "neighbors", "jeweller": "jeweler", "programme": "program",
    "theatre": "theater", "centre": "center", "ok": "okay", "mr": "mister", "mrs": "missus",
}


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation, British spellings mapped to American (for word error rates).

    >>> normalize_words("The harbour-master said: OK, it's 42!")
    ['the', 'harbor', 'master', 'said', 'okay', "it's", '42']
    """
    words = re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))
    return [_SPELLING.get(w, w) for w in (w.strip("'") for w in words) if w]


def word_error_rate(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) between two texts after :func:`normalize_words`: substitutions + deletions
    + insertions of a minimum edit. Sum both over a corpus and divide for its WER.

    >>> word_error_rate("the cat sat on the mat", "the cat sat on a mat")
    (1, 6)
    """
    r, h = normalize_words(reference), normalize_words(hypothesis)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
    return d[len(h)], len(r)
