"""The CLaMR notebook's prompt, written out from its text (independent of qa_harness), and the Video-MME fixture
document's constants, for the harness tests (tests/harness/conftest.py builds the document)."""

from __future__ import annotations

VMME_SECONDS = 60  # the fixture video: 60 s at 2 fps (120 native frames), one subtitle line a second
VMME_OPTIONS = ["A. the red kite", "B. the blue boat", "C. the green door", "D. the grey wall"]


def notebook_prompt(question, options, subtitles):
    """The CLaMR notebook's get_text_prompt_with_subtitles, as its text reads (subtitles already joined)."""
    return (
        "This video's subtitles are listed below:\n" + subtitles + "\n"
        "Select the best answer to the following multiple-choice question based on the video. "
        "Respond with only the letter (A, B, C, or D) of the correct option.\n"
        + question + "\n" + "\n".join(options) + "\nThe best answer is:"
    )


def block_lines(prompt: str) -> list[str]:
    """The lines of a prompt's subtitle block."""
    from qa_harness.subtitles import split_subtitle_block

    return split_subtitle_block(prompt)[1].splitlines()
