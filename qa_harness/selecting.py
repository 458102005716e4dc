"""Where the frames for a question come from: a live scorer, or a selections file.

:class:`LiveSelections` runs the scorer (through the on-disk index) for a benchmark document; it is what the
``clamr_frames`` model uses by default and what ``python -m qa_harness select-task`` runs without any answerer.
:class:`FileSelections` answers from a selections file (:mod:`clamr_frames.selections`) and never constructs a
scorer. Both give :class:`Picked` (the frames to decode, their times and scores, how they were chosen) plus the
:class:`~clamr_frames.selections.SelectionRecord` describing them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clamr_frames.errors import InputError
from clamr_frames.selections import SelectionRecord, answerable, read_selections

logger = logging.getLogger(__name__)


@dataclass
class Picked:
    """The frames picked for one question, in temporal order (what the answer path decodes)."""

    video: str
    frame_indices: list[int]
    timestamps: list[float]
    scores: list[float]
    duration: float | None
    asr_source: str
    ocr_text: list[str] | None = None
    all_timestamps: Any = None  # every candidate's time (the ``all`` subtitle policy of the notebook format)
    record: SelectionRecord | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def question_id(doc: Mapping[str, Any] | None) -> str | None:
    """The benchmark's own id of a question (``question_id``, LongVideoBench's ``id``), or None."""
    doc = doc or {}
    for key in ("question_id", "id"):
        if doc.get(key) is not None:
            return str(doc[key])
    return None


def _fingerprint(video: str, cache: dict[str, str]) -> str:
    fp = cache.get(video)
    if fp is None:
        from clamr_frames._fs import video_fingerprint

        try:
            fp = video_fingerprint(video)
        except OSError as e:
            raise InputError(f"{video}: cannot read the video to fingerprint it: {e.strerror or e}") from None
        cache[video] = fp
    return fp


class LiveSelections:
    """Select with a scorer: ``FrameSelector`` built from the model args on first use.

    Args:
        values: the typed named model args (:func:`qa_harness.model_args.parse_model_args` ``.values``).
        encoder_kwargs / policy_knobs / asr_settings: the ``scorer_`` / ``policy_`` / ``asr_`` families.
        selector: a ready FrameSelector (tests, Python callers).
        progress: show index-building progress.
    """

    def __init__(self, values: Mapping[str, Any], *, encoder_kwargs: Mapping[str, Any], policy_knobs: Mapping[str, Any],
                 asr_settings: Any, selector: Any = None, device: str | None = None, progress: bool = True) -> None:
        from clamr_frames.context.asr import check_asr_mode

        self.scorer = str(values["scorer"])
        self.policy = values["policy"]  # None: the scorer's default (the selection records which ran)
        self.k = int(values["k"])
        self.fps = float(values["fps"])
        self.num_candidates = values["num_candidates"]
        self.index_dir = values["index_dir"]
        self.ocr = values["ocr"]  # None: on where the scorer reads OCR text (the selector decides)
        self.asr = check_asr_mode(values["asr"])
        self.query = str(values["query"])
        self.seed = int(values["seed"])
        self.device = device
        self.progress = progress
        self.encoder_kwargs = dict(encoder_kwargs)
        if values.get("nf4"):
            self.encoder_kwargs["load_in_4bit"] = True
        self.policy_knobs = dict(policy_knobs)
        self.asr_settings = asr_settings
        self._selector = selector
        self._fingerprints: dict[str, str] = {}

    @property
    def selector(self) -> Any:
        """The :class:`~clamr_frames.FrameSelector` (built on first use)."""
        if self._selector is None:
            from clamr_frames import FrameSelector
            from clamr_frames.index import IndexSettings

            settings = IndexSettings(fps=self.fps, num_frames=self.num_candidates)
            self._selector = FrameSelector.from_pretrained(
                self.scorer, device=self.device, settings=settings, index_dir=self.index_dir, ocr=self.ocr,
                progress=self.progress, encoder_kwargs=dict(self.encoder_kwargs), asr=self.asr,
                asr_settings=self.asr_settings,
            )
        return self._selector

    def scorer_revision(self) -> str | None:
        enc = getattr(self.selector, "encoder", None)
        rev = getattr(enc, "encoder_id", None)
        return str(rev) if rev is not None else None

    def pick(self, *, video: str, item: Any, subtitles: Any, doc: Mapping[str, Any] | None, task: str | None,
             doc_id: Any) -> Picked:
        """Select the frames for one question (``item``: :class:`qa_harness.docs.McqItem`).

        A document marked ``subtitle_source: transcript`` (the ``_w_transcript`` tasks) is scored on our transcript
        too under ``asr=auto``, so that run uses no subtitle file anywhere."""
        from clamr_frames.encoders.query import build_query

        asr = self.asr
        if asr == "auto" and str((doc or {}).get("subtitle_source", "")) == "transcript":
            asr = "whisper"
        options = item.labelled_options() if self.query == "question+options" and item.options else None
        ocr = bool(getattr(self.selector, "use_ocr", self.ocr))  # what the selector decided
        # The scorer reads the subtitles only when its ASR source may be them; asr=whisper transcribes instead.
        sel = self.selector.select(
            video, item.question, self.k, subtitles=subtitles if asr in ("auto", "subtitles") else None,
            options=options, policy=self.policy, seed=self.seed, asr=asr, **self.policy_knobs,
        )
        rec = SelectionRecord.from_selection(
            sel, video_fingerprint=_fingerprint(str(video), self._fingerprints), scorer=self.scorer,
            scorer_revision=self.scorer_revision(), policy_knobs=self.policy_knobs,
            query=build_query(item.question, options), ocr=ocr, fps=self.fps,
            num_candidates=self.num_candidates, k=self.k, task=task, doc_id=doc_id, question_id=question_id(doc),
            options=list(item.labelled_options()) if item.options else None,
        )
        if ocr:
            rec.extra["frame_ocr"] = [str(t) for t in sel.ocr]
        if doc and isinstance(doc.get("needle"), Mapping) and {"start", "end"} <= set(doc["needle"]):
            rec.gt_window = [float(doc["needle"]["start"]), float(doc["needle"]["end"])]
        duration = getattr(sel, "duration", None)
        if duration is None:  # an index without the video's length: estimate it from the candidate grid
            grid = sel.all_timestamps
            step = float(grid[1] - grid[0]) if len(grid) > 1 else 1.0
            duration = float(grid[-1] + step) if len(grid) else None
        return Picked(video=str(video), frame_indices=rec.frame_indices, timestamps=rec.timestamps, scores=rec.scores,
                      duration=duration, asr_source=rec.asr_source, ocr_text=list(sel.ocr) if ocr else None,
                      all_timestamps=sel.all_timestamps, record=rec)


class FileSelections:
    """Answer from a selections file: exactly its frames, no scorer.

    A question is found by ``question_id`` (the benchmark's own id), else by ``(task, doc_id)``; the video's
    content fingerprint must match the record's. Either failing is an :class:`InputError` naming the question,
    the file and the video.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        records = read_selections(self.path)
        self.by_qid: dict[tuple[str | None, str], SelectionRecord] = {}
        self.by_doc: dict[tuple[str | None, str], SelectionRecord] = {}
        for rec in records:
            if rec.question_id is not None:
                self.by_qid[(rec.task, rec.question_id)] = rec
                self.by_qid.setdefault((None, rec.question_id), rec)
            if rec.doc_id is not None:
                self.by_doc[(rec.task, str(rec.doc_id))] = rec
        self.count = len(records)
        #: the k of the file's records
        self.ks = {rec.k for rec in records}
        self._fingerprints: dict[str, str] = {}
        self._durations: dict[str, float | None] = {}

    def find(self, *, task: str | None, doc: Mapping[str, Any] | None, doc_id: Any) -> SelectionRecord:
        qid = question_id(doc)
        rec = None
        if qid is not None:
            rec = self.by_qid.get((task, qid)) or self.by_qid.get((None, qid))
        if rec is None and doc_id is not None:
            rec = self.by_doc.get((task, str(doc_id)))
        if rec is None:
            what = f"question_id {qid!r}" if qid is not None else f"doc_id {doc_id!r}"
            raise InputError(f"{self.path}: no selection for {what} of task {task!r} ({self.count} records in the "
                             "file; run `python -m qa_harness select-task` for this task)")
        return rec

    def pick(self, *, video: str, item: Any, subtitles: Any, doc: Mapping[str, Any] | None, task: str | None,
             doc_id: Any) -> Picked:
        rec = self.find(task=task, doc=doc, doc_id=doc_id)
        where = f"{self.path}: question {rec.question_id or rec.doc_id!r}"
        if not answerable(rec):
            raise InputError(f"{where}: the record has no native frame indices (an old log_selections row?); "
                             "rerun select-task")
        fp = _fingerprint(str(video), self._fingerprints)
        if fp != rec.video_fingerprint:
            raise InputError(f"{where}: video fingerprint mismatch: {video} is {fp[:16]}..., the selection was made "
                             f"on {rec.video} with fingerprint {rec.video_fingerprint[:16]}... (another file or a "
                             "re-encoded copy)")
        if str(video) not in self._durations:
            from clamr_frames.video import probe

            self._durations[str(video)] = float(probe(video).duration) or None
        ocr_text = rec.extra.get("frame_ocr") if rec.ocr else None
        return Picked(video=str(video), frame_indices=list(rec.frame_indices), timestamps=list(rec.timestamps),
                      scores=list(rec.scores), duration=self._durations[str(video)], asr_source=rec.asr_source,
                      ocr_text=list(ocr_text) if ocr_text is not None else None,
                      all_timestamps=_LazyGrid(str(video), rec), record=rec)


class _LazyGrid:
    """Every candidate's time for a record, computed from the video's container timestamps when first needed
    (only the ``all`` subtitle policy in the notebook format uses it)."""

    def __init__(self, video: str, rec: SelectionRecord) -> None:
        self.video, self.rec = video, rec
        self._ts: Any = None

    def _get(self) -> Any:
        if self._ts is None:
            from clamr_frames.video import VideoReader

            c = self.rec.candidates
            with VideoReader(self.video) as reader:
                _, self._ts = reader.candidate_indices(fps=c.get("fps") or 1.0, num_frames=c.get("num_candidates"))
        return self._ts

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self):
        return iter(self._get())

    def __getitem__(self, i: Any) -> Any:
        return self._get()[i]

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        import numpy as np

        return np.asarray(self._get(), dtype=dtype)


__all__ = ["FileSelections", "LiveSelections", "Picked", "question_id"]
