"""What a report adds to a selection when the selector that made it is at hand: the whole transcript and each
candidate's score split by modality. Used by ``select --html`` and the local app; the selector is passed in
(duck-typed), never imported, so this package stays after ``select`` in the data flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clamr_frames.report.page import modality_shares, page_data, shot_starts


def transcript_cues(asr_context: Any) -> list[Any]:
    """The cues of what an index read as ASR context: a subtitle path, a ``Subtitles`` / ``Transcript``, cues, or
    None (no transcript)."""
    if asr_context is None:
        return []
    if isinstance(asr_context, (str, Path)):
        from clamr_frames.context.subtitles import load_subtitles

        return list(load_subtitles(asr_context).cues)
    return list(getattr(asr_context, "cues", asr_context))


def selection_extras(selector: Any, selection: Any, *, subtitles: Any = None,
                     options: list[str] | None = None) -> dict[str, Any]:
    """``cues`` and ``modality_scores`` for :meth:`Selection.to_html`, from the selector that made ``selection``:
    the transcript its index read (cached: nothing is transcribed again) and every candidate's score split by
    the modality its query tokens matched (one more MaxSim over the cached index; token_max scorers only)."""
    from clamr_frames.encoders.query import build_query

    cues = transcript_cues(selector.asr_cue_source(selection.video, subtitles))
    index = selector.index(selection.video, subtitles)
    modality_scores = None
    if getattr(selector, "aggregation", "token_max") == "token_max":
        _, argmax = selector.score(index, build_query(selection.question, options))
        shares = modality_shares(argmax.token_index, argmax.similarity, index.embeddings.modality_ids)
        if len(shares) > 1:  # one modality is the score itself
            modality_scores = shares
    return {"cues": cues, "modality_scores": modality_scores}


def selection_page(selection: Any, page_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """:func:`page_data` of a ``Selection`` (what ``Selection.to_html`` writes), e.g. for the app to send."""
    kwargs = dict(kwargs)
    cues = kwargs.pop("cues", None)
    spans = kwargs.pop("spans", ())
    return page_data(
        selection.to_dict(), all_timestamps=selection.all_timestamps, all_scores=selection.all_scores,
        page_dir=page_dir, frames=selection.frames, cues=list(getattr(cues, "cues", cues) or []),
        shots=shot_starts(selection.prior.shot_ids if selection.prior is not None else None, selection.all_timestamps),
        gt_windows=list(spans), **kwargs,
    )
