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

The block uses lmms-eval's Video-MME wording (``"This video's subtitles are listed below: \\n" + lines + "\\n"``
before the instructions). If the task's prompt already holds such a block (lmms-eval's ``videomme_long`` puts the
lines of 32 *uniformly* sampled frames there) its content is replaced, so the answering model never sees lines
chosen by a sampling other than the selector's.

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

#: lmms-eval's Video-MME subtitle header (``tasks/videomme/utils.py``), trailing space included.
SUBTITLE_HEADER = "This video's subtitles are listed below: \n"
#: What lmms-eval writes when a video has no subtitle file.
NO_SUBTITLES = "No subtitles available"
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


def split_subtitle_block(prompt: str) -> tuple[str, str | None, str]:
    """Split a prompt into (text before the block, the block's lines or None, text after the block).

    The block starts at :data:`SUBTITLE_HEADER` and ends at the last line that starts an instruction
    (``Select the best answer to the following ...`` / ``Question: ``); with no such line, at the end of the
    prompt's first paragraph after the header is *not* guessed: the prompt is treated as having no block.
    """
    start = prompt.find(SUBTITLE_HEADER)
    if start < 0:
        return prompt, None, ""
    body_start = start + len(SUBTITLE_HEADER)
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


def apply_subtitles(prompt: str, lines: Sequence[str] | None, policy: str) -> str:
    """The prompt with its subtitle block set to ``lines`` per ``policy``.

    Args:
        prompt: the task's rendered prompt.
        lines: the subtitle lines to show (already chosen for the policy), or None when the video has no
            subtitle file (shown as lmms-eval's "No subtitles available").
        policy: see the module doc.
    """
    p = resolve_policy(policy, prompt)
    before, body, after = split_subtitle_block(prompt)
    if p == "none":
        return prompt if body is None else before + after
    text = NO_SUBTITLES if lines is None else "\n".join(lines)
    block = SUBTITLE_HEADER + text + "\n"
    if body is None:
        return block + prompt
    return before + block + after


def lines_for_policy(cues: Any, timestamps: Iterable[float], policy: str) -> list[str] | None:
    """Subtitle text lines for a resolved policy (``selected`` / ``all``; ``none`` gives []).

    Args:
        cues: a ``Subtitles`` object, a list of ``Cue``, or None (the video has no subtitles → None).
        timestamps: seconds of the selected frames.
        policy: ``none``, ``selected`` or ``all``.
    """
    from clamr_frames.context.subtitles import clean_text, lines_for_timestamps

    p = check_policy(policy)
    if p == "auto":
        raise InputError("lines_for_policy needs a resolved policy (use resolve_policy first)")
    if p == "none":
        return []
    if cues is None:
        return None
    cue_list = list(getattr(cues, "cues", cues))
    chosen = cue_list if p == "all" else lines_for_timestamps(cue_list, list(timestamps))
    return [t for t in (clean_text(c.text) for c in chosen) if t]


__all__ = [
    "NO_SUBTITLES",
    "SUBTITLE_HEADER",
    "SUBTITLE_POLICIES",
    "apply_subtitles",
    "check_policy",
    "has_subtitle_block",
    "lines_for_policy",
    "resolve_policy",
    "split_subtitle_block",
]
