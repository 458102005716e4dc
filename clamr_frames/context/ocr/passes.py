"""OCR passes over a video's frames: what both passes share (:class:`OcrStats`, the chunk-and-cache base) and
:class:`OcrPass` (whole-frame change detection). The text-aware pass is in :mod:`~clamr_frames.context.ocr.textpass`,
:func:`~clamr_frames.context.ocr.make.make_ocr_pass` builds either."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clamr_frames.context.ocr.base import (
    DEFAULT_CHANGE_THRESHOLD,
    DEFAULT_GRID_WIDTH,
    DEFAULT_PIXEL_THRESHOLD,
    TextReader,
)
from clamr_frames.context.ocr.cache import OcrCache
from clamr_frames.context.ocr.change import ChangeDetector
from clamr_frames.errors import InputError


@dataclass
class OcrStats:
    """What an OCR pass did so far, and where its time went (benchmarks print it; tests count with it).

    Attributes:
        frames: decoded frames the pass looked at (cached ones not included).
        skipped: frames whose picture had not changed: the previous text was reused without OCR.
        cached: frames whose text came from the :class:`OcrCache`.
        detected: runs of the text detector (:class:`TextRegionPass`) or of full OCR (:class:`OcrPass`).
        cuts: scene cuts that reset the box memory.
        boxes: text boxes the detector found.
        reused: boxes whose text was taken from a matching crop read before.
        followed: lines the detector missed but that were found again where they had been (text reused).
        recognised: box crops handed to the recognizer.
        steady: changed frames whose detection was skipped: nothing outside the known text lines changed since
            the last detection (a test card whose counters run).
        in_place: lines whose crop changed where they stood (the picture around them did not) and that were
            read again at their box, without the detector.
        glyph_reads: lines put together from learned glyphs (a counter read in place), without the recognizer.
        recalled: of ``reused``, lines found in the archive of lines read before a scene cut.
        det_seconds / rec_seconds / other_seconds: time in the detector (or full OCR), the recognizer, and
            everything else (thumbnails, crops, signatures, matching, reading order).
    """

    frames: int = 0
    skipped: int = 0
    cached: int = 0
    detected: int = 0
    cuts: int = 0
    boxes: int = 0
    reused: int = 0
    followed: int = 0
    recognised: int = 0
    steady: int = 0
    in_place: int = 0
    glyph_reads: int = 0
    recalled: int = 0
    det_seconds: float = 0.0
    rec_seconds: float = 0.0
    other_seconds: float = 0.0


class _ChunkPass:
    """What both video passes are: a reader (``engine``, named by ``engine_id``), the whole-frame change test
    (``frame_test``, a :class:`ChangeDetector` from ``change_threshold`` / ``pixel_threshold`` / ``grid_width``),
    argument checks and the on-disk cache around ``_read_chunk``."""

    ocr_id: str

    def __init__(self, engine: Any, frame_test: dict[str, Any], cache: OcrCache | None,
                 video_fingerprint: str | None) -> None:
        if cache is not None and not video_fingerprint:
            raise InputError("an OCR cache needs the video's fingerprint (clamr_frames.index.video_fingerprint)")
        self.engine = engine
        self.engine_id = str(getattr(engine, "engine_id", type(engine).__name__))
        self.frame_test = ChangeDetector(**frame_test)
        self.cache = cache
        self.video_fingerprint = video_fingerprint
        self.stats = OcrStats()

    def _read_chunk(self, frames: list[np.ndarray | None], cached: list[str | None]) -> list[str]:
        raise NotImplementedError

    def __call__(self, timestamps: Sequence[float] | np.ndarray, frames: Sequence[np.ndarray | None]) -> list[str]:
        ts = [float(t) for t in np.asarray(timestamps, dtype=np.float64).reshape(-1)]
        frames = list(frames)
        if len(ts) != len(frames):
            raise InputError(f"OCR pass: {len(ts)} timestamps but {len(frames)} frames")
        cached: list[str | None] = [None] * len(ts)
        if self.cache is not None:
            cached = self.cache.get_many(self.video_fingerprint, ts, self.ocr_id)  # type: ignore[arg-type]
        out = self._read_chunk(frames, cached)
        self.stats.cached += sum(c is not None for c in cached)
        new = [(t, text) for t, f, c, text in zip(ts, frames, cached, out) if c is None and f is not None]
        if self.cache is not None and new:
            self.cache.put_many(self.video_fingerprint, [t for t, _ in new], [x for _, x in new], self.ocr_id)  # type: ignore[arg-type]
        return out


class OcrPass(_ChunkPass):
    """Stateful OCR over a video's candidate frames, fed chunk by chunk in time order.

    Call it with ``(timestamps [n], frames)`` (frames: RGB arrays, or None where a frame did not decode) and
    get one text per frame. A frame is read only when the :class:`ChangeDetector` says its picture changed
    since the last frame that was read; otherwise it gets that frame's text. A frame that did not decode
    gets "" and leaves the detector's reference alone. With a cache, cached frames are not read (their
    text is taken as if they had been) and new texts are written after each call.

    Any motion (a moving camera, a presenter walking) makes every frame "changed"; :class:`TextRegionPass`
    looks at the text instead.

    Attributes:
        calls: frames actually handed to the engine so far.
        ocr_id: engine + detector settings (part of index keys).
        stats: an :class:`OcrStats`.
    """

    def __init__(
        self,
        engine: TextReader,
        *,
        change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
        pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD,
        grid_width: int = DEFAULT_GRID_WIDTH,
        cache: OcrCache | None = None,
        video_fingerprint: str | None = None,
    ) -> None:
        super().__init__(engine, {"change_threshold": change_threshold, "pixel_threshold": pixel_threshold,
                                  "grid_width": grid_width}, cache, video_fingerprint)
        self.detector = self.frame_test  # reads frames when it says they changed
        self._last_text = ""
        self.ocr_id = f"{self.engine_id}/{self.detector.detector_id}"

    @property
    def calls(self) -> int:
        return self.stats.detected

    def _read_chunk(self, frames: list[np.ndarray | None], cached: list[str | None]) -> list[str]:
        out: list[str] = []
        for frame, hit in zip(frames, cached):
            if hit is not None:
                text = hit
                if frame is not None:  # keep the detector's reference in step with the text
                    self.detector.changed(frame)
                    self._last_text = text
            elif frame is None:
                text = ""
            else:
                self.stats.frames += 1
                t0 = time.perf_counter()
                if self.detector.changed(frame):
                    t1 = time.perf_counter()
                    self._last_text = self.engine.read(frame)
                    self.stats.detected += 1
                    self.stats.det_seconds += time.perf_counter() - t1
                    self.stats.other_seconds += t1 - t0
                else:
                    self.stats.skipped += 1
                    self.stats.other_seconds += time.perf_counter() - t0
                text = self._last_text
            out.append(text)
        return out
