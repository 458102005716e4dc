"""Handing picked frames to an answering model with their times (qwen_vl_utils-style chat content).

A selection is not evenly spaced, but a video item tells Qwen2.5-VL only one sampling rate: its processor turns
``fps`` into the seconds each temporal patch spans (``second_per_grid_ts``), which its time-aligned rotary ids
(MRoPE) multiply out, and qwen_vl_utils assumes 2 fps for a list of frames unless told otherwise. Two ways to
give the model the real times, shared by :meth:`clamr_frames.Selection.to_qwen_messages` and the harness's Qwen
answerer:

``frames_as="video"``
    one video item whose rate is the average one, ``k / duration`` (``sample_fps`` for qwen_vl_utils): the
    model's time axis spans the real length of the video. Two frames share a temporal patch, so it costs half the
    visual tokens of ``"images"``; the times of individual frames are only approximate when the picks cluster.
``frames_as="images"``
    one image item per frame, each preceded by its timestamp as text (``<12.0 seconds>``): the exact time of
    every frame, at twice the visual tokens, with no temporal position ids (the model reads the times).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clamr_frames.errors import InputError

#: The two ways of handing frames over (see the module docstring).
FRAMES_AS = ("video", "images")


def sampling_rate(k: int, duration: float | None) -> float:
    """The average rate at which ``k`` frames cover ``duration`` seconds: ``k / duration``.

    Without a usable duration (None, 0, negative) the frames are taken as one second apart (rate 1).

    >>> sampling_rate(16, 3200.0)
    0.005
    >>> sampling_rate(8, None)
    1.0
    """
    if k < 1:
        raise InputError(f"need at least one frame for a sampling rate, got k={k}")
    span = float(duration) if duration is not None and duration > 0 else float(k)
    return k / span


def timestamp_text(t: float) -> str:
    """The text put before a frame in ``frames_as="images"``: ``<12.5 seconds>``."""
    return f"<{float(t):.1f} seconds>"


def frame_content(
    frames: Sequence[Any],
    timestamps: Sequence[float],
    *,
    frames_as: str = "video",
    duration: float | None = None,
    **vision_kwargs: Any,
) -> list[dict[str, Any]]:
    """Chat content items carrying ``frames`` (in temporal order) and their times.

    Args:
        frames: the frames (PIL images, or anything the consumer reads), one per timestamp.
        timestamps: seconds of each frame.
        frames_as: ``"video"`` (one item, ``sample_fps = k / duration``) or ``"images"`` (timestamp text before
            each image item); see the module docstring for which to choose.
        duration: length of the video in seconds (for the video rate).
        **vision_kwargs: added to each image / video item (e.g. qwen_vl_utils' ``max_pixels``, ``min_pixels``).

    Raises:
        InputError: an unknown ``frames_as``, no frames, or frames and timestamps of different lengths.
    """
    if frames_as not in FRAMES_AS:
        raise InputError(f"frames_as must be one of {FRAMES_AS}, got {frames_as!r}")
    if len(frames) != len(timestamps):
        raise InputError(f"{len(frames)} frames but {len(timestamps)} timestamps")
    if not frames:
        raise InputError("no frames to hand over")
    if frames_as == "video":
        return [{"type": "video", "video": list(frames), "sample_fps": sampling_rate(len(frames), duration),
                 **vision_kwargs}]
    items: list[dict[str, Any]] = []
    for frame, t in zip(frames, timestamps):
        items.append({"type": "text", "text": timestamp_text(t)})
        items.append({"type": "image", "image": frame, **vision_kwargs})
    return items


__all__ = ["FRAMES_AS", "frame_content", "sampling_rate", "timestamp_text"]
