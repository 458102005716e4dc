"""clamr-frames: pick the frames a video-QA model should look at.

Heavy dependencies (torch, transformers, decord, PyAV) are imported lazily so that
``import clamr_frames`` stays fast and works without the optional backends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clamr_frames.errors import (
    ClamrFramesError,
    IndexCacheError,
    InputError,
    ModelLoadError,
    SubtitleError,
    VideoError,
)

__version__ = "0.1.0"

__all__ = [
    "ClamrFramesError",
    "FrameSelector",
    "IndexCacheError",
    "InputError",
    "ModelLoadError",
    "Selection",
    "SubtitleError",
    "VideoError",
    "VideoReader",
    "__version__",
]

_LAZY = {
    "FrameSelector": "clamr_frames.selector",
    "Selection": "clamr_frames.selector",
    "VideoReader": "clamr_frames.video",
}

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.selector import FrameSelector, Selection
    from clamr_frames.video import VideoReader


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'clamr_frames' has no attribute {name!r}")
