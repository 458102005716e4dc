"""Building an OCR pass: :func:`make_ocr_pass` (what the index builder takes) and :func:`ocr_video_frames` pick
:class:`~clamr_frames.context.ocr.textpass.TextRegionPass` or :class:`~clamr_frames.context.ocr.passes.OcrPass`
for an engine and check the knobs each takes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from clamr_frames.context.ocr.base import (
    DEFAULT_CHANGE_THRESHOLD,
    DETECTORS,
    BoxReader,
    TextReader,
)
from clamr_frames.context.ocr.cache import OcrCache
from clamr_frames.context.ocr.engine import OcrEngine
from clamr_frames.context.ocr.passes import OcrPass
from clamr_frames.context.ocr.textpass import TextRegionPass
from clamr_frames.errors import InputError


def _knobs_for(detector: str, knobs: dict[str, Any]) -> None:
    allowed = {
        "frame": {"pixel_threshold", "grid_width"},
        "none": {"pixel_threshold", "grid_width"},
        "text": {"det_side", "det_every", "box_threshold", "cut_threshold", "pixel_threshold", "grid_width",
                 "min_score", "memory", "forget_after", "glyphs", "archive"},
    }[detector]
    bad = sorted(set(knobs) - allowed)
    if bad:
        raise InputError(f"unknown knob(s) for the {detector!r} OCR change detector: {', '.join(bad)}")


def _new_pass(
    engine: Any,
    detector: str,
    change_threshold: float | None,
    cache: OcrCache | None,
    video_fingerprint: str | None,
    knobs: dict[str, Any],
) -> OcrPass | TextRegionPass:
    if detector not in DETECTORS:
        raise InputError(f"OCR change detector must be one of {DETECTORS}, got {detector!r}")
    if detector == "auto":  # the text-aware pass when the engine can find boxes, else whole frames
        boxes = callable(getattr(engine, "detect", None)) and callable(getattr(engine, "recognize", None))
        detector = "text" if boxes else "frame"
    _knobs_for(detector, knobs)
    if detector == "text":
        thr = DEFAULT_CHANGE_THRESHOLD if change_threshold is None else change_threshold
        return TextRegionPass(engine, change_threshold=thr, cache=cache, video_fingerprint=video_fingerprint, **knobs)
    thr = 0.0 if detector == "none" else (DEFAULT_CHANGE_THRESHOLD if change_threshold is None else change_threshold)
    return OcrPass(engine, change_threshold=thr, cache=cache, video_fingerprint=video_fingerprint, **knobs)


def ocr_video_frames(
    timestamps: Sequence[float] | np.ndarray,
    frames_iter: Iterable[np.ndarray | None],
    engine: TextReader | BoxReader,
    change_threshold: float | None = None,
    *,
    detector: str = "auto",
    cache: OcrCache | None = None,
    video_fingerprint: str | None = None,
    **detector_knobs: Any,
) -> list[str]:
    """OCR text of every frame of a video, reading only what changed (see :class:`OcrPass`,
    :class:`TextRegionPass`).

    Args:
        timestamps: seconds of each frame, in time order.
        frames_iter: the frames (RGB uint8 arrays, or None for an undecodable frame), same order and count.
        engine: an :class:`OcrEngine` (or a stand-in with ``read``, or ``detect`` + ``recognize``).
        change_threshold: the whole-frame test's threshold (see :class:`ChangeDetector`; 0: scan every frame).
        detector: ``"text"`` (:class:`TextRegionPass`), ``"frame"`` (:class:`OcrPass`), ``"none"`` (full OCR of
            every frame) or ``"auto"`` (``"text"`` when the engine has ``detect`` and ``recognize``).
        cache / video_fingerprint: optional :class:`OcrCache` and the video's content fingerprint.
        **detector_knobs: ``pixel_threshold``, ``grid_width``; for ``"text"`` also ``det_side``, ``det_every``,
            ``box_threshold``, ``cut_threshold``, ``min_score``, ``memory``, ``forget_after``, ``glyphs``, ``archive``.

    Returns:
        One text per timestamp.
    """
    ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    ocr = _new_pass(engine, detector, change_threshold, cache, video_fingerprint, detector_knobs)
    frames = list(frames_iter)
    if len(frames) != len(ts):
        raise InputError(f"ocr_video_frames: {len(ts)} timestamps but {len(frames)} frames")
    return ocr(ts, frames)


def make_ocr_pass(
    engine: TextReader | BoxReader | None = None,
    *,
    detector: str = "auto",
    change_threshold: float | None = None,
    cache: OcrCache | None = None,
    video_fingerprint: str | None = None,
    **detector_knobs: Any,
) -> tuple[OcrPass | TextRegionPass, str]:
    """A fresh stateful OCR pass for one video and its id, as ``build_index(ocr=..., ocr_id=...)`` takes them.

    Args:
        engine: default: a new :class:`OcrEngine` with its defaults.
        detector, change_threshold, **detector_knobs: see :func:`ocr_video_frames`.
        cache / video_fingerprint: optional :class:`OcrCache` and the video's content fingerprint.

    Raises:
        OcrUnavailableError: no engine given and the ``ocr`` extra is not installed.
        InputError: an unknown detector or knob.
    """
    p = _new_pass(engine if engine is not None else OcrEngine(), detector, change_threshold, cache,
                  video_fingerprint, detector_knobs)
    return p, p.ocr_id
