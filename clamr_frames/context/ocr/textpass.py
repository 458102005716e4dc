"""The text-aware OCR pass (:class:`TextRegionPass`): re-read only the text lines that are new or changed, found by
a text detector on a downscaled frame, or looked at where they stood when nothing else in the picture moved."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
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
    BoxReader,
)
from clamr_frames.context.ocr.cache import OcrCache
from clamr_frames.context.ocr.change import (
    change_fraction,
    frame_signature,
)
from clamr_frames.context.ocr.engine import _reading_order
from clamr_frames.context.ocr.glyphs import GlyphMemory
from clamr_frames.context.ocr.passes import _ChunkPass
from clamr_frames.context.ocr.regions import (
    _bounds,
    _overlap,
    _quad,
    cell_box,
    crop_distance,
    crop_quad,
    crop_signature,
    crop_thumbnail,
    histogram_distance,
    sizes_match,
    unchanged_share,
)
from clamr_frames.errors import (
    ClamrFramesError,
    InputError,
)


@dataclass(eq=False)
class _Track:
    """A text line read (or about to be read) in the current shot."""

    sig: np.ndarray  # signature of the crop that was read
    last_seen: int
    box: tuple[int, int, int, int]  # where it was last seen: x0, y0, x1, y1 in frame pixels
    crop: np.ndarray | None = None  # kept until the chunk's batch is recognised
    text: str | None = None  # None until recognised
    thumb: np.ndarray | None = None  # crop_thumbnail(sig), made when first needed


#: Remembered lines compared in full (crop_distance) with a new crop: the nearest by their thumbnails.
NEAREST = 3


_SAME = "same"
#: Share of a line's crop that must be unchanged at its box for the line to count as still there, changed in part
#: (a timecode's seconds and frames: 4 of 11 characters change).
IN_PLACE_SHARE = 0.4  # a chunk item: the previous frame's text


class TextRegionPass(_ChunkPass):
    """Text-aware change detection: re-read only the text boxes that are new or changed.

    Fed chunk by chunk in time order like :class:`OcrPass`. For each decoded frame:

    1. a frame whose whole picture did not change (the :class:`ChangeDetector` test against the last scanned
       frame) reuses that frame's text — slides and static shots cost a thumbnail;
    2. a jump of the gray-level histogram (:func:`histogram_distance` above ``cut_threshold``) is a scene
       cut: the memory of read boxes is cleared (the archive of lines read before stays: a caption that comes
       back after a cut is recognised by its crop, not read again);
    3. the text detector runs on the frame scaled to ``det_side`` pixels on its shorter side, and every box
       is cut from the full-size frame — unless nothing outside the lines of the previous frame changed since
       the last detection (``steady``: a test card whose counters run, a caption over a still shot): no line
       can have appeared, so the lines are looked at where they are;
    4. a box whose crop matches a line read earlier in the shot (similar size, :func:`crop_distance` at
       most ``box_threshold``) reuses its text, wherever the box now is (a panning camera moves signs);
    5. a line of the previous frame that the detector missed (or did not look for) is looked for near where it
       was, and kept when its crop is still there (a detector on a downscaled frame flickers); a line whose
       crop changed while the picture around it did not (a counter, a timecode) is read again at its box;
    6. the other boxes are recognised together, in one batch per chunk, after all its frames are scanned;
       a line read again at its box is first put together from the glyphs that earlier readings at that place
       taught (:class:`~clamr_frames.context.ocr.glyphs.GlyphMemory`: a counter's digits), and goes to the
       recognizer only when a glyph or a gap is not certain.

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
        glyphs: read lines that changed in place from learned glyphs when certain (False: always recognise).
        archive: lines read by the recognizer that are remembered across scene cuts (the shot's memory is cleared
            at a cut), so that a caption or title that comes back later in the video is not read again; 0: none.
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
        glyphs: bool = True,
        archive: int = 256,
        cache: OcrCache | None = None,
        video_fingerprint: str | None = None,
    ) -> None:
        # the whole-frame knobs are validated by the ChangeDetector it builds; its thumbnails are computed here
        super().__init__(engine, {"change_threshold": change_threshold, "pixel_threshold": pixel_threshold,
                                  "grid_width": grid_width}, cache, video_fingerprint)
        if not (callable(getattr(engine, "detect", None)) and callable(getattr(engine, "recognize", None))):
            raise InputError("the text-region pass needs an engine with detect() and recognize(), "
                             f"got {type(engine).__name__}")
        if det_side < 32:
            raise InputError(f"det_side must be >= 32, got {det_side}")
        if det_every < 1:
            raise InputError(f"det_every must be >= 1, got {det_every}")
        if box_threshold < 0 or not 0.0 < cut_threshold <= 1.0:
            raise InputError("box_threshold must be >= 0 and cut_threshold in (0, 1]")
        if memory < 1 or forget_after < 1:
            raise InputError("memory and forget_after must be >= 1")
        if isinstance(archive, bool) or not isinstance(archive, int) or archive < 0:
            raise InputError(f"archive must be an integer >= 0, got {archive!r}")
        self.det_side = int(det_side)
        self.det_every = int(det_every)
        self.box_threshold = float(box_threshold)
        self.cut_threshold = float(cut_threshold)
        self.min_score = float(getattr(engine, "min_score", 0.5) if min_score is None else min_score)
        self.memory = int(memory)
        self.forget_after = int(forget_after)
        self._lines: Callable[[Sequence[Any], Sequence[str]], list[str]] = getattr(engine, "lines", _reading_order)
        self._tracks: list[_Track] = []
        self._glyphs: GlyphMemory | None = GlyphMemory() if glyphs else None
        self._archive: list[_Track] = []  # lines the recognizer read, kept across cuts (most recently useful last)
        self._archive_size = int(archive)
        self._pending: list[_Track] = []
        self._ref: np.ndarray | None = None
        self._scans: list[tuple[np.ndarray, list[tuple[np.ndarray, _Track]]]] = []  # (gray frame, its lines)
        self._tick = 0
        self._since_det = 0
        self._det_ref: np.ndarray | None = None  # thumbnail of the frame of the last detection
        self._still = False  # the last decoded frame did not change
        self._last_text = ""
        self.ocr_id = (
            f"{self.engine_id}/text-det{self.det_side}" + (f"x{self.det_every}" if self.det_every > 1 else "")
            + f"/box{self.box_threshold:g}/cut{self.cut_threshold:g}/"
            f"score{self.min_score:g}/{self.frame_test.detector_id}" + ("/glyphs" if glyphs else "")
            + (f"/archive{archive}" if archive else "")
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
                    self._ref = frame_signature(frame, self.frame_test.grid_width)
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
        rec0 = self.stats.rec_seconds  # lines read in place may be recognised during the scan
        self.stats.frames += 1
        ft = self.frame_test
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
            self._det_ref = None
            self.stats.cuts += 1
        self._ref = sig
        self._tick += 1
        self._since_det += 1
        t1 = time.perf_counter()
        event = force or cut or ref is None or self._still
        self._still = False
        changed = None if ref is None or ref.shape != sig.shape else np.abs(sig - ref) > ft.pixel_threshold
        steady = self._steady(frame.shape, sig)
        if steady:  # no line can have appeared: the lines are looked at where they are
            quads = np.zeros((0, 4, 2), np.float32)
            self.stats.steady += 1
        elif event or self._since_det >= self.det_every:
            quads = self.engine.detect(frame, side=self.det_side)
            self._since_det = 0
            self._det_ref = sig
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
                text = self._recall(csig, box)
                track = _Track(csig, self._tick, box, crop=crop if text is None else None, text=text)
                self._tracks.append(track)
                if text is None:
                    self._pending.append(track)
                arrived.append(track)
            else:
                self.stats.reused += 1
                if track.last_seen < self._tick - 1:
                    arrived.append(track)
            track.last_seen, track.box = self._tick, box
            found.append((quad, track))
        gray = crop_signature(frame)
        found += self._follow(frame, gray, changed, steady, found, arrived)
        self._scans.append((gray, found))
        self._forget()
        self.stats.other_seconds += (t1 - t0) + (time.perf_counter() - t2) - (self.stats.rec_seconds - rec0)
        return ("boxes", found)

    def _steady(self, frame_shape: tuple[int, ...], sig: np.ndarray) -> bool:
        """Whether nothing outside the lines of the previous scanned frame changed since the last detection
        (thumbnail cells, as the whole-frame test counts them; each line's box grown by a cell)."""
        ref = self._det_ref
        if ref is None or ref.shape != sig.shape:
            return False
        outside = np.abs(sig - ref) > self.frame_test.pixel_threshold
        for tr in self._tracks:
            if tr.last_seen == self._tick - 1:
                y0, y1, x0, x1 = cell_box(tr.box, frame_shape, sig.shape, pad=1)
                outside[y0:y1, x0:x1] = False
        return float(outside.mean()) <= self.frame_test.change_threshold

    def _follow(
        self,
        frame: np.ndarray,
        gray: np.ndarray,
        changed: np.ndarray | None,
        steady: bool,
        found: list[tuple[np.ndarray, _Track]],
        arrived: list[_Track],
    ) -> list[tuple[np.ndarray, _Track]]:
        """Lines the detector missed in this frame, or in the frames just before, that are there all the same.

        A detector on a downscaled frame now and then misses a line it finds a frame earlier or later (and
        with ``det_every`` > 1 it does not look at every frame). A line of the previous scanned frame that is
        missing now is looked for near where it was in this frame (``gray``); a line found now that was not in
        the previous scanned frame is looked for in the frames before this one, back through the chunk (whose
        texts are not handed out yet) while it is there. Near: within two line heights, at least 48 pixels, as
        a camera moves it; there: a crop at the best place matches the line's read crop
        (:func:`crop_distance`). A missing line is first looked for at its box (cheap: most lines stay put),
        and when its crop there changed while the line stood still (``steady``: nothing outside the lines
        changed; or :meth:`_stood_still`, with ``changed`` the thumbnail cells that changed since the previous
        scanned frame), it shows other text in the same place: its box is read again (:meth:`_read_in_place`).
        """
        here = {id(tr) for _, tr in found}
        missing = [tr for tr in self._tracks
                   if tr.last_seen == self._tick - 1 and id(tr) not in here and _worth_following(tr)]
        out = []
        if missing:
            boxes = [tr.box for _, tr in found]
            for tr in missing:
                if any(_overlap(tr.box, b) > 0.6 for b in boxes):
                    continue  # the detector found this place, as part of another box
                if crop_distance(tr.sig, _cut(gray, tr.box, 2)) <= self.box_threshold:
                    box: tuple[int, int, int, int] | None = tr.box  # where it was
                elif steady or self._stood_still(changed, _cut(gray, tr.box, 4), frame_shape=gray.shape, tr=tr):
                    if tr.text is None:  # read the lines waiting for the batch now: a line of no text is not read again
                        self._recognise_pending()
                    again = self._read_in_place(frame, tr) if _worth_following(tr) else None
                    if again is not None:
                        boxes.append(tr.box)
                        out.append((_quad(tr.box), again))
                    continue
                else:
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

    def _stood_still(self, changed: np.ndarray | None, area: np.ndarray, *, frame_shape: tuple[int, ...],
                     tr: _Track) -> bool:
        """Whether ``tr``'s line is still at its box with some of its characters changed: part of its crop is
        unchanged there (:func:`unchanged_share` at least ``IN_PLACE_SHARE``: a counter, a timecode), or no
        thumbnail cell changed in a ring around its box (a line height wide, at least two cells; other lines'
        boxes left out: the camera did not move there, only what the box shows changed). ``area``: the gray
        frame at the line's box, grown by a few pixels."""
        if unchanged_share(tr.sig, area, self.box_threshold) >= IN_PLACE_SHARE:
            return True
        if changed is None:
            return False
        y0, y1, _, _ = cell_box(tr.box, frame_shape, changed.shape, pad=1)
        m = 1 + max(2, y1 - y0)
        Y0, Y1, X0, X1 = cell_box(tr.box, frame_shape, changed.shape, pad=m)
        ring = np.ones((Y1 - Y0, X1 - X0), bool)
        for other in self._tracks:
            if other.last_seen < self._tick - 1:
                continue
            a0, a1, b0, b1 = cell_box(other.box, frame_shape, changed.shape, pad=1)
            ring[max(a0 - Y0, 0) : max(a1 - Y0, 0), max(b0 - X0, 0) : max(b1 - X0, 0)] = False
        return bool(ring.sum() >= 8 and not changed[Y0:Y1, X0:X1][ring].any())

    def _read_in_place(self, frame: np.ndarray, tr: _Track) -> _Track | None:
        """The line now at ``tr``'s box: one read before at this place (the memory: a looping timecode), or a new
        one waiting for the batch."""
        crop = crop_quad(frame, _quad(tr.box))
        if crop is None:
            return None
        csig = crop_signature(crop)
        again = self._match(csig, [t for t in self._tracks if _overlap(t.box, tr.box) > 0.6])
        if again is None:
            text = self._recall(csig, tr.box)
            again = _Track(csig, self._tick, tr.box, crop=crop if text is None else None, text=text)
            self._tracks.append(again)
            self.stats.in_place += 1
            if text is None:
                self._pending.append(again)
        else:
            self.stats.reused += 1
        again.last_seen, again.box = self._tick, tr.box
        return again

    def _match(self, sig: np.ndarray, tracks: list[_Track] | None = None) -> _Track | None:
        """The remembered line (of ``tracks``, default all) whose crop shows the same text, or None. Of many lines
        of about its size, only the ``NEAREST`` nearest by thumbnail are compared in full (:func:`crop_distance`
        aligns the crops: about 0.2 ms a pair)."""
        near = [tr for tr in (self._tracks if tracks is None else tracks) if sizes_match(tr.sig.shape, sig.shape)]
        if len(near) > NEAREST:
            for tr in near:
                if tr.thumb is None:
                    tr.thumb = crop_thumbnail(tr.sig)
            thumbs = np.stack([tr.thumb for tr in near])  # type: ignore[misc]
            d = np.abs(thumbs - crop_thumbnail(sig)).mean(axis=(1, 2))
            near = [near[i] for i in np.argsort(d, kind="stable")[:NEAREST]]
        best, best_d = None, math.inf
        for tr in near:
            d = crop_distance(tr.sig, sig)
            if d <= self.box_threshold and d < best_d:
                best, best_d = tr, d
        return best

    def _recall(self, sig: np.ndarray, box: tuple[int, int, int, int]) -> str | None:
        """The text of a line that no line of the shot matches, without the recognizer: a line read earlier in the
        video whose crop shows the same text (the archive: a caption that comes back after a cut), or the glyphs
        learned at ``box`` (:class:`~clamr_frames.context.ocr.glyphs.GlyphMemory`); None: it must be read."""
        old = self._match(sig, self._archive) if self._archive else None
        if old is not None:
            self._archive.remove(old)
            self._archive.append(old)  # the most recently useful are kept longest
            self.stats.reused += 1
            self.stats.recalled += 1
            return old.text
        text = self._glyphs.read(box, sig) if self._glyphs is not None else None
        if text is not None:
            self.stats.glyph_reads += 1
        return text

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
            if self._glyphs is not None and tr.text:
                self._glyphs.learn(tr.box, tr.sig, tr.text)
            if self._archive_size and sum(ch.isalnum() for ch in tr.text) >= 2:
                # a line of no text, or of one letter or symbol, is not archived: such readings are of shapes the
                # detector took for text, and the recognizer reads two look-alike crops of them either way
                self._archive.append(tr)
        if len(self._archive) > self._archive_size:
            del self._archive[: len(self._archive) - self._archive_size]
        self.stats.recognised += len(crops)
        self._pending.clear()
        self.stats.rec_seconds += time.perf_counter() - t0


def _cut(gray: np.ndarray, box: tuple[int, int, int, int], grow: int) -> np.ndarray:
    """The part of a gray frame inside ``box`` grown by ``grow`` pixels on each side (clipped to the frame)."""
    x0, y0, x1, y1 = box
    return gray[max(y0 - grow, 0) : y1 + grow, max(x0 - grow, 0) : x1 + grow]


def _worth_following(tr: _Track) -> bool:
    """A line read as no text, or as symbols only (a shape the detector took for text), is not followed."""
    return tr.text is None or any(ch.isalnum() for ch in tr.text)
