"""The one query format: a question and, optionally, its multiple-choice options → the text a scorer encodes.

Inference (:meth:`clamr_frames.FrameSelector.select` with ``options=``, and through it the lmms-eval harness)
and training (:func:`clamr_frames.train.builders.examples_from_qa` with ``options_key=``) both build their query
text here, so a scorer is queried at inference exactly as it was trained.

The format is the question, then :data:`OPTIONS_MARKER`, then one labelled option per line. The marker tells
:class:`~clamr_frames.encoders.clamr.ClamrEncoder` that the query carries options, so it applies its options
cap (``query_max_length_with_options``, 256 tokens) instead of the 64-token query cap of the reference
(``github.com/meetdavidwan/clamr``: ``query_max_length=64``). The reference had no options in its queries; with
Video-MME's four options of about 15 words the 64-token cap would cut the options (and, in the reference's
right truncation, the 10 ``<|endoftext|>`` augmentation tokens), so the larger cap is this project's choice.
"""

from __future__ import annotations

import re
from typing import Sequence

from clamr_frames.errors import InputError

#: Separates the question from its options; a query containing it gets the options cap.
OPTIONS_MARKER = "\nOptions:\n"
_OPTION_LABEL = re.compile(r"^\s*\(?[A-Za-z]\s*[.):]")
_WS = re.compile(r"\s+")


def build_query(question: str, options: Sequence[str] | None = None) -> str:
    """Format a question (and optional multiple-choice options) as one query text.

    Whitespace runs collapse to one space. Options get ``A.``, ``B.``, … labels unless they already carry one
    (Video-MME's ``"A. ..."``, ``"(B) ..."``). A query with options contains :data:`OPTIONS_MARKER`.

    Raises:
        InputError: the question is empty.

    >>> build_query("  What is on the   board? ")
    'What is on the board?'
    >>> print(build_query("Who wins?", ["the cat", "the dog"]))
    Who wins?
    Options:
    A. the cat
    B. the dog
    >>> build_query("Who wins?", ["A. cat", "B. dog"]).splitlines()[-1]
    'B. dog'
    """
    q = _WS.sub(" ", str(question)).strip()
    if not q:
        raise InputError("empty question")
    if not options:
        return q
    if isinstance(options, str):
        raise InputError("options must be a list of strings, got one string")
    lines = []
    for i, opt in enumerate(options):
        text = _WS.sub(" ", str(opt)).strip()
        if not _OPTION_LABEL.match(text):
            label = chr(ord("A") + i) if i < 26 else str(i + 1)
            text = f"{label}. {text}"
        lines.append(text)
    return q + OPTIONS_MARKER + "\n".join(lines)


def has_options(query: str) -> bool:
    """Whether ``query`` was built by :func:`build_query` with options (so it gets the options cap).

    >>> has_options(build_query("Who wins?", ["cat", "dog"])), has_options("Who wins? cat dog")
    (True, False)
    """
    return OPTIONS_MARKER in query.replace("\r\n", "\n")


__all__ = ["OPTIONS_MARKER", "build_query", "has_options"]
