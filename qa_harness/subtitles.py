"""Subtitle policies: which subtitle lines the answering model sees, and where they go in the prompt.

Policies (the ``subtitles`` model arg):

``none``
    no subtitles; a subtitle block already in the task's prompt is removed.
``selected``
    the lines on screen at the selected frames (each once, in time order), as lmms-eval's Video-MME task
    picks lines for its own uniformly sampled frames.
``all``
    every line of the video.
``auto`` (default)
    ``selected`` when the task's prompt carries a subtitle block (Video-MME ``*_w_subtitle`` style), else
    ``none``.

Formats of the block (the ``subtitle_format`` model arg; ``auto``, the default, keeps the format of the block the
task's prompt holds, and uses ``lmms-eval`` when it inserts a block into a prompt that has none):

``lmms-eval``
    lmms-eval's Video-MME wording: ``"This video's subtitles are listed below: \\n"`` (a space before the
    newline), each line once, joined by newlines, then ``"\\n"`` before the instructions; a video without a
    subtitle file reads ``"No subtitles available"``. Lines are in time order; lmms-eval's own task collects
    the cue indices in ``list(set(...))``, which for long videos scrambles their order (a set of ints iterates
    in hash-table order), so the order here deliberately differs from lmms-eval's for such videos.
``clamr-notebook``
    the CLaMR repository's Video-MME notebook (``qwen_videomme_baseline.ipynb``): ``"This video's subtitles are
    listed below:\\n"`` (no space), then **one line per frame shown** (the cue on screen at that frame, so a
    line repeats when it spans several frames, as the notebook's one-line-per-frame ``subtitles.txt`` does)
    concatenated **without a separator**, ``"N/A"`` when that is empty. Under ``all`` the frames are every
    candidate (the notebook's 768), under ``selected`` the selected ones.

If the task's prompt already holds a block (lmms-eval's ``videomme_long`` puts the lines of 32 *uniformly*
sampled frames there) its content is replaced, so the answering model never sees lines chosen by a sampling
other than the selector's.

>>> p = "This video's subtitles are listed below: \\nold line\\nSelect the best answer to the following question.\\nQ?"
>>> apply_subtitles(p, ["new line"], "auto")
"This video's subtitles are listed below: \\nnew line\\nSelect the best answer to the following question.\\nQ?"
>>> apply_subtitles(p, ["new line"], "none")
'Select the best answer to the following question.\\nQ?'
>>> apply_subtitles("Q?", ["a", "b"], "selected")
"This video's subtitles are listed below: \\na\\nb\\nQ?"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from clamr_frames.errors import InputError

SUBTITLE_POLICIES = ("auto", "none", "selected", "all")
#: Block formats (see the module doc); ``auto`` follows the task's prompt.
SUBTITLE_FORMATS = ("auto", "lmms-eval", "clamr-notebook")

#: lmms-eval's Video-MME subtitle header (``tasks/videomme/utils.py``), trailing space included.
SUBTITLE_HEADER = "This video's subtitles are listed below: \n"
#: What lmms-eval writes when a video has no subtitle file.
NO_SUBTITLES = "No subtitles available"
#: The CLaMR notebook's header (``get_text_prompt_with_subtitles``): no space before the newline.
NOTEBOOK_SUBTITLE_HEADER = "This video's subtitles are listed below:\n"
#: What the CLaMR notebook writes when no frame has a subtitle line.
NOTEBOOK_NO_SUBTITLES = "N/A"
_HEADERS = {"lmms-eval": SUBTITLE_HEADER, "clamr-notebook": NOTEBOOK_SUBTITLE_HEADER}
#: Lines that start the instructions after a subtitle block (lmms-eval's default and qwen3_vl formats, ours).
_INSTRUCTION_STARTS = (
    "Select the best answer to the following",
    "Question: ",
)


def check_policy(policy: str) -> str:
    """Validate a subtitle policy name (returns it lower-cased)."""
    p = str(policy).strip().lower()
    if p not in SUBTITLE_POLICIES:
        raise InputError(f"subtitles must be one of {', '.join(SUBTITLE_POLICIES)}, got {policy!r}")
    return p


def check_format(fmt: str) -> str:
    """Validate a subtitle block format name (returns it lower-cased)."""
    f = str(fmt).strip().lower()
    if f not in SUBTITLE_FORMATS:
        raise InputError(f"subtitle_format must be one of {', '.join(SUBTITLE_FORMATS)}, got {fmt!r}")
    return f


def _find_header(prompt: str) -> tuple[int, str | None]:
    """(position, format) of the first subtitle header in ``prompt``, or (-1, None)."""
    found = [(prompt.find(h), name) for name, h in _HEADERS.items()]
    found = [(i, name) for i, name in found if i >= 0]
    return min(found) if found else (-1, None)


def block_format(prompt: str) -> str | None:
    """The format of the prompt's subtitle block (``lmms-eval`` / ``clamr-notebook``), or None without one.

    >>> block_format("This video's subtitles are listed below:\\nhi\\nSelect the best answer to the following.")
    'clamr-notebook'
    """
    if split_subtitle_block(prompt)[1] is None:
        return None
    return _find_header(prompt)[1]


def resolve_format(fmt: str, prompt: str) -> str:
    """The effective block format for one prompt (``auto`` → the prompt's block's, else ``lmms-eval``)."""
    f = check_format(fmt)
    if f == "auto":
        return block_format(prompt) or "lmms-eval"
    return f


def split_subtitle_block(prompt: str) -> tuple[str, str | None, str]:
    """Split a prompt into (text before the block, the block's lines or None, text after the block).

    The block starts at a subtitle header (:data:`SUBTITLE_HEADER` or :data:`NOTEBOOK_SUBTITLE_HEADER`) and
    ends at the last line that starts an instruction (``Select the best answer to the following ...`` /
    ``Question: ``); with no such line, at the end of the prompt's first paragraph after the header is *not*
    guessed: the prompt is treated as having no block.
    """
    start, fmt = _find_header(prompt)
    if fmt is None:
        return prompt, None, ""
    body_start = start + len(_HEADERS[fmt])
    end = -1
    for marker in _INSTRUCTION_STARTS:
        i = prompt.rfind("\n" + marker, body_start - 1)
        end = max(end, i)
    if end < body_start - 1:
        return prompt, None, ""
    body = prompt[body_start:end] if end >= body_start else ""
    return prompt[:start], body, prompt[end + 1 :]


def has_subtitle_block(prompt: str) -> bool:
    """Whether the prompt carries a Video-MME style subtitle block."""
    return split_subtitle_block(prompt)[1] is not None


def resolve_policy(policy: str, prompt: str) -> str:
    """The effective policy for one prompt (``auto`` → ``selected`` or ``none``)."""
    p = check_policy(policy)
    if p == "auto":
        return "selected" if has_subtitle_block(prompt) else "none"
    return p


def subtitle_block(lines: Sequence[str] | None, fmt: str = "lmms-eval") -> str:
    """A subtitle block (header, text, trailing newline) in format ``fmt``.

    >>> subtitle_block(["Hi.", "Bye."])
    "This video's subtitles are listed below: \\nHi.\\nBye.\\n"
    >>> subtitle_block(["Hi.", "", "Hi.", "Bye."], "clamr-notebook")
    "This video's subtitles are listed below:\\nHi.Hi.Bye.\\n"
    >>> subtitle_block(None, "clamr-notebook")
    "This video's subtitles are listed below:\\nN/A\\n"
    """
    f = check_format(fmt)
    if f == "clamr-notebook":
        text = "".join(line for line in (lines or []) if line) or NOTEBOOK_NO_SUBTITLES
        return NOTEBOOK_SUBTITLE_HEADER + text + "\n"
    if f != "lmms-eval":
        raise InputError("subtitle_block needs a resolved format (use resolve_format first)")
    return SUBTITLE_HEADER + (NO_SUBTITLES if lines is None else "\n".join(lines)) + "\n"


def apply_subtitles(prompt: str, lines: Sequence[str] | None, policy: str, fmt: str = "auto") -> str:
    """The prompt with its subtitle block set to ``lines`` per ``policy``.

    Args:
        prompt: the task's rendered prompt.
        lines: the subtitle lines to show (already chosen for the policy and format), or None when the video has
            no subtitle file (shown as lmms-eval's "No subtitles available", or the notebook's "N/A").
        policy: see the module doc.
        fmt: block format (``auto``: the prompt's block's, else ``lmms-eval``).
    """
    p = resolve_policy(policy, prompt)
    before, body, after = split_subtitle_block(prompt)
    if p == "none":
        return prompt if body is None else before + after
    block = subtitle_block(lines, resolve_format(fmt, prompt))
    if body is None:
        return block + prompt
    return before + block + after


def frame_lines(cues: Any, timestamps: Iterable[float]) -> list[str]:
    """One subtitle line per frame: the text of the cue(s) on screen at each timestamp ("" for none).

    Repeats are kept (a cue spanning two frames gives two equal lines), as the CLaMR notebook's
    one-line-per-frame ``subtitles.txt``; cues overlapping one instant are joined with a space.

    >>> from clamr_frames.context.subtitles import Cue
    >>> frame_lines([Cue(0, 3, "hello"), Cue(5, 6, "bye")], [1.0, 2.0, 4.0, 5.5])
    ['hello', 'hello', '', 'bye']
    """
    from clamr_frames.context.subtitles import ContextWindow, clean_text

    w = ContextWindow(list(getattr(cues, "cues", cues)))
    out = []
    for t in timestamps:
        texts = (clean_text(c.text) for c in w.overlapping(float(t), float(t)))
        out.append(" ".join(x for x in texts if x))
    return out


def lines_for_policy(
    cues: Any,
    timestamps: Iterable[float],
    policy: str,
    *,
    per_frame: bool = False,
    all_timestamps: Iterable[float] | None = None,
) -> list[str] | None:
    """Subtitle text lines for a resolved policy (``selected`` / ``all``; ``none`` gives []).

    Args:
        cues: a ``Subtitles`` object, a list of ``Cue``, or None (the video has no subtitles → None).
        timestamps: seconds of the selected frames.
        policy: ``none``, ``selected`` or ``all``.
        per_frame: one line per frame (:func:`frame_lines`, the ``clamr-notebook`` format) instead of each
            cue once in time order; ``all`` then means every frame of ``all_timestamps`` (required).
    """
    from clamr_frames.context.subtitles import clean_text, lines_for_timestamps

    p = check_policy(policy)
    if p == "auto":
        raise InputError("lines_for_policy needs a resolved policy (use resolve_policy first)")
    if p == "none":
        return []
    if cues is None:
        return None
    if per_frame:
        if p == "all" and all_timestamps is None:
            raise InputError("lines_for_policy(per_frame=True) with policy 'all' needs all_timestamps")
        return frame_lines(cues, all_timestamps if p == "all" else timestamps)
    cue_list = list(getattr(cues, "cues", cues))
    chosen = cue_list if p == "all" else lines_for_timestamps(cue_list, list(timestamps))
    return [t for t in (clean_text(c.text) for c in chosen) if t]


__all__ = [
    "NOTEBOOK_NO_SUBTITLES",
    "NOTEBOOK_SUBTITLE_HEADER",
    "NO_SUBTITLES",
    "SUBTITLE_FORMATS",
    "SUBTITLE_HEADER",
    "SUBTITLE_POLICIES",
    "apply_subtitles",
    "block_format",
    "check_format",
    "check_policy",
    "frame_lines",
    "has_subtitle_block",
    "lines_for_policy",
    "resolve_format",
    "resolve_policy",
    "split_subtitle_block",
    "subtitle_block",
]
