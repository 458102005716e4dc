"""Change detection: OCR only frames whose picture changed since the last frame that was read."""

from __future__ import annotations

import numpy as np

from clamr_frames.context.ocr.base import (
    DEFAULT_CHANGE_THRESHOLD,
    DEFAULT_GRID_WIDTH,
    DEFAULT_PIXEL_THRESHOLD,
    _check_image,
)
from clamr_frames.errors import (
    InputError,
)


def frame_signature(image: np.ndarray, grid_width: int = DEFAULT_GRID_WIDTH) -> np.ndarray:
    """Grayscale thumbnail (area average) ``[round(grid_width·H/W), grid_width]`` float32 of an RGB frame.

    >>> frame_signature(np.zeros((180, 320, 3), np.uint8)).shape
    (54, 96)
    """
    rgb = _check_image(image)
    h, w = rgb.shape[:2]
    gw = max(1, min(int(grid_width), w))
    gh = max(1, min(int(round(gw * h / w)), h))
    gray = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    ys = (np.arange(gh + 1) * h) // gh
    xs = (np.arange(gw + 1) * w) // gw
    sums = np.add.reduceat(np.add.reduceat(gray, ys[:-1], axis=0), xs[:-1], axis=1)
    return sums / np.outer(np.diff(ys), np.diff(xs)).astype(np.float32)


def change_fraction(a: np.ndarray, b: np.ndarray, pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD) -> float:
    """Fraction of thumbnail cells whose gray level differs by more than ``pixel_threshold`` (0–255).

    Thumbnails of different shapes (a resolution change) count as fully changed.

    >>> a = np.zeros((4, 4), np.float32); b = a.copy(); b[0, 0] = 50
    >>> change_fraction(a, b)
    0.0625
    """
    if a.shape != b.shape:
        return 1.0
    return float(np.mean(np.abs(a - b) > pixel_threshold))


class ChangeDetector:
    """Says whether a frame differs from the last *accepted* one enough that its text may have changed.

    A frame is reduced to a grayscale thumbnail ``grid_width`` cells wide; it counts as changed when more than
    ``change_threshold`` of the cells moved by more than ``pixel_threshold`` gray levels. Comparing against the
    last accepted frame (not the previous one) means slow drift still triggers eventually.

    Why cells and not the mean absolute difference: on 320x180 frames with ±3 levels of noise, changing one
    word of a small sign moved the 64-wide thumbnail's mean difference by only ~0.5 levels (0.30 noise vs
    0.84), while it changed ~1.5 % of the cells by more than 6 levels and noise changed none. The thumbnail is
    grayscale, so a change of hue alone at equal brightness is not seen (text that OCR can read differs from its
    background in brightness).

    Args:
        change_threshold: fraction of cells (0 → every frame counts as changed).
        pixel_threshold: gray-level difference that makes a cell changed.
        grid_width: thumbnail width in cells.
    """

    def __init__(
        self,
        change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
        *,
        pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD,
        grid_width: int = DEFAULT_GRID_WIDTH,
    ) -> None:
        if not 0.0 <= change_threshold < 1.0:
            raise InputError(f"change_threshold must be in [0, 1), got {change_threshold}")
        if pixel_threshold < 0 or grid_width < 1:
            raise InputError("pixel_threshold must be >= 0 and grid_width >= 1")
        self.change_threshold = float(change_threshold)
        self.pixel_threshold = float(pixel_threshold)
        self.grid_width = int(grid_width)
        self._ref: np.ndarray | None = None

    def changed(self, image: np.ndarray) -> bool:
        """True if ``image`` differs from the last accepted frame (always for the first frame); a changed
        frame becomes the new reference."""
        sig = frame_signature(image, self.grid_width)
        if self._ref is None or self.change_threshold <= 0.0 or (
            change_fraction(self._ref, sig, self.pixel_threshold) > self.change_threshold
        ):
            self._ref = sig
            return True
        return False

    def reset(self) -> None:
        self._ref = None

    @property
    def detector_id(self) -> str:
        return f"change{self.change_threshold:g}/px{self.pixel_threshold:g}/grid{self.grid_width}"
