"""Benchmark documents → what the frame selector needs: the question, its options, the video and its subtitles.

Pure Python (no lmms-eval): the schemas of Video-MME (``question`` + ``options`` as ``"A. ..."`` strings +
``answer`` letter), LongVideoBench (``question`` + ``option0..option4``, ``"N/A"`` for an absent option,
``correct_choice`` index, ``subtitle_path`` + ``starting_timestamp_for_subtitles``), common generic keys
(``options`` / ``choices`` / ``candidates`` as a list or a letter → text dict), and, as a last resort, the
prompt text itself (a question followed by ``"A. ..."`` lines).

>>> item = mcq_from_doc({"question": "Which city?", "options": ["A. Cairo", "B. Lima"], "answer": "B"})
>>> item.question, item.options, item.letters, item.answer
('Which city?', ['Cairo', 'Lima'], ['A', 'B'], 'B')
>>> mcq_from_doc({"question": "Q?", "option0": "x", "option1": "N/A", "option2": "y", "correct_choice": 1}).letters
['A', 'B']
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clamr_frames.errors import InputError

LETTERS = "ABCDEFGHIJ"
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")
SUBTITLE_EXTENSIONS = (".srt", ".vtt", ".json")

# "A. text", "(A) text", "A) text", "A: text" at the start of an option string or a prompt line.
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-J])\s*[\.\):]\s*(.*)$", re.DOTALL)
_ABSENT = {"", "n/a", "na", "none"}


@dataclass(frozen=True)
class McqItem:
    """A multiple-choice question as the selector and the answerers see it.

    Attributes:
        question: the question alone (no options, no instructions).
        options: option texts without their letters, in order.
        letters: the letter of each option (``A``, ``B``, ... as the benchmark labels them).
        answer: the correct letter when the document has it, else None.
    """

    question: str
    options: list[str]
    letters: list[str]
    answer: str | None = None

    def labelled_options(self) -> list[str]:
        """Options as ``"A. text"`` strings (Video-MME's format; what the selector's query appends)."""
        return [f"{letter}. {text}" for letter, text in zip(self.letters, self.options)]


def _split_option(s: str, default_letter: str) -> tuple[str, str]:
    m = _OPTION_PREFIX.match(str(s))
    if m and m.group(2).strip():
        return m.group(1), m.group(2).strip()
    return default_letter, str(s).strip()


def _answer_letter(value: Any, letters: Sequence[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        i = int(value)
        return LETTERS[i] if 0 <= i < len(LETTERS) else None
    s = str(value).strip()
    m = _OPTION_PREFIX.match(s)
    if m:
        return m.group(1)
    if len(s) == 1 and s.upper() in LETTERS:
        return s.upper()
    return None


def _from_option_list(raw: Iterable[Any]) -> tuple[list[str], list[str]]:
    letters, texts = [], []
    for i, o in enumerate(raw):
        letter, text = _split_option(str(o), LETTERS[i] if i < len(LETTERS) else "?")
        letters.append(letter)
        texts.append(text)
    return letters, texts


def mcq_from_prompt(prompt: str) -> McqItem | None:
    """Parse ``question`` + ``"A. ..."`` option lines out of a prompt; None when there are no option lines.

    Lines before the first option line are the question (subtitle blocks and instructions included: the
    selector tolerates them, but a document-level question is always preferred).

    >>> mcq_from_prompt("What colour is the car?\\nA. red\\nB. blue\\nAnswer with the letter.").options
    ['red', 'blue']
    """
    lines = str(prompt).splitlines()
    first = None
    letters: list[str] = []
    texts: list[str] = []
    for i, line in enumerate(lines):
        m = _OPTION_PREFIX.match(line)
        expected = LETTERS[len(letters)] if len(letters) < len(LETTERS) else None
        if m and m.group(2).strip() and m.group(1) == expected:
            first = i if first is None else first
            letters.append(m.group(1))
            texts.append(m.group(2).strip())
        elif first is not None:
            break
    if first is None or len(letters) < 2:
        return None
    # The question is the last non-empty line before the options (instructions may come before it).
    before = [s.strip() for s in lines[:first] if s.strip()]
    question = before[-1] if before else ""
    return McqItem(question=question, options=texts, letters=letters)


def mcq_from_doc(doc: Mapping[str, Any], prompt: str | None = None) -> McqItem:
    """The question and options of a benchmark document (see the module doc for the schemas understood).

    Args:
        doc: one dataset row.
        prompt: the task's rendered prompt, used only when the document has no recognisable options.

    Raises:
        InputError: neither the document nor the prompt holds a question.
    """
    question = str(doc.get("question") or doc.get("query") or "").strip()
    letters: list[str] = []
    options: list[str] = []
    if any(f"option{i}" in doc for i in range(2)):
        # LongVideoBench: option0..option4, "N/A" marks an absent one; letters follow the kept options.
        for i in range(len(LETTERS)):
            v = doc.get(f"option{i}")
            if v is None or str(v).strip().lower() in _ABSENT:
                continue
            options.append(str(v).strip())
        letters = list(LETTERS[: len(options)])
    else:
        for key in ("options", "choices", "candidates"):
            raw = doc.get(key)
            if isinstance(raw, Mapping):
                letters = [str(k).strip().upper() for k in raw]
                options = [str(v).strip() for v in raw.values()]
                break
            if isinstance(raw, (list, tuple)) and raw:
                letters, options = _from_option_list(raw)
                break
            if isinstance(raw, str) and raw.strip():
                parsed = mcq_from_prompt("Q\n" + raw)
                if parsed is not None:
                    letters, options = parsed.letters, parsed.options
                    break
    inline = mcq_from_prompt(question) if "\n" in question else None
    if inline is not None:
        # MLVU: the question field carries its options as "(A) text" lines after the question
        question = inline.question
        if not options:
            letters, options = inline.letters, inline.options
    if not options and prompt:
        parsed = mcq_from_prompt(prompt)
        if parsed is not None:
            letters, options = parsed.letters, parsed.options
            question = question or parsed.question
    if not question and prompt:
        question = str(prompt).strip()
    if not question:
        raise InputError(f"document has no question (keys: {sorted(doc)[:12]})")
    answer = None
    for key in ("answer", "correct_choice", "gt_answer", "label"):
        if key in doc:
            answer = _answer_letter(doc[key], letters)
            if answer is not None:
                break
    return McqItem(question=question, options=options, letters=letters, answer=answer)


# ------------------------------------------------------------------------------------------------
# locating the video and its subtitles


def is_video_path(value: Any) -> bool:
    """True for a str / PathLike whose extension is a video container's."""
    return isinstance(value, (str, os.PathLike)) and str(value).lower().endswith(VIDEO_EXTENSIONS)


def video_from_visuals(visuals: Any) -> str:
    """The video path among what a task's ``doc_to_visual`` returned (a path or a list holding one).

    Raises:
        InputError: no video path (e.g. an image task, or LongVideoBench's ``_i`` variant, which hands over
            already-sampled PIL frames: use the ``_v`` variant so the selector sees the whole video).
    """
    items = visuals if isinstance(visuals, (list, tuple)) else [visuals]
    for v in items:
        if isinstance(v, Mapping):  # chat-message content item {"type": "video", "url": ...}
            v = v.get("url") or v.get("video") or v.get("path")
        if is_video_path(v):
            return str(v)
    for v in items:  # an existing file with an unusual extension
        if isinstance(v, (str, os.PathLike)) and Path(v).is_file():
            return str(v)
    kinds = sorted({type(v).__name__ for v in items}) or ["nothing"]
    raise InputError(
        f"the task gave no video path to select frames from (got {', '.join(kinds)}); clamr_frames needs a task "
        "whose doc_to_visual returns the video file (e.g. longvideobench_val_v, not _val_i)"
    )


def video_from_messages(messages: Sequence[Mapping[str, Any]]) -> str:
    """The first video url in lmms-eval chat messages (``[{"role", "content": [{"type": "video", "url"}, ...]}]``)."""
    found = []
    for msg in messages:
        content = msg.get("content") if isinstance(msg, Mapping) else None
        if isinstance(content, (list, tuple)):
            # lmms-eval types items by extension and calls .webm "audio": keep any item whose url is a video file.
            found.extend(
                c for c in content
                if isinstance(c, Mapping) and (c.get("type") == "video" or is_video_path(c.get("url")))
            )
    return video_from_visuals(found)


def text_from_messages(messages: Sequence[Mapping[str, Any]]) -> str:
    """The user text of lmms-eval chat messages, items joined by newlines."""
    parts = []
    for msg in messages:
        if not isinstance(msg, Mapping) or msg.get("role", "user") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, (list, tuple)):
            parts.extend(str(c.get("text", "")) for c in content if isinstance(c, Mapping) and c.get("type") == "text")
    return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class SubtitleRef:
    """Where a video's subtitles are and how to time them (``offset`` is subtracted from every cue)."""

    path: Path
    offset: float = 0.0


def find_subtitles(doc: Mapping[str, Any], video: str | Path, subtitle_dir: str | Path | None = None) -> SubtitleRef | None:
    """The subtitle file of a document's video, or None when it has none.

    Looked up in order: the document's ``subtitle_path`` (absolute, or relative to ``subtitle_dir``, to
    LongVideoBench's ``<root>/subtitles/`` beside ``<root>/videos/``, or to the video's folder); ``subtitle_dir``
    / ``<stem>`` + ``.srt|.vtt|.json``; Video-MME's ``<root>/subtitle/<videoID>.srt`` beside ``<root>/data/``;
    a file next to the video with the same stem.
    """
    video = Path(video)
    offset = float(doc.get("starting_timestamp_for_subtitles") or 0.0)
    stems = [str(doc[k]) for k in ("videoID", "video_id") if doc.get(k)] + [video.stem]
    candidates: list[Path] = []
    rel = doc.get("subtitle_path")
    if rel:
        rel = Path(str(rel))
        if rel.is_absolute():
            candidates.append(rel)
        else:
            if subtitle_dir is not None:
                candidates.append(Path(subtitle_dir) / rel)
            for up in video.parents:
                if up.name == "videos":
                    candidates.append(up.parent / "subtitles" / rel)
                    break
            candidates.append(video.parent / rel)
    dirs = [Path(subtitle_dir)] if subtitle_dir is not None else []
    if video.parent.name == "data":  # Video-MME: <root>/data/<id>.mp4 and <root>/subtitle/<id>.srt
        dirs.append(video.parent.parent / "subtitle")
    dirs.append(video.parent)
    for d in dirs:
        for stem in stems:
            candidates.extend(d / f"{stem}{ext}" for ext in SUBTITLE_EXTENSIONS)
    for c in candidates:
        if c.is_file() and c.resolve() != video.resolve():
            return SubtitleRef(c, offset)
    return None


__all__ = [
    "LETTERS",
    "McqItem",
    "SubtitleRef",
    "find_subtitles",
    "is_video_path",
    "mcq_from_doc",
    "mcq_from_prompt",
    "text_from_messages",
    "video_from_messages",
    "video_from_visuals",
]
