"""OCR passes over a video's frames: :class:`OcrPass` (whole-frame change detection), :class:`TextRegionPass`
(text-aware change detection), :func:`ocr_video_frames` and :func:`make_ocr_pass` (what the index builder takes)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clamr_frames.context.ocr.base import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_CHANGE_THRESHOLD,
    DEFAULT_CUT_THRESHOLD,
    DEFAULT_DET_EVERY,
    DEFAULT_DET_SIDE,
    DEFAULT_GRID_WIDTH,
    DEFAULT_PIXEL_THRESHOLD,
    DETECTORS,
    BoxReader,
    TextReader,
)
from clamr_frames.context.ocr.cache import OcrCache
from clamr_frames.context.ocr.change import (
    ChangeDetector,
    change_fraction,
    frame_signature,
)
from clamr_frames.context.ocr.engine import OcrEngine, _reading_order
from clamr_frames.context.ocr.regions import (
    _bounds,
    crop_distance,
    crop_quad,
    crop_signature,
    histogram_distance,
)
from clamr_frames.errors import (
    ClamrFramesError,
    InputError,
)


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
    det_seconds: float = 0.0
    rec_seconds: float = 0.0
    other_seconds: float = 0.0


class _ChunkPass:
    """Shared part of the video passes: argument checks and the on-disk cache around ``_read_chunk``."""

    ocr_id: str

    def __init__(self, cache: OcrCache | None, video_fingerprint: str | None) -> None:
        if cache is not None and not video_fingerprint:
            raise InputError("an OCR cache needs the video's fingerprint (clamr_frames.index.video_fingerprint)")
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
        super().__init__(cache, video_fingerprint)
        self.engine = engine
        self.detector = ChangeDetector(change_threshold, pixel_threshold=pixel_threshold, grid_width=grid_width)
        self._last_text = ""
        self.engine_id = str(getattr(engine, "engine_id", type(engine).__name__))
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


@dataclass(eq=False)
class _Track:
    """A text line read (or about to be read) in the current shot."""

    sig: np.ndarray  # signature of the crop that was read
    last_seen: int
    box: tuple[int, int, int, int]  # where it was last seen: x0, y0, x1, y1 in frame pixels
    crop: np.ndarray | None = None  # kept until the chunk's batch is recognised
    text: str | None = None  # None until recognised


_SAME = "same"  # a chunk item: the previous frame's text


class TextRegionPass(_ChunkPass):
    """Text-aware change detection: re-read only the text boxes that are new or changed.

    Fed chunk by chunk in time order like :class:`OcrPass`. For each decoded frame:

    1. a frame whose whole picture did not change (the :class:`ChangeDetector` test against the last scanned
       frame) reuses that frame's text — slides and static shots cost a thumbnail;
    2. a jump of the gray-level histogram (:func:`histogram_distance` above ``cut_threshold``) is a scene
       cut: the memory of read boxes is cleared;
    3. the text detector runs on the frame scaled to ``det_side`` pixels on its shorter side, and every box
       is cut from the full-size frame;
    4. a box whose crop matches a line read earlier in the shot (similar size, :func:`crop_distance` at
       most ``box_threshold``) reuses its text, wherever the box now is (a panning camera moves signs);
    5. a line of the previous frame that the detector missed is looked for near where it was, and kept
       when its crop is still there (a detector on a downscaled frame flickers);
    6. the other boxes are recognised together, in one batch per chunk, after all its frames are scanned.

    Lines are ordered as :meth:`OcrEngine.read_lines` orders them. The memory keeps the ``memory`` most recent
    lines and forgets a line not seen for ``forget_after`` scanned frames.

    Args:
        engine: a :class:`BoxReader` (an :class:`OcrEngine`).
        det_side: shorter side, in pixels, of the frame the detector sees.
        det_every: while the picture changes from frame to frame, run the detector on every n-th frame (and
            always on the first changed frame after a still one, and by a chunk's end); in between, the lines
            of the previous frame are followed, and a line that appears is found at the next detection and
            traced back into the frames before it. A line shown for fewer than ``det_every`` candidates of
            continuous motion can be missed.
        box_threshold: largest :func:`crop_distance` (gray levels) at which two crops show the same text.
        cut_threshold: :func:`histogram_distance` above which a frame starts a new shot (1.0: never).
        change_threshold / pixel_threshold / grid_width: the whole-frame test (see :class:`ChangeDetector`;
            ``change_threshold=0`` scans every frame).
        min_score: recognitions below this confidence count as no text (default: the engine's ``min_score``).
        cache / video_fingerprint: optional :class:`OcrCache` and the video's content fingerprint.

    Attributes:
        ocr_id: engine + settings (part of index and cache keys).
        stats: an :class:`OcrStats`.
    """

    def __init__(
        self,
        engine: BoxReader,
        *,
        det_side: int = DEFAULT_DET_SIDE,
        det_every: int = DEFAULT_DET_EVERY,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        cut_threshold: float = DEFAULT_CUT_THRESHOLD,
        change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
        pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD,
        grid_width: int = DEFAULT_GRID_WIDTH,
        min_score: float | None = None,
        memory: int = 64,
        forget_after: int = 30,
        cache: OcrCache | None = None,
        video_fingerprint: str | None = None,
    ) -> None:
        super().__init__(cache, video_fingerprint)
        if not (callable(getattr(engine, "detect", None)) and callable(getattr(engine, "recognize", None))):
            raise InputError(f"the text-region pass needs an engine with detect() and recognize(), got {type(engine).__name__}")
        if det_side < 32:
            raise InputError(f"det_side must be >= 32, got {det_side}")
        if det_every < 1:
            raise InputError(f"det_every must be >= 1, got {det_every}")
        if box_threshold < 0 or not 0.0 < cut_threshold <= 1.0:
            raise InputError("box_threshold must be >= 0 and cut_threshold in (0, 1]")
        if memory < 1 or forget_after < 1:
            raise InputError("memory and forget_after must be >= 1")
        self.engine = engine
        self.det_side = int(det_side)
        self.det_every = int(det_every)
        self.box_threshold = float(box_threshold)
        self.cut_threshold = float(cut_threshold)
        # validates the whole-frame knobs; its settings name the pass, its thumbnails are computed here
        self._frame_test = ChangeDetector(change_threshold, pixel_threshold=pixel_threshold, grid_width=grid_width)
        self.min_score = float(getattr(engine, "min_score", 0.5) if min_score is None else min_score)
        self.memory = int(memory)
        self.forget_after = int(forget_after)
        self._lines: Callable[[Sequence[Any], Sequence[str]], list[str]] = getattr(engine, "lines", _reading_order)
        self._tracks: list[_Track] = []
        self._pending: list[_Track] = []
        self._ref: np.ndarray | None = None
        self._scans: list[tuple[np.ndarray, list[tuple[np.ndarray, _Track]]]] = []  # (gray frame, its lines)
        self._tick = 0
        self._since_det = 0
        self._still = False  # the last decoded frame did not change
        self._last_text = ""
        self.engine_id = str(getattr(engine, "engine_id", type(engine).__name__))
        self.ocr_id = (
            f"{self.engine_id}/text-det{self.det_side}" + (f"x{self.det_every}" if self.det_every > 1 else "")
            + f"/box{self.box_threshold:g}/cut{self.cut_threshold:g}/"
            f"score{self.min_score:g}/{self._frame_test.detector_id}"
        )

    def reset(self) -> None:
        """Forget every line read so far (a scene cut does this by itself)."""
        self._tracks.clear()

    def _read_chunk(self, frames: list[np.ndarray | None], cached: list[str | None]) -> list[str]:
        items: list[Any] = []
        self._scans = []  # (gray frame, its lines) of the chunk's scanned frames, in order
        last = max((i for i, (f, c) in enumerate(zip(frames, cached)) if f is not None and c is None), default=-1)
        for i, (frame, hit) in enumerate(zip(frames, cached)):
            if hit is not None:
                self._scans.clear()
                self._still = True  # the next changed frame starts afresh: detect there
                if frame is not None:  # the next frames compare against it, and may reuse its text
                    self._ref = frame_signature(frame, self._frame_test.grid_width)
                items.append(("cached", hit, frame is not None))
            elif frame is None:
                items.append(("none", "", False))
            else:
                items.append(self._scan(frame, force=i == last))
        self._recognise_pending()
        t0 = time.perf_counter()
        out: list[str] = []
        for item in items:
            if item == _SAME:
                text = self._last_text
            elif item[0] == "boxes":
                found = [(quad, tr.text) for quad, tr in item[1] if tr.text]
                text = "\n".join(self._lines([q for q, _ in found], [t for _, t in found]))
                self._last_text = text
            else:
                text = item[1]
                if item[2]:
                    self._last_text = text
            out.append(text)
        self.stats.other_seconds += time.perf_counter() - t0
        return out

    def _scan(self, frame: np.ndarray, *, force: bool = False) -> Any:
        """Find the frame's boxes and match them to lines read before (recognition waits for the batch).

        The detector runs on every ``det_every``-th frame of continuous change, on the first changed frame
        after a still one (a slide change is an event, not motion), after a cut, and when ``force`` (the
        chunk's last frame, still or not, if a frame since the last detection went without: lines that
        appear in between are found backwards from the next detection, which must happen while the frames
        are still in the chunk)."""
        t0 = time.perf_counter()
        self.stats.frames += 1
        ft = self._frame_test
        sig = frame_signature(frame, ft.grid_width)
        ref = self._ref
        if (
            ref is not None
            and ft.change_threshold > 0.0
            and change_fraction(ref, sig, ft.pixel_threshold) <= ft.change_threshold
            and not (force and self._since_det > 0)
        ):
            self._still = True
            self.stats.skipped += 1
            self.stats.other_seconds += time.perf_counter() - t0
            return _SAME
        cut = ref is not None and histogram_distance(ref, sig) > self.cut_threshold
        if cut:
            self._tracks.clear()  # lines still waiting for the batch stay in self._pending
            self._scans.clear()
            self.stats.cuts += 1
        self._ref = sig
        self._tick += 1
        self._since_det += 1
        t1 = time.perf_counter()
        event = force or cut or ref is None or self._still
        self._still = False
        if event or self._since_det >= self.det_every:
            quads = self.engine.detect(frame, side=self.det_side)
            self._since_det = 0
            self.stats.detected += 1
        else:  # lines seen in the previous frame are followed (below), new ones found from the next detection
            quads = np.zeros((0, 4, 2), np.float32)
        t2 = time.perf_counter()
        self.stats.det_seconds += t2 - t1
        found: list[tuple[np.ndarray, _Track]] = []
        arrived: list[_Track] = []  # lines that were not in the previous scanned frame
        for quad in quads:
            crop = crop_quad(frame, quad)
            if crop is None:
                continue
            self.stats.boxes += 1
            csig = crop_signature(crop)
            track = self._match(csig)
            box = _bounds(quad)
            if track is None:
                track = _Track(csig, self._tick, box, crop=crop)
                self._tracks.append(track)
                self._pending.append(track)
                arrived.append(track)
            else:
                self.stats.reused += 1
                if track.last_seen < self._tick - 1:
                    arrived.append(track)
            track.last_seen, track.box = self._tick, box
            found.append((quad, track))
        gray = crop_signature(frame)
        found += self._follow(gray, found, arrived)
        self._scans.append((gray, found))
        self._forget()
        self.stats.other_seconds += (t1 - t0) + (time.perf_counter() - t2)
        return ("boxes", found)

    def _follow(
        self, gray: np.ndarray, found: list[tuple[np.ndarray, _Track]], arrived: list[_Track]
    ) -> list[tuple[np.ndarray, _Track]]:
        """Lines the detector missed in this frame, or in the frames just before, that are there all the same.

        A detector on a downscaled frame now and then misses a line it finds a frame earlier or later (and
        with ``det_every`` > 1 it does not look at every frame). A line of the previous scanned frame that is
        missing now is looked for near where it was in this frame (``gray``); a line found now that was not in
        the previous scanned frame is looked for in the frames before this one, back through the chunk (whose
        texts are not handed out yet) while it is there. Near: within two line heights, at least 48 pixels, as
        a camera moves it; there: a crop at the best place matches the line's read crop
        (:func:`crop_distance`).
        """
        here = {id(tr) for _, tr in found}
        missing = [tr for tr in self._tracks
                   if tr.last_seen == self._tick - 1 and id(tr) not in here and _worth_following(tr)]
        out = []
        if missing:
            boxes = [tr.box for _, tr in found]
            for tr in missing:
                box = self._find_near(gray, tr, tr.box, boxes)
                if box is not None:
                    tr.last_seen, tr.box = self._tick, box
                    boxes.append(box)
                    out.append((_quad(box), tr))
        for tr in arrived:
            if not _worth_following(tr):
                continue
            box = tr.box
            for prev_gray, prev_found in reversed(self._scans):  # back through the chunk while it is there
                if any(t is tr for _, t in prev_found):
                    break
                box = self._find_near(prev_gray, tr, box, [_bounds(q) for q, _ in prev_found])
                if box is None:
                    break
                prev_found.append((_quad(box), tr))
                self.stats.followed += 1
        self.stats.followed += len(out)
        return out

    def _find_near(
        self, gray: np.ndarray, tr: _Track, box: tuple[int, int, int, int], taken: list[tuple[int, int, int, int]]
    ) -> tuple[int, int, int, int] | None:
        """Where ``tr``'s line is in ``gray`` near ``box``, or None (not there, or inside a box already taken)."""
        import cv2

        fh, fw = gray.shape
        th, tw = tr.sig.shape
        m = max(48, 2 * th)
        x0, y0, x1, y1 = box
        rx0, ry0, rx1, ry1 = max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, fw), min(y1 + m, fh)
        region = gray[ry0:ry1, rx0:rx1]
        if region.shape[0] < th or region.shape[1] < tw:
            return None
        res = cv2.matchTemplate(region, tr.sig, cv2.TM_SQDIFF)
        y, x = np.unravel_index(int(np.argmin(res)), res.shape)
        found = (rx0 + int(x), ry0 + int(y), rx0 + int(x) + tw, ry0 + int(y) + th)
        if any(_overlap(found, b) > 0.6 for b in taken):
            return None  # the detector found this place, as part of another box (neighbouring lines overlap less)
        if crop_distance(tr.sig, region[y : y + th, x : x + tw]) > self.box_threshold:
            return None
        return found

    def _match(self, sig: np.ndarray) -> _Track | None:
        """The remembered line whose crop shows the same text, or None."""
        best, best_d = None, math.inf
        for tr in self._tracks:
            d = crop_distance(tr.sig, sig)
            if d <= self.box_threshold and d < best_d:
                best, best_d = tr, d
        return best

    def _forget(self) -> None:
        keep = [tr for tr in self._tracks if self._tick - tr.last_seen < self.forget_after]
        self._tracks = keep[-self.memory :]

    def _recognise_pending(self) -> None:
        if not self._pending:
            return
        t0 = time.perf_counter()
        crops = [tr.crop for tr in self._pending]
        results = self.engine.recognize(crops)  # type: ignore[arg-type]
        if len(results) != len(crops):
            raise ClamrFramesError(f"the recognizer returned {len(results)} texts for {len(crops)} crops")
        for tr, (text, score) in zip(self._pending, results):
            tr.text = text.strip() if score >= self.min_score else ""
            tr.crop = None
        self.stats.recognised += len(crops)
        self._pending.clear()
        self.stats.rec_seconds += time.perf_counter() - t0


def _worth_following(tr: _Track) -> bool:
    """A line read as no text, or as symbols only (a shape the detector took for text), is not followed."""
    return tr.text is None or any(ch.isalnum() for ch in tr.text)


def _quad(box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection area over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1, min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])))


def _knobs_for(detector: str, knobs: dict[str, Any]) -> None:
    allowed = {
        "frame": {"pixel_threshold", "grid_width"},
        "none": {"pixel_threshold", "grid_width"},
        "text": {"det_side", "det_every", "box_threshold", "cut_threshold", "pixel_threshold", "grid_width",
                 "min_score", "memory", "forget_after"},
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
        detector = "text" if callable(getattr(engine, "detect", None)) and callable(getattr(engine, "recognize", None)) else "frame"
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
            ``box_threshold``, ``cut_threshold``, ``min_score``, ``memory``, ``forget_after``.

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
