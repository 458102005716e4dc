"""Text regions: crops of text lines, their signatures, and scene cuts (what :class:`~clamr_frames.context.ocr.passes.TextRegionPass`
compares from frame to frame)."""

from __future__ import annotations

import math

import numpy as np


def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """The text line inside ``quad`` (``[4, 2]``: top-left, top-right, bottom-right, bottom-left) of an RGB
    frame; None if degenerate.

    A box within 5 degrees of horizontal (nearly every line in video) is cut as its pixel-aligned bounding
    rectangle: resampling at fractional positions would make two crops of the same text differ. A tilted box
    is warped upright, and a line much taller than wide is turned to be read sideways.
    """
    import cv2

    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    top = q[1] - q[0]
    if abs(math.degrees(math.atan2(float(top[1]), float(top[0])))) <= 5.0:
        h, w = image.shape[:2]
        x0, y0, x1, y1 = _bounds(q)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        crop = image[y0:y1, x0:x1]
    else:
        w = int(round(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[3] - q[2]))))
        h = int(round(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2]))))
        if w < 2 or h < 2:
            return None
        dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        m = cv2.getPerspectiveTransform(q, dst)
        crop = cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if crop.shape[0] >= 1.5 * crop.shape[1]:
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


def crop_signature(crop: np.ndarray) -> np.ndarray:
    """Grayscale float32 copy of an RGB text-line crop, at its own pixel size (what :func:`crop_distance`
    compares; the text's size in pixels is a property of the text, the box's size is not)."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY).astype(np.float32)


def crop_distance(a: np.ndarray, b: np.ndarray) -> float:
    """How much two text-line crops (:func:`crop_signature`) differ where they differ most, in gray levels.

    Boxes found on a downscaled frame are a few pixels off, and a camera moves them, so the crops are first
    aligned: the centre of the smaller crop (a margin of 15 % of its height above and below, 25 % left and
    right) is slid over the larger one (``cv2.matchTemplate``). At the best position both parts lose their
    mean (a fade or an exposure change is not a change of the text) and the absolute difference is averaged
    over blocks of columns a quarter of the line's height wide (about half a character); the result is the
    largest block mean. On H.264 footage of a panning camera the same line measured at most 3.6 gray
    levels, while one changed character measured 18 (E → F) to 98, other lines 80 and more.

    ``inf`` when the crops' sizes differ too much to show the same line (heights by more than a quarter,
    widths by more than 15 %, plus a few pixels of detector slack): a longer or shorter text is another line.

    >>> a = np.zeros((20, 80), np.float32); a[5:15, 10:70:6] = 200
    >>> b = a.copy(); b[5:15, 40:46] = 200
    >>> crop_distance(a, a), crop_distance(a, b) > 40
    (0.0, True)
    """
    import cv2

    if not sizes_match(a.shape, b.shape):
        return math.inf
    if a.size < b.size:
        a, b = b, a
    h, w = b.shape
    my, mx = max(1, round(0.15 * h)), max(1, round(0.25 * h))
    tpl = np.ascontiguousarray(b[my : h - my, mx : w - mx])
    th, tw = tpl.shape
    if th < 2 or tw < 2 or th > a.shape[0] or tw > a.shape[1]:
        return math.inf
    res = cv2.matchTemplate(np.ascontiguousarray(a), tpl, cv2.TM_SQDIFF)
    y, x = np.unravel_index(int(np.argmin(res)), res.shape)
    part = a[y : y + th, x : x + tw]
    col = np.abs((part - part.mean()) - (tpl - tpl.mean())).mean(axis=0)
    block = max(2, th // 4)
    starts = np.arange(0, col.size, block)
    return float((np.add.reduceat(col, starts) / np.diff(np.append(starts, col.size))).max())


def sizes_match(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether two crops (``(height, width)``) are close enough in size to show the same line (see
    :func:`crop_distance`)."""
    (ha, wa), (hb, wb) = a[:2], b[:2]
    return abs(ha - hb) <= 0.25 * max(ha, hb) + 2 and abs(wa - wb) <= 0.15 * max(wa, wb) + 4


def crop_thumbnail(sig: np.ndarray) -> np.ndarray:
    """A crop (:func:`crop_signature`) shrunk to 8 x 32 cells, less its mean: a coarse look that a shift of a few
    pixels barely changes, to rank many remembered crops before :func:`crop_distance` compares the nearest."""
    import cv2

    t = cv2.resize(sig, (32, 8), interpolation=cv2.INTER_AREA)
    return t - t.mean()


def unchanged_share(sig: np.ndarray, area: np.ndarray, threshold: float) -> float:
    """Share of the column blocks (as :func:`crop_distance` cuts them) of a line's crop ``sig`` that are unchanged,
    within ``threshold`` gray levels, in ``area`` — the same place in a later frame, a few pixels larger on each
    side (both :func:`crop_signature`); 0 when ``area`` is smaller than the line.

    A counter or a timecode that moved on changes a few characters of its line and leaves the rest, where a
    moving camera changes every block. ``sig`` less a 2-pixel border is aligned in ``area`` first (a box cut
    from a downscaled detection is not exact), and the difference loses its median (an exposure change is no
    change).

    >>> a = np.zeros((20, 80), np.float32); a[5:15, 10:70:6] = 200
    >>> b = a.copy(); b[5:15, 60:70] = 200
    >>> grown = lambda x: np.pad(x, 3)
    >>> round(unchanged_share(a, grown(a), 10.0), 2), round(unchanged_share(a, grown(b), 10.0), 2)
    (1.0, 0.84)
    """
    import cv2

    if min(sig.shape) < 8:
        return 0.0
    tpl = np.ascontiguousarray(sig[2:-2, 2:-2])
    th, tw = tpl.shape
    if area.shape[0] < th or area.shape[1] < tw:
        return 0.0
    res = cv2.matchTemplate(np.ascontiguousarray(area, dtype=np.float32), tpl, cv2.TM_SQDIFF)
    y, x = np.unravel_index(int(np.argmin(res)), res.shape)
    d = area[y : y + th, x : x + tw] - tpl
    col = np.abs(d - np.median(d)).mean(axis=0)
    block = max(2, th // 4)
    starts = np.arange(0, col.size, block)
    blocks = np.add.reduceat(col, starts) / np.diff(np.append(starts, col.size))
    return float(np.mean(blocks <= threshold))


def histogram_distance(a: np.ndarray, b: np.ndarray, bins: int = 32) -> float:
    """Total-variation distance (0–1) of the gray-level histograms of two frame thumbnails: the share of the
    picture's brightness mass that moved. A camera pan keeps it small; a cut to another shot makes it large.

    >>> a = np.zeros((4, 4), np.float32)
    >>> histogram_distance(a, a), histogram_distance(a, a + 200)
    (0.0, 1.0)
    """
    ha = np.histogram(a, bins, (0.0, 256.0))[0] / max(a.size, 1)
    hb = np.histogram(b, bins, (0.0, 256.0))[0] / max(b.size, 1)
    return float(0.5 * np.abs(ha - hb).sum())


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


def cell_box(box: tuple[int, int, int, int], frame_shape: tuple[int, ...], grid_shape: tuple[int, ...],
             pad: int = 0) -> tuple[int, int, int, int]:
    """The cells ``(y0, y1, x0, x1)`` of a frame thumbnail (:func:`~clamr_frames.context.ocr.change.frame_signature`,
    shape ``grid_shape``) that a box ``(x0, y0, x1, y1)`` in frame pixels touches, grown by ``pad`` cells.

    >>> cell_box((10, 20, 50, 30), (180, 320), (54, 96), pad=1)
    (5, 10, 2, 16)
    """
    fh, fw = frame_shape[:2]
    gh, gw = grid_shape[:2]
    x0, y0, x1, y1 = box
    return (max(0, y0 * gh // fh - pad), min(gh, -(-y1 * gh // fh) + pad),
            max(0, x0 * gw // fw - pad), min(gw, -(-x1 * gw // fw) + pad))


def _bounds(quad: np.ndarray) -> tuple[int, int, int, int]:
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    x0, y0 = np.floor(q.min(axis=0)).astype(int)
    x1, y1 = np.ceil(q.max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)
