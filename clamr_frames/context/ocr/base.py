"""What every OCR module shares: the defaults, the reader protocols, and the error when the ``ocr`` extra is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from clamr_frames.errors import (
    ClamrFramesError,
    InputError,
)

__all__ = [
    "DEFAULT_BOX_THRESHOLD",
    "DEFAULT_CHANGE_THRESHOLD",
    "DEFAULT_CUT_THRESHOLD",
    "DEFAULT_DET_EVERY",
    "DEFAULT_DET_SIDE",
    "DEFAULT_GRID_WIDTH",
    "DEFAULT_PIXEL_THRESHOLD",
    "DETECTORS",
    "OCR_EXTRA_HINT",
    "BoxReader",
    "OcrUnavailableError",
    "TextReader",
]

#: Defaults of the change detector (see :class:`ChangeDetector`).
DEFAULT_GRID_WIDTH = 96
DEFAULT_PIXEL_THRESHOLD = 12.0
DEFAULT_CHANGE_THRESHOLD = 0.001

#: Defaults of the text-region pass (see :class:`TextRegionPass`).
DEFAULT_DET_SIDE = 128
DEFAULT_DET_EVERY = 2
DEFAULT_BOX_THRESHOLD = 10.0
DEFAULT_CUT_THRESHOLD = 0.5
#: The change detectors :func:`make_ocr_pass` knows: text regions, whole frames, none (every frame is read).
DETECTORS = ("auto", "text", "frame", "none")

OCR_EXTRA_HINT = "pip install 'clamr-frames[ocr]' (rapidocr>=3 and onnxruntime)"


class OcrUnavailableError(ClamrFramesError, ImportError):
    """The optional OCR dependencies (the ``ocr`` extra: rapidocr + onnxruntime) are not installed."""


class TextReader(Protocol):
    """Anything that reads the text of one RGB frame (an :class:`OcrEngine`, or a stand-in in tests)."""

    def read(self, image: np.ndarray) -> str: ...


class BoxReader(Protocol):
    """What :class:`TextRegionPass` needs: text boxes of a frame, and the text of many box crops at once."""

    def detect(self, image: np.ndarray, *, side: int) -> np.ndarray:
        """Text boxes of an RGB frame as quadrilaterals ``[n, 4, 2]`` (x, y in the frame's pixels), found on
        the frame scaled so that its shorter side is ``side`` pixels."""
        ...

    def recognize(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of each RGB crop of one text line."""
        ...


def _check_image(image: Any, where: str = "image") -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise InputError(f"{where}: expected a numpy uint8 RGB array [H, W, 3], got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"{where}: expected an RGB array [H, W, 3], got shape {tuple(image.shape)}")
    if image.dtype != np.uint8:
        raise InputError(f"{where}: expected dtype uint8, got {image.dtype}")
    return image[..., :3]
