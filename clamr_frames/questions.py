"""Many questions in one call: a JSONL file of questions, on one video or across videos.

One object per line::

    {"question": "What does the speaker write on the board?"}
    {"question": "Which team wins?", "options": ["A. red", "B. blue"], "k": 8, "id": "q2"}
    {"video": "talks/b.mp4", "subtitles": "talks/b.srt", "question": "Who opens the meeting?"}

``question`` is required; ``options`` (a list of strings: the query then includes them, as
:meth:`~clamr_frames.FrameSelector.select` ``options=`` does), ``k``, ``video``, ``subtitles`` and ``id`` are
optional. A row's ``video`` / ``subtitles`` win over the defaults the caller gives (``select VIDEO`` on the
command line); relative paths in the file are relative to the file's folder. Blank lines are skipped.

Two kinds of bad rows, handled differently:

- a row that is wrong in itself (not JSON, no or an empty question, an unknown key, ``k`` not a positive
  integer, options that are not strings, no video from the row or the caller) is found when the file is read,
  before any model loads: :func:`read_questions` raises one :class:`~clamr_frames.errors.InputError` listing
  every such line as ``file:line: problem``, and nothing runs;
- a row that only fails against its video (``k`` more than the video's candidate frames, a video or subtitle
  file that cannot be read) fails alone: :func:`select_rows` yields its error and answers the other rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamr_frames.errors import ClamrFramesError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.selector import FrameSelector, Selection

#: Keys a question row may have.
QUESTION_KEYS = ("question", "options", "k", "video", "subtitles", "id")
#: How many bad lines one error message lists.
_MAX_LISTED = 20
#: Questions encoded together (one forward pass of the scorer's query encoder).
_QUERY_BATCH = 32


class QuestionsError(InputError):
    """Bad rows in a questions file; ``problems`` lists each as ``file:line: what is wrong``."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        listed = self.problems[:_MAX_LISTED]
        more = f"; ... and {len(self.problems) - len(listed)} more" if len(self.problems) > len(listed) else ""
        super().__init__(f"{len(self.problems)} bad line(s) in the questions file, nothing was run: "
                         + "; ".join(listed) + more)


@dataclass(frozen=True)
class QuestionRow:
    """One question of a questions file.

    Attributes:
        question: the question.
        video: the video it is about.
        k: frames to pick.
        options: multiple-choice options (empty: none).
        subtitles: subtitle file of the video, or None.
        id: the row's ``id`` (None when it has none).
        where: ``file:line``, for messages.
    """

    question: str
    video: str
    k: int
    options: tuple[str, ...] = ()
    subtitles: str | None = None
    id: Any = None
    where: str = ""
    line: int = 0

    def header(self) -> dict[str, Any]:
        """What every output record of this row starts with: its line, id, video and question."""
        out: dict[str, Any] = {"line": self.line}
        if self.id is not None:
            out["id"] = self.id
        return {**out, "video": self.video, "question": self.question}


def read_questions(
    path: str | Path,
    *,
    video: str | Path | None = None,
    subtitles: str | Path | None = None,
    k: int = 16,
) -> list[QuestionRow]:
    """The rows of a questions file (see the module docstring).

    Args:
        path: the JSONL file.
        video / subtitles: defaults for rows without their own (paths as the caller gave them).
        k: default number of frames.

    Raises:
        QuestionsError: bad rows (every one of them, each as ``file:line: problem``).
        InputError: the file cannot be read, or holds no question.
    """
    from clamr_frames.index.corpus import _join, _json_object, _only_known

    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: cannot read the questions file ({e})") from None
    rows: list[QuestionRow] = []
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        at = f"{where}:{n}"
        try:
            obj = _json_object(line, at, "the line")
            _only_known(obj, QUESTION_KEYS, at, "key")
            rows.append(_row(obj, at, n, where, video, subtitles, k, _join))
        except InputError as e:
            problems.append(str(e))
    if problems:
        raise QuestionsError(problems)
    if not rows:
        raise InputError(f"{where}: no questions (one JSON object per line, with a 'question')")
    return rows


def _row(obj: dict[str, Any], at: str, n: int, where: str, video: Any, subtitles: Any, k: int,
         join: Any) -> QuestionRow:
    if "question" not in obj:
        raise InputError(f"{at}: no 'question'")
    question = obj["question"]
    if not isinstance(question, str):
        raise InputError(f"{at}: question must be a string, got {type(question).__name__}")
    if not question.strip():
        raise InputError(f"{at}: question is empty")
    kk = obj.get("k", k)
    if not isinstance(kk, int) or isinstance(kk, bool) or kk < 1:
        raise InputError(f"{at}: k must be a positive integer, got {kk!r}")
    options = obj.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options):
        raise InputError(f"{at}: options must be a list of non-empty strings, got {options!r}")
    row_video = obj.get("video")
    if row_video is not None and (not isinstance(row_video, str) or not row_video.strip()):
        raise InputError(f"{at}: video must be a path, got {row_video!r}")
    if row_video is None and video is None:
        raise InputError(f"{at}: no 'video' (give one per row, or the VIDEO argument)")
    row_subs = obj.get("subtitles")
    if row_subs is not None and not isinstance(row_subs, str):
        raise InputError(f"{at}: subtitles must be a path, got {row_subs!r}")
    return QuestionRow(
        question=question,
        video=join(where, row_video.strip()) if row_video is not None else str(video),
        k=int(kk),
        options=tuple(options),
        subtitles=join(where, row_subs) if row_subs else (str(subtitles) if subtitles and row_video is None else None),
        id=obj.get("id"),
        where=at,
        line=n,
    )


@dataclass
class RowResult:
    """What one row gave: its selection, or the error that stopped it (the other rows go on)."""

    row: QuestionRow
    selection: "Selection | None" = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """One JSON-ready record: the row's line, id, video and question, then the selection or the error."""
        if self.selection is None:
            return {**self.row.header(), "error": self.error}
        return {**self.row.header(), **self.selection.to_dict()}


def select_rows(selector: "FrameSelector", rows: Iterable[QuestionRow], **select_kwargs: Any) -> Iterator[RowResult]:
    """Answer each row with ``selector`` (models and each video's index are loaded once), in order.

    ``select_kwargs`` go to :meth:`~clamr_frames.FrameSelector.select` (``policy``, ``seed``, knobs). A row whose
    ``k`` is more than its video's candidate frames is an error (not silently fewer frames), as is a video or
    subtitle file that cannot be read; either is reported on that row and the next row is answered.
    """
    from clamr_frames.encoders.query import build_query

    rows = list(rows)
    for start in range(0, len(rows), _QUERY_BATCH):
        chunk = rows[start:start + _QUERY_BATCH]
        try:  # the questions of a chunk in one encoder pass
            selector.prepare_queries([build_query(r.question, list(r.options) or None) for r in chunk])
        except ClamrFramesError:
            pass  # a bad query then fails on its own row below
        yield from _select_each(selector, chunk, select_kwargs)


def _select_each(selector: "FrameSelector", rows: list[QuestionRow],
                 select_kwargs: dict[str, Any]) -> Iterator[RowResult]:
    for row in rows:
        try:
            index = selector.index(row.video, row.subtitles)
            n = index.num_candidates
            if row.k > n:
                raise InputError(f"k={row.k} is more than the {n} candidate frames of {row.video} "
                                 "(lower k, or sample more candidates with --fps / --num-frames)")
            sel = selector.select(row.video, row.question, row.k, subtitles=row.subtitles,
                                  options=list(row.options) or None, **select_kwargs)
        except ClamrFramesError as e:
            yield RowResult(row, error=f"{row.where}: {e}")
            continue
        yield RowResult(row, selection=sel)


__all__ = ["QUESTION_KEYS", "QuestionRow", "QuestionsError", "RowResult", "read_questions", "select_rows"]
