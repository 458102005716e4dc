"""Opening a file with PyAV's bundled FFmpeg: a clear :class:`~clamr_frames.errors.VideoError` for what is not a
video before FFmpeg looks at it, and for every FFmpeg failure after; a packet loop that ends where a damaged
file stops demuxing."""

from __future__ import annotations

import logging
from pathlib import Path

from clamr_frames.errors import VideoError

log = logging.getLogger(__name__)


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a video before FFmpeg even looks at it (None when it might be one)."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory, not a video file"
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if size == 0:
        return "empty file (0 bytes)"
    return None


def open_container(path: str):
    """``av.open`` with every FFmpeg failure turned into a :class:`VideoError` naming the file."""
    import av

    try:
        return av.open(path, mode="r")
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        raise VideoError(path, f"FFmpeg cannot open it ({ffmpeg_reason(e)}); is it a complete video file?") from None
    except (OSError, ValueError) as e:
        raise VideoError(path, f"cannot be opened ({e})") from None


def ffmpeg_reason(e: Exception) -> str:
    return str(getattr(e, "strerror", None) or e).strip() or type(e).__name__


def demux_until_error(container, stream, path: str):
    """``container.demux(stream)``, ending (with a debug log line) where FFmpeg fails to demux a damaged file."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as e:  # type: ignore[attr-defined]
            log.debug("%s: demuxing failed (%s)", path, ffmpeg_reason(e))
            return
        yield packet
