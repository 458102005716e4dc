"""Glyph memory: read a line whose characters changed in place (a counter, a timecode) from the glyphs of earlier
readings at the same place, without the recognizer.

A running counter on a test card or a timecode burnt into the picture shows new text in every candidate frame, so
:class:`~clamr_frames.context.ocr.textpass.TextRegionPass` reads it again each time (one recognizer run, about
20 ms of a core for a 48 x 180 crop). But its characters are drawn in one font, at one size, in one place: once a
reading has shown which glyph is which character, the next frame's line can be put together from the glyphs (an
adaptive classifier, as OCR engines have long used for a document's own font).

How a line is cut into glyphs (:func:`segment`): the crop is split into ink and background at Otsu's threshold;
ink that touches the crop's edge is the ground around the text (a caption's plate, colour bars) and is left out,
and of the two polarities the one with more character-sized pieces is the text. The ink columns form runs
separated by empty columns: one run a character in the fixed-pitch digits of counters and timecodes (``:`` and
``i`` are one run: their parts share columns). A recognised line teaches the memory only when its runs and its
characters (spaces left out) are as many, and its spaces fall exactly on the widest gaps; anything else (touching
letters, text over a busy picture) teaches nothing and is read by the recognizer as before.

How a line is read (:meth:`GlyphMemory.read`): every run must match one learned glyph of the same place, by the
share of pixels whose ink differs after the best shift of up to one pixel (at most ``max_mismatch``), clearly
better than any glyph of another character (``margin``), and every gap must be a space or not a space beyond
doubt. One unsure run and the whole line goes to the recognizer, whose reading then teaches the memory: the
memory never guesses, it only repeats what the recognizer read at that place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clamr_frames.context.ocr.regions import _overlap

#: Largest share of differing ink pixels at which a run is the learned glyph (H.264 noise on the glyph edges of
#: 448-pixel frames flips a few per cent; two different digits of one font differ by 15 % and more).
MAX_MISMATCH = 0.08
#: The best character's mismatch must be this much below any other character's.
MARGIN = 0.06
#: Glyphs kept per character and place (a glyph's look varies a little with its position on the pixel grid).
PER_CHAR = 4


@dataclass(frozen=True)
class Glyph:
    """One run of ink columns: its ink mask (rows of the line's crop, columns of the run) and where it starts."""

    x0: int
    mask: np.ndarray  # bool [h, w]


def segment(gray: np.ndarray) -> tuple[list[Glyph], list[int]] | None:
    """Cut a text-line crop (gray, float or uint8 ``[h, w]``) into runs of ink columns, and the gaps between them.

    Returns (glyphs left to right, gap widths in pixels between neighbours), or None when the crop has no clear
    ink (too small, flat, or ink on the border all around: text over a picture).

    >>> line = np.full((12, 30), 200, np.uint8); line[2:10, 3:6] = 0; line[2:10, 9:12] = 0; line[2:10, 20:24] = 0
    >>> glyphs, gaps = segment(line)
    >>> [g.x0 for g in glyphs], gaps
    ([3, 9, 20], [3, 8])
    """
    import cv2

    g = np.asarray(gray)
    if g.ndim != 2 or g.shape[0] < 8 or g.shape[1] < 4:
        return None
    u8 = np.clip(g, 0, 255).astype(np.uint8)
    if int(u8.max()) - int(u8.min()) < 40:  # no contrast: nothing to cut
        return None
    t, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = max((_glyph_ink(u8 > t), _glyph_ink(u8 <= t)), key=lambda m: m[1])[0]
    if ink is None:
        return None
    cols = ink.sum(axis=0) > 0
    glyphs: list[Glyph] = []
    gaps: list[int] = []
    x, w = 0, cols.size
    last_end = None
    while x < w:
        if not cols[x]:
            x += 1
            continue
        x0 = x
        while x < w and cols[x]:
            x += 1
        if last_end is not None:
            gaps.append(x0 - last_end)
        glyphs.append(Glyph(x0, ink[:, x0:x]))
        last_end = x
    return (glyphs, gaps) if glyphs else None


def _glyph_ink(ink: np.ndarray) -> tuple[np.ndarray | None, int]:
    """The ink of one polarity less what touches the crop's edge (the ground around a caption's plate: colour bars,
    a frame) and specks; and how many pieces of it are character-sized (at least 40 % of the crop's height), by
    which the polarity of the text is chosen."""
    import cv2

    h, w = ink.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.view(np.uint8), connectivity=8)
    x, y, bw, bh, area = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3], stats[:, 4]
    keep = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h) & (area >= 3)
    keep[0] = False  # label 0: the other polarity
    if not keep.any():
        return None, 0
    return keep[labels], int((keep & (bh >= 0.4 * h)).sum())


def mismatch(a: np.ndarray, b: np.ndarray) -> float:
    """Share of differing pixels of two ink masks at their best relative shift of up to one pixel each way,
    over the pixels inked in either (1.0 when their widths or heights differ by more than one pixel).

    >>> a = np.zeros((8, 4), bool); a[1:7, 1] = True          # a bar, like a "1"
    >>> b = np.zeros((8, 4), bool); b[4, :] = True             # a dash
    >>> mismatch(a, a), mismatch(a, np.roll(a, 1, axis=1)), mismatch(a, b) > 0.5
    (0.0, 0.0, True)
    """
    (ha, wa), (hb, wb) = a.shape, b.shape
    if abs(ha - hb) > 1 or abs(wa - wb) > 1:
        return 1.0
    pa = np.zeros((ha + 2, wa + 2), bool)
    pa[1 : 1 + ha, 1 : 1 + wa] = a
    ink_a, ink_b = int(a.sum()), int(b.sum())
    best = 1.0
    for dy in range(ha + 3 - hb):
        for dx in range(wa + 3 - wb):
            win = pa[dy : dy + hb, dx : dx + wb]
            both = int((win & b).sum())
            union = ink_a + ink_b - both
            if union:  # differing: ink of either that the other lacks (a's ink outside the window included)
                best = min(best, (union - both) / union)
    return best


def _key(mask: np.ndarray) -> bytes:
    return mask.shape[0].to_bytes(2, "little") + mask.shape[1].to_bytes(2, "little") + np.packbits(mask).tobytes()


@dataclass
class _Place:
    """The glyphs learned at one place of the picture (a line's box), per character, and its gap widths."""

    box: tuple[int, int, int, int]
    height: int
    glyphs: dict[str, list[np.ndarray]] = field(default_factory=dict)
    exact: dict[bytes, str | None] = field(default_factory=dict)  # a mask seen before, to the letter (None: two chars)
    tight: int = -1  # widest gap seen between characters of one word
    space: int = 1 << 30  # narrowest gap seen where the text had a space


@dataclass
class GlyphMemory:
    """Glyphs learned from recognised lines, by place; reads a changed line at a known place without the
    recognizer when every glyph is certain (see the module docstring).

    Attributes:
        max_mismatch / margin: the match tests (:data:`MAX_MISMATCH`, :data:`MARGIN`).
        places: most places remembered (the oldest is forgotten first).
    """

    max_mismatch: float = MAX_MISMATCH
    margin: float = MARGIN
    places: int = 32
    _places: list[_Place] = field(default_factory=list)

    def _place(self, box: tuple[int, int, int, int], height: int) -> _Place | None:
        for p in reversed(self._places):
            if abs(p.height - height) <= 1 and _overlap(p.box, box) > 0.8:
                return p
        return None

    def learn(self, box: tuple[int, int, int, int], gray: np.ndarray, text: str) -> bool:
        """Learn the glyphs of a line the recognizer read as ``text`` at ``box``; False (nothing learned) unless its
        ink runs and characters pair up one to one and its spaces lie exactly on its widest gaps."""
        words = text.split()
        chars = "".join(words)
        if not chars:
            return False
        cut = segment(gray)
        if cut is None:
            return False
        glyphs, gaps = cut
        if len(glyphs) != len(chars):
            return False
        spaces = set(np.cumsum([len(w) for w in words[:-1]]) - 1)  # gap i lies after character i
        inner = [g for i, g in enumerate(gaps) if i not in spaces]
        wide = [g for i, g in enumerate(gaps) if i in spaces]
        if inner and wide and max(inner) >= min(wide):
            return False
        place = self._place(box, gray.shape[0])
        if place is None:
            place = _Place(box, gray.shape[0])
            self._places.append(place)
            del self._places[: -self.places]
        if inner:
            place.tight = max(place.tight, max(inner))
        if wide:
            place.space = min(place.space, min(wide))
        if place.tight >= place.space:  # spacing no longer tells words apart here
            self._places.remove(place)
            return False
        for ch, g in zip(chars, glyphs):
            key = _key(g.mask)
            if key in place.exact:
                if place.exact[key] != ch:
                    place.exact[key] = None  # one mask, two readings: it decides nothing
                continue
            if len(place.exact) < 4096:
                place.exact[key] = ch
            seen = place.glyphs.setdefault(ch, [])
            if not any(mismatch(g.mask, m) <= self.max_mismatch / 2 for m in seen):
                seen.append(g.mask)
                del seen[: -PER_CHAR]
        return True

    def read(self, box: tuple[int, int, int, int], gray: np.ndarray) -> str | None:
        """The line at ``box`` (gray crop) put together from learned glyphs, or None when any glyph or gap is
        not certain (the recognizer must read it)."""
        place = self._place(box, gray.shape[0])
        if place is None or not place.glyphs:
            return None
        cut = segment(gray)
        if cut is None:
            return None
        glyphs, gaps = cut
        out = []
        for i, g in enumerate(glyphs):
            ch = place.exact.get(_key(g.mask))
            if ch is None:  # not seen to the letter: the nearest learned glyphs of about its size
                h, w = g.mask.shape
                scores = sorted(
                    (min(mismatch(g.mask, m) for m in near), c)
                    for c, masks in place.glyphs.items()
                    if (near := [m for m in masks if abs(m.shape[0] - h) <= 1 and abs(m.shape[1] - w) <= 1])
                )
                if not scores:
                    return None
                best, ch = scores[0]
                if best > self.max_mismatch or (len(scores) > 1 and scores[1][0] - best < self.margin):
                    return None
            if i:
                gap = gaps[i - 1]
                if gap <= place.tight:
                    pass
                elif gap >= place.space:
                    out.append(" ")
                else:
                    return None  # a gap the readings so far do not tell
            out.append(ch)
        return "".join(out)


__all__ = ["MARGIN", "MAX_MISMATCH", "PER_CHAR", "Glyph", "GlyphMemory", "mismatch", "segment"]
